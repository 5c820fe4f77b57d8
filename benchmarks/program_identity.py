"""Does a run's config compile to the same program at two code revisions? The check that lets a later revision
continue a comparison begun at an earlier one (an arm run at a newer revision than its pair) without a learning run.

    python -m benchmarks.program_identity --logdir=results/runs/suites_table1/mbbl/hopper_et/diffsr_sac \\
        --checkouts=/work/rev-321b277,. --name=program_identity_hopper_et

For each checkout (a git worktree of the revision, with this repository's environment), a child process run there
rebuilds the run from ``<logdir>/config.json`` with that checkout's ``diffsr_jax`` (``stored_run``, the members, the
device mesh, the matmul precision: what ``training.host_loop`` does) and lowers, without compiling, every program the
run calls: the members' init and one chunk of each shape its schedule uses (iterations, warm-up iterations among
them, whether the agent pre-trains there), jitted as the host loop jits them. Each program's StableHLO text, without
debug locations, is hashed (sha256). The members' traced hyperparameters and seeds are inputs, not part of the
program, so their values are hashed too, and so is the run's first state, computed by init (cheap to run, unlike a
chunk): two texts of init may differ and still give the same state bit for bit.

Verdict: the same run when the inputs, init's state and every chunk program hash alike under one jax/jaxlib: XLA is
handed the same programs from the same state, so the run at either revision computes the same thing (host I/O aside:
logging, checkpoints). A differing hash says only that something
changed (an op, an order, a constant), not that results move; ``benchmarks.curves_equal`` then decides.
Exit 1 when any hash differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile

from absl import flags

FLAGS = flags.FLAGS


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def record(logdir: str) -> dict:
    """The run in ``logdir`` rebuilt with the importing checkout's ``diffsr_jax``: {"programs": {name: sha256}, "jax",
    "members", "devices"}. ``programs`` holds "inputs" (the members' seeds and traced hyperparameters), "init" (its
    StableHLO), "init's state" (the state it computes) and one entry per chunk shape (its StableHLO). Imports nothing
    of this repository but ``diffsr_jax``, so it runs under any revision that has these functions."""
    import functools

    from diffsr_jax.training.plan import stored_run
    from diffsr_jax.training.members import make_members, parse_sweeps
    from diffsr_jax.training.devices import member_mesh, over_members, place_members

    config, specs = stored_run(logdir)
    sweeps = parse_sweeps(specs)
    place_members(config, int(config.run.num_seeds) * len(sweeps))  # before JAX computes anything

    import jax
    import numpy as np

    from diffsr_jax.config.budget import eval_schedule, iterations
    from diffsr_jax.program import Trainer

    trainer = Trainer(config)
    members, keys, hp = make_members(config, trainer.default_hparams(), sweeps)
    mesh = member_mesh(len(members), int(config.run.devices))
    leaves = jax.tree_util.tree_flatten_with_path(hp)[0]
    inputs = {"members": members, "keys": np.asarray(keys).tolist(),
              "hp": {jax.tree_util.keystr(path): np.asarray(v).tolist() for path, v in leaves}}
    programs = {"inputs": _sha(json.dumps(inputs, sort_keys=True))}
    with jax.default_matmul_precision(config.run.matmul_precision):
        init = over_members(trainer.init, mesh, in_axes=(0, 0))
        programs["init"] = _sha(init.lower(keys, hp).as_text())
        state = jax.device_get(init(keys, hp))  # the run's first state, computed: equal even where init's text is not
        digest = hashlib.sha256()
        for leaf in jax.tree_util.tree_leaves(state):
            digest.update(np.ascontiguousarray(leaf).tobytes())
        programs["init's state"] = digest.hexdigest()
        runner = jax.eval_shape(init, keys, hp)
        t, shapes = 0, []
        for n in eval_schedule(trainer.num_iters, iterations(config, config.run.eval_every)):
            shape = (n, trainer.warmup_in(t, n), trainer.pretrain_in(t, n))
            t += n
            if shape not in shapes:
                shapes.append(shape)
        for n, warm, pre in shapes:
            chunk = over_members(functools.partial(trainer.chunk, num_iters=n, warmup_iters=warm, pretrain=pre),
                                 mesh, in_axes=(0, None), donate=(0,))
            name = f"chunk of {n} iterations, {warm} of them warm-up" + (", pre-training" if pre else "")
            programs[name] = _sha(chunk.lower(runner, np.int32(0)).as_text())
    return {"programs": programs, "jax": jax.__version__, "members": len(members),
            "devices": [str(d) for d in mesh.devices.flat] if mesh is not None else [str(jax.devices()[0])]}


def compare(before: dict, after: dict) -> tuple[list[list], bool]:
    """(table rows [name, hash before, hash after, verdict], the runs compute the same). The runs are the same when
    the inputs, init's state and every chunk program are: init's text is listed but not required (its state is)."""
    rows = [[name, before.get(name, "-")[:12], after.get(name, "-")[:12],
             "same" if before.get(name) == after.get(name) else "differs"] for name in {**before, **after}]
    return rows, all(row[3] == "same" for row in rows if row[0] != "init")


def record_at(checkout: str, logdir: str) -> dict:
    """``record(logdir)`` in a child process whose ``diffsr_jax`` is ``checkout``'s."""
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "record.json")
        code = (f"import sys, json; sys.path.insert(0, {here!r}); import program_identity as p; "
                f"json.dump(p.record({os.path.abspath(logdir)!r}), open({out!r}, 'w'))")
        proc = subprocess.run([sys.executable, "-c", code], cwd=checkout, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise SystemExit(f"error: lowering the run at {checkout} failed: {last}")
        with open(out) as f:
            return json.load(f)


def revision(checkout: str) -> str:
    """The checkout's commit, '+changes' when its ``diffsr_jax/`` (what the child imports) differs from it."""
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "diffsr_jax"], cwd=checkout,
                           capture_output=True, text=True).stdout.strip()
    return proc.stdout.strip() + ("+changes" if dirty else "") if proc.returncode == 0 else "unknown"


def main(argv):
    from benchmarks.common import machine, write_results

    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments: {' '.join(argv[1:])}")
    if not os.path.isfile(os.path.join(FLAGS.logdir, "config.json")):
        raise SystemExit(f"error: --logdir={FLAGS.logdir} holds no config.json; pass a run's directory")
    checkouts = FLAGS.checkouts
    if len(checkouts) != 2 or not all(os.path.isdir(os.path.join(c, "diffsr_jax")) for c in checkouts):
        raise SystemExit("error: --checkouts takes two checkouts of this repository (each with diffsr_jax/), "
                         "e.g. --checkouts=/work/rev-321b277,.")
    records = [dict(record_at(c, FLAGS.logdir), revision=revision(c), checkout=c) for c in checkouts]
    rows, same = compare(records[0]["programs"], records[1]["programs"])
    same = same and records[0]["jax"] == records[1]["jax"]
    payload = {"machine": machine(), "command": " ".join(sys.argv), "logdir": FLAGS.logdir, "records": records,
               "same": same}
    header = ["program", records[0]["revision"], records[1]["revision"], "verdict"]
    print(write_results(FLAGS.name, payload, rows, header, FLAGS.out_dir,
                        extra_md=f"\n{'the same programs' if same else 'the programs differ'} "
                                 f"(jax {records[0]['jax']} / {records[1]['jax']}).\n"))
    return 0 if same else 1


def define_flags():
    flags.DEFINE_string("logdir", None, "a run's directory (its config.json is read)")
    flags.DEFINE_list("checkouts", [], "two checkouts of this repository (git worktrees of the revisions compared)")
    flags.DEFINE_string("name", "program_identity", "result name")
    flags.DEFINE_string("out_dir", "benchmarks/results", "where <name>.json / .md go")
    flags.mark_flag_as_required("logdir")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
