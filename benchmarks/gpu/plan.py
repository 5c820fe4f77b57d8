"""The GPU plan: what a short lent GPU slot measures, in stages that each fit one 10-minute command.

    bash benchmarks/gpu/run.sh --stage=profile --out=$OUT --keep_from=benchmarks/results/gpu   # on the GPU machine
    bash benchmarks/gpu/run.sh --dry_run --stage=all --out=/tmp/gpu_dry   # here: the whole plan at toy sizes on CPU

Stages (``--stage``; ``all`` runs them in order):
  profile           where one iteration goes (benchmarks/iteration_profile.py): Diff-SR-SAC's and SAC's ``paper``
                    presets on brax/halfcheetah (mjx) at 1 and 64 seeds, the env's own (native) vs the light physics
                    (and auto's faithful i4ls4 at one seed),
                    XLA command buffers off vs over loops too, the HLO census (kernels per learning iteration, per
                    evaluation, host waits of the chunk), and a jax.profiler summary of the top kernels; the variants
                    (PROFILE_RUNS) run most wanted first, each within its own budget, while they fit in
                    --profile_budget_s -> profile.{json,md}, profile_<label>.{json,md}
  update_cost       ms per update of every ``paper`` preset (halfcheetah sizes) at full float32 matmul precision,
                    Diff-SR-SAC's and SAC's also at ``default`` (TF32 on a GPU), next to this project's CPU numbers
                    (CPU_REFERENCE) as a ratio -> update_cost.{json,md}
  seeds_diffsr_sac  env-steps/s of one compiled program as vmapped seeds grow 1 -> 64, compile time apart
  seeds_sac         (Diff-SR-SAC paper preset and SAC paper preset, brax/halfcheetah mjx) -> seeds_<agent>.{json,md}
  memory            peak device memory of 16 seeds x a 1M-transition replay on halfcheetah, run state donated to
                    the chunk or not -> memory.{json,md}
  pixels            what pixel observations cost on the device (benchmarks/pixels_speed.py): env decisions/s with
                    84 x 84 frames (envs.pixels, mjx.ray) at batch 1, 8 and 64 beside the same env without them
                    (playground/CartpoleSwingup, brax/halfcheetah), one update of DrQ-v2 and of Diff-SR-DrQ-v2 at
                    their fast and paper sizes, and a 3x3 conv's forward vs its kernel gradient (many times slower
                    on XLA:CPU)
                    -> pixels.{json,md}
  table1            the paper's Table 1 (issue 41): Diff-SR-SAC vs SAC at their ``paper`` presets, 8 seeds x 200k
                    frames on MBBL's tasks in the table's order (halfcheetah, hopper_et, walker_et, ant_et; mjx,
                    ``auto`` physics: per env the fastest setting measured faithful, native where none was), through
                    experiments.suite; each call runs the first pair not finished in table1_status.json, both agents
                    at once, until SIGTERM (checkpointed) before the command's limit, continued by the next call while
                    the machine is warm (runs live in --runs_root there; a fresh machine starts the pair over) ->
                    table1_RESULTS.md, table1_status.json, table1_<task>_<agent>.jsonl
  manipulation      the image variant at the paper's sizes: DrQ-v2 and Diff-SR-DrQ-v2 ``paper`` presets, 4 seeds, on
                    the manipulation suite's brax/pusher from 84 x 84 frames of its corner camera (standing in for
                    Meta-World, which MJX cannot step), 200k frames, success rates logged (eval/success); continued
                    call after call as the table1 stage is -> manipulation_RESULTS.md, manipulation_status.json,
                    manipulation_<task>_<agent>.jsonl

The device's rules, kept by the plan: it writes only under --out (compile caches and profiler traces go to the
machine's temporary folder), and the device brings back at most 8 files, two folders deep, so when a call leaves more
(``pack``) every file goes into --out/plan.tar.gz and only the archive and the stages' summaries stay beside it.
At home: copy the returned files to benchmarks/results/gpu/, ``tar -xzf plan.tar.gz -C benchmarks/results/gpu``, and
record the numbers in docs/performance.md. ``--keep_from=benchmarks/results/gpu`` (it travels with the working tree)
carries what earlier calls measured into --out, so a stage or profile variant measured there is kept and the plan goes
on where an earlier slot stopped.

Measured on the H100 (2026-11-24, jax 0.11.2): update_cost ~6 min (the six presets at ``highest`` 5 min 15 s,
``default`` for two 36 s); each seed count of a seeds stage compiles in 65-95 s, then 2-8 s per 200-iteration
chunk; memory needs more than 140 s; a Diff-SR-SAC paper iteration (env step + update) takes ~11 ms at 1 seed and
~30 ms at 16 seeds, the update 1.7 ms of it: the physics step (MuJoCo's default solver, a while loop) and host
waits took the rest, hence the light physics and a learning chunk with no branch (issue "latency floor"), which
the profile stage measures first.
"""

from __future__ import annotations

import glob
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGES = ("profile", "update_cost", "seeds_diffsr_sac", "seeds_sac", "memory", "pixels", "table1", "manipulation")
# the profile stage's variants, most wanted first: (label, agent, physics, command buffers, seeds, budget in seconds).
# The one-seed native-vs-light pair first (what the latency floor rests on), then the faithful i4ls4 (auto's choice on
# halfcheetah: 4 solver iterations in a while loop, so host waits on a GPU), then 64 seeds, then the flags. Each budget
# covers its compiles (about nine programs, --compile_workers at a time) and timings; a variant starts only when its
# budget fits in what is left of the stage's, and a variant measured in an earlier call (--keep_from) is kept.
PROFILE_RUNS = (
    ("diffsr_sac_light_1", "diffsr_sac", "light", "default", 1, 170),
    ("diffsr_sac_native_1", "diffsr_sac", "native", "default", 1, 170),
    ("diffsr_sac_i4ls4_1", "diffsr_sac", "i4ls4", "default", 1, 170),
    ("diffsr_sac_light_64", "diffsr_sac", "light", "default", 64, 200),
    ("sac_light_1", "sac", "light", "default", 1, 140),
    ("diffsr_sac_native_64", "diffsr_sac", "native", "default", 64, 200),
    ("diffsr_sac_light_loops_1", "diffsr_sac", "light", "loops", 1, 170),
    ("sac_native_1", "sac", "native", "default", 1, 140),
    ("diffsr_sac_light_off_1", "diffsr_sac", "light", "off", 1, 170),
    ("sac_light_64", "sac", "light", "default", 64, 170),
    ("sac_light_loops_1", "sac", "light", "loops", 1, 140),
)
# the dry run's variants (toy sizes on CPU, 64 seeds read as 2): both agents, two seed counts, both flags
DRY_PROFILE_RUNS = ("diffsr_sac_light_1", "diffsr_sac_light_64", "sac_light_loops_1")
# the device returns at most 8 files under $OUT, two folders deep: past that, the plan packs --out into one archive
MAX_FILES, MAX_DEPTH, ARCHIVE = 8, 2, "plan.tar.gz"
PAPER_PRESETS = ("diffsr_sac", "diffsr_td3", "sac", "td3", "polygrad", "diffusion_planner")
# this project's CPU numbers (2-core dev machine), the first file holding a preset wins: quiet-machine runs first,
# then the all-presets run taken under load (polygrad and the planner are only there)
CPU_REFERENCE = ("benchmarks/results/update_cost_halfcheetah_dims.json", "benchmarks/results/update_cost.json",
                 "benchmarks/results/update_cost_all_presets.json")

FLAGS = flags.FLAGS


def _python(module: str, *args: str, timeout: float | None = None, budget: float | None = None,
            env: dict | None = None) -> int:
    """Run ``python -m module args`` from the repo root, its output streamed; SIGTERM after ``budget`` seconds (the
    launchers checkpoint and exit on it), SIGKILL after ``timeout``; ``env``: extra environment variables. Returns the
    exit code."""
    return _python_all([(module, args)], timeout=timeout, budget=budget, env=env)[0]


def _python_all(commands: list[tuple[str, tuple | list]], timeout: float | None = None, budget: float | None = None,
                env: dict | None = None) -> list[int]:
    """Run every ``(module, args)`` of ``commands`` as ``python -m module args`` at the same time, as ``_python`` runs
    one: one deadline ``budget`` seconds from now for all (SIGTERM to each still running), SIGKILL ``timeout``
    seconds after it. Returns the exit codes in order."""
    full_env = dict(os.environ, **(env or {}))
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [full_env.get("PYTHONPATH"), ROOT]))
    procs = []
    for module, args in commands:
        cmd = [sys.executable, "-m", module, *args]
        print("$ " + " ".join(cmd), flush=True)
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=full_env))
    deadline = None if budget is None else time.time() + budget
    codes: list[int | None] = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=None if deadline is None else max(0.0, deadline - time.time())))
        except subprocess.TimeoutExpired:
            codes.append(None)
    if any(c is None for c in codes):
        print(f"budget of {budget:.0f}s spent: SIGTERM (checkpoint, then exit)", flush=True)
        for p, c in zip(procs, codes):
            if c is None:
                p.send_signal(signal.SIGTERM)
        for i, p in enumerate(procs):
            if codes[i] is None:
                try:
                    codes[i] = p.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    p.kill()
                    codes[i] = p.wait()
    return codes


def _write(out: str, name: str, payload: dict, md: str) -> None:
    from benchmarks.common import write_whole

    write_whole(os.path.join(out, f"{name}.json"), json.dumps(payload, indent=2))
    write_whole(os.path.join(out, f"{name}.md"), md + "\n")


def carry_in(keep_from: str, out: str) -> list[str]:
    """Copy what an earlier call measured (the top-level files of ``keep_from``, e.g. benchmarks/results/gpu carried
    with the working tree) into ``out``, so its stages and profile variants are kept (``_measured``) and the summaries
    gather old and new rows. Returns the names copied."""
    copied = []
    for path in sorted(glob.glob(os.path.join(keep_from, "*"))):
        name = os.path.basename(path)
        if os.path.isfile(path) and name != ARCHIVE and not os.path.exists(os.path.join(out, name)):
            shutil.copy(path, os.path.join(out, name))
            copied.append(name)
    return copied


def _files(out: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)


def pack(out: str, summaries: list[str]) -> list[str]:
    """Leave at most MAX_FILES files in ``out``, none deeper than MAX_DEPTH folders (what the device brings back):
    when there are more, every file goes into ``out/plan.tar.gz`` (an earlier archive's contents included) and only
    the archive and the first MAX_FILES - 1 of ``summaries`` (stage markdown, by name) stay beside it. Unpack at home
    with ``tar -xzf plan.tar.gz -C benchmarks/results/gpu``. Returns the files left in ``out``."""
    files = _files(out)
    if len(files) <= MAX_FILES and all(f.count(os.sep) < MAX_DEPTH for f in files):
        return files
    archive = os.path.join(out, ARCHIVE)
    members = {}
    if os.path.exists(archive):  # an archive carried in: keep its files, newer ones win
        with tarfile.open(archive) as tar:
            for m in tar.getmembers():
                if m.isfile():
                    members[m.name] = tar.extractfile(m).read()
    for f in files:
        if f != ARCHIVE:
            with open(os.path.join(out, f), "rb") as fh:
                members[f] = fh.read()
    tmp = archive + ".tmp"
    with tarfile.open(tmp, "w:gz") as tar:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(time.time())
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, archive)
    keep = set([s for s in summaries if s in files][:MAX_FILES - 1])
    for f in files:
        if f != ARCHIVE and f not in keep:
            os.remove(os.path.join(out, f))
    for d, _, _ in sorted(os.walk(out), key=lambda x: -len(x[0])):  # empty folders
        if d != out and not os.listdir(d):
            os.rmdir(d)
    return _files(out)


def _measured(out: str, name: str) -> bool:
    """A stage whose JSON with results is already in --out (carried from an earlier call or session) is not measured
    again: delete the file to measure it anew. The plan then resumes across short device slots."""
    path = os.path.join(out, f"{name}.json")
    if not os.path.exists(path):
        return False
    with open(path) as f:
        data = json.load(f)  # a stage that failed leaves an empty list: measure again (iteration_profile: "rows")
        done = bool(data.get("results") or data.get("rows"))
    if done:
        print(f"{name}.json is in {out}: kept", flush=True)
    return done


def cpu_reference() -> dict:
    """(preset, precision) -> CPU ms per update, from the first reference file that has it."""
    ref = {}
    for path in CPU_REFERENCE:
        full = os.path.join(ROOT, path)
        if not os.path.exists(full):
            continue
        with open(full) as f:
            data = json.load(f)
        for r in data["results"]:
            ref.setdefault(r["preset"], (r["ms_per_update"], path, data.get("machine", {}).get("device", "cpu")))
    return ref


def stage_profile(out: str, dry: bool, budget_s: float, only: list[str]) -> None:
    """The PROFILE_RUNS in order, each a subprocess (command buffers are an XLA flag, read when JAX starts) sharing
    one compilation cache outside --out, while its budget fits in the stage's; a variant past its own budget is stopped
    by SIGTERM (iteration_profile keeps every row it finished); then profile.{json,md} gathers what was measured."""
    from diffsr_jax.training.devices import xla_flags_with_command_buffers

    t_end, cache = time.time() + budget_s, os.path.join(tempfile.gettempdir(), "diffsr_profile_cache")
    if dry:  # toy sizes on CPU: gymnax has no MuJoCo solver, so both physics labels run its one physics
        common = ["--preset=fast", "--env=gymnax/Pendulum-v1", "--reps=3", "--repeats=2", "--warmup=8", "--census_iters=4"]
    else:
        common = ["--preset=paper", "--env=brax/halfcheetah", "--reps=50", "--census_iters=8", "--compile_workers=8"]
    wanted = only or (DRY_PROFILE_RUNS if dry else [r[0] for r in PROFILE_RUNS])
    skipped, runs = [], [r for r in PROFILE_RUNS if r[0] in wanted]
    for i, (label, agent, physics, buffers, seeds, variant_s) in enumerate(runs):
        if _measured(out, f"profile_{label}"):
            continue
        left = t_end - time.time()
        if left < (1 if dry else variant_s):
            skipped.append(label)
            continue
        seeds = min(seeds, 2) if dry else seeds
        sets = [] if dry else [f"--set=env.physics={physics}"]
        trace = [f"--profile_dir={os.path.join(tempfile.gettempdir(), 'diffsr_profile_trace')}"] if i == 0 else []
        flags_env = {"XLA_FLAGS": xla_flags_with_command_buffers(os.environ.get("XLA_FLAGS", ""), buffers)}
        _python("benchmarks.iteration_profile", f"--agent={agent}", *common, f"--num_seeds={seeds}", *sets, *trace,
                f"--compile_cache={cache}", f"--out={out}", f"--name=profile_{label}",
                budget=min(left, variant_s), timeout=30, env=flags_env)
    rows, results = [], []
    for label, agent, physics, buffers, _, _ in PROFILE_RUNS:
        path = os.path.join(out, f"profile_{label}.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            data = json.load(f)
        for r in data.get("rows", []):  # iteration_profile's rows: one per seed count
            r = {**r, "label": label, "physics": physics, "command_buffers": buffers}
            results.append(r)
            rows.append(f"| {label} | {r.get('num_seeds')} | {_ms(r, None)} | {_ms(r, 'env_step')} | "
                        f"{_ms(r, 'learn')} | {r.get('env_frames_per_s', float('nan')):.0f} | "
                        f"{r.get('iteration_census', {}).get('kernels_per_iteration', float('nan')):.0f} | "
                        f"{r.get('evaluation_census', {}).get('kernels', float('nan')):.0f} | "
                        f"{len(r.get('census', {}).get('conditionals', []))} | "
                        f"{len(r.get('census', {}).get('unbounded_loops', []))} |")
    missing = [r[0] for r in PROFILE_RUNS if r[0] in wanted and not any(x["label"] == r[0] for x in results)]
    md = "\n".join(["# Where one iteration goes (brax/halfcheetah mjx, paper presets)" if not dry else
                    "# Where one iteration goes (dry run)", "",
                    "| variant | seeds | ms/iteration | env step ms | update ms | env frames/s | kernels/iteration | "
                    "kernels/evaluation | conditionals | unbounded loops |", "|---|---|---|---|---|---|---|---|---|---|",
                    *rows, "",
                    f"Not measured yet: {', '.join(missing)} (the next call measures them)" if missing
                    else "Every variant measured."])
    _write(out, "profile", {"results": results, "not_measured": missing, "skipped_this_call": skipped}, md)
    print(md, flush=True)


def _ms(row: dict, part: str | None) -> str:
    """ms per iteration of a component of an iteration_profile row (None: the whole iteration)."""
    v = (row.get("full_iteration") if part is None else row.get("components", {}).get(part)) or {}
    return "-" if v.get("ms") is None else f"{v['ms']:.2f}"


def stage_update_cost(out: str, dry: bool) -> None:
    presets = ["sac:fast", "diffsr_sac:fast"] if dry else [f"{a}:paper" for a in PAPER_PRESETS]
    toy = ["--num_updates=2", "--repeats=1"] if dry else ["--repeats=3"]
    runs = {"highest": presets, "default": [p for p in presets if p.split(":")[0] in ("sac", "diffsr_sac")]}
    for precision, names in runs.items():  # a precision already measured in --out (an earlier call) is kept
        if _measured(out, f"update_cost_{precision}"):
            continue
        _python("benchmarks.update_cost", f"--presets={','.join(names)}", f"--matmul_precision={precision}", *toy,
                f"--out={out}", f"--name=update_cost_{precision}")
    ref, rows, results = cpu_reference(), [], []
    for name in ("update_cost_highest", "update_cost_default"):
        with open(os.path.join(out, f"{name}.json")) as f:
            data = json.load(f)
        for r in data["results"]:
            cpu = ref.get(r["preset"])
            results.append({**r, "device": data["machine"].get("device"), "cpu_ms_per_update": cpu and cpu[0],
                            "cpu_source": cpu and cpu[1], "cpu_over_device": cpu and cpu[0] / r["ms_per_update"]})
            rows.append(f"| {r['preset']} | {r['matmul_precision']} | {r['ms_per_update']:.2f} | {r['gflop_per_update']:.2f} | "
                        f"{r['gflops_achieved']:.0f} | " + (f"{cpu[0]:.1f} | {cpu[0] / r['ms_per_update']:.1f}x |" if cpu
                                                            else "- | - |"))
    device = results[0]["device"] if results else "?"
    md = "\n".join([f"# ms per update, {device} vs this project's 2-core CPU", "",
                    "| preset | matmul precision | ms/update | GFLOP/update | GFLOP/s | CPU ms/update | CPU / device |",
                    "|---|---|---|---|---|---|---|", *rows, "",
                    "CPU numbers: " + ", ".join(sorted({r["cpu_source"] for r in results if r["cpu_source"]}))])
    _write(out, "update_cost", {"results": results}, md)
    print(md, flush=True)


def stage_seeds(out: str, dry: bool, agent: str) -> None:
    if dry:
        args = ["--preset=fast", "--env=gymnax/Pendulum-v1", "--num_seeds=1,2", "--chunk=10", "--rounds=1"]
    else:
        args = ["--preset=paper", "--env=brax/halfcheetah", "--num_seeds=1,4,16,64", "--chunk=200", "--rounds=2"]
    _python("benchmarks.seeds", f"--agent={agent}", *args, f"--out={out}", f"--name=seeds_{agent}")


def stage_memory(out: str, dry: bool) -> None:
    if dry:
        args = ["--agent=sac", "--env=gymnax/Pendulum-v1", "--backend=", "--num_seeds=2", "--buffer_size=2000", "--chunk=5",
                "--chunks=1"]
    else:
        args = ["--agent=diffsr_sac", "--preset=paper", "--env=brax/halfcheetah", "--backend=mjx", "--num_seeds=16",
                "--buffer_size=1000000"]
    _python("benchmarks.memory", *args, f"--out={out}", "--name=memory")


def stage_pixels(out: str, dry: bool) -> None:
    if dry:
        args = ["--envs=playground/CartpoleBalance", "--sizes=16", "--batch_sizes=1", "--update_agents=drqv2",
                "--update_presets=fast", "--conv=false", "--repeats=1"]
    else:
        args = ["--envs=playground/CartpoleSwingup,brax/halfcheetah", "--sizes=84", "--batch_sizes=1,8,64",
                "--update_agents=drqv2,diffsr_drqv2", "--update_presets=fast,paper", "--repeats=5"]
    _python("benchmarks.pixels_speed", *args, f"--out={out}", "--name=pixels", budget=420, timeout=30)


# The paper's Table 1 on the device (issue 41): Diff-SR-SAC and SAC at their ``paper`` presets on MBBL's tasks in the
# table's order, 8 seeds, 200k frames, 25k warm-up, physics=auto (per env the fastest setting measured faithful to
# native, envs.families; native where none was, e.g. Ant-ET). The CPU table (study preset, native) stays the reference.
TABLE1_TASKS = ("halfcheetah", "hopper_et", "walker_et", "ant_et")
TABLE1_AGENTS = ("diffsr_sac", "sac")
TABLE1_RUN = ["--suite=mbbl", "--preset=paper", "--num_seeds=8", "--total_steps=200000",
              "--set=env.backend=mjx,env.physics=auto"]
# its dry run at toy sizes: the cpu suite's pendulum stands in for every task
TABLE1_DRY = (("pendulum",), ["--suite=cpu", "--preset=fast", "--num_seeds=2", "--total_steps=600", "--eval_every=300",
                              "--set=run.warmup_steps=300,run.eval_episodes=2"])

# the other stage that runs a suite across device calls: stage -> (its runs, their dry run at toy sizes, its report's
# title)
SUITE_STAGES = {
    # the image variant at the paper's sizes (84 px, F = 2048) on the manipulation stand-in, success logged
    "manipulation": (["--suite=manipulation", "--agents=drqv2,diffsr_drqv2", "--preset=paper", "--num_seeds=4",
                      "--total_steps=200000", "--eval_every=10000", "--set=env.pixels=84"],
                     ["--suite=manipulation", "--agents=diffsr_drqv2", "--preset=fast", "--num_seeds=1",
                      "--total_steps=40", "--eval_every=20", "--set=run.warmup_steps=20,run.eval_episodes=1,"
                      "env.pixels=16,env.episode_length=10,replay.batch_size=8,vae.channels=4,vae.layers=2,"
                      "vae.latent_dim=8,representation.feature_dim=8,psi_critic.rff_dim=16,psi_critic.rff_hidden=16"],
                     "Diff-SR-DrQ-v2 vs DrQ-v2 from pixels on the manipulation stand-in (brax/pusher), on the GPU"),
}


def _read_status(out: str, stage: str) -> dict:
    """``<stage>_status.json`` in ``out`` (written by an earlier call, or carried in by --keep_from), else no runs."""
    path = os.path.join(out, f"{stage}_status.json")
    if not os.path.exists(path):
        return {"runs": {}}
    with open(path) as f:
        return json.load(f)


def _suite_status(stage: str, out: str, suite_dir: str) -> dict:
    """``<stage>_status.json`` in ``out`` updated from the runs under ``suite_dir``: each run, keyed ``task/agent``, with
    its status and frames (entries of runs not on this machine, carried from an earlier session, are kept), its metrics
    copied to ``<stage>_<task>_<agent>.jsonl``."""
    status = _read_status(out, stage)
    for info_path in sorted(glob.glob(os.path.join(suite_dir, "*", "*", "run.json"))):
        with open(info_path) as f:
            info = json.load(f)
        logdir = os.path.dirname(info_path)
        with open(os.path.join(logdir, "metrics.jsonl")) as f:
            rows = [json.loads(x) for x in f]
        status["runs"][f"{info['task']}/{info['agent']}"] = {
            "status": info["status"], "frames": max((r["frames"] for r in rows), default=0),
            "total_steps": info["total_steps"], "wall_s": info.get("wall_s")}
        shutil.copy(os.path.join(logdir, "metrics.jsonl"),
                    os.path.join(out, f"{stage}_{info['task']}_{info['agent']}.jsonl"))
    return status


def _report(stage: str, out: str, suite_dir: str, status: dict, title: str) -> None:
    with open(os.path.join(out, f"{stage}_status.json"), "w") as f:
        json.dump(status, f, indent=2)
    if os.path.isdir(suite_dir) and glob.glob(os.path.join(suite_dir, "*", "*", "run.json")):
        _python("experiments.report", suite_dir, f"--out={os.path.join(out, f'{stage}_RESULTS.md')}",
                f"--plots_dir={stage}_plots", f"--title={title}",
                f"--note=partial until every run says finished in {stage}_status.json")
    print(json.dumps(status, indent=2), flush=True)


def table1_task(status: dict, tasks: tuple[str, ...]) -> str | None:
    """The first of ``tasks`` whose pair is not finished in ``status`` (``table1_status.json``), None when all are."""
    runs = status.get("runs", {})
    return next((t for t in tasks if any(runs.get(f"{t}/{a}", {}).get("status") != "finished" for a in TABLE1_AGENTS)),
                None)


def stage_table1(out: str, dry: bool, runs_root: str, budget_s: int) -> None:
    """Run (or continue) the next unfinished Table 1 pair for ``budget_s`` seconds: both agents at once, one process
    each (at 8 seeds neither fills the device, so the two overlap), each allowed 45% of the device's memory. The pair
    advances together, so a slot that ends mid-run still returns both curves at the same frames. Runs live in
    ``runs_root`` while the machine stays warm; a fresh machine starts the pair over. Writes ``table1_status.json``,
    ``table1_<task>_<agent>.jsonl`` and ``table1_RESULTS.md``."""
    tasks, run = TABLE1_DRY if dry else (TABLE1_TASKS, TABLE1_RUN)
    task = table1_task(_read_status(out, "table1"), tasks)
    suite_dir = os.path.join(runs_root, run[0].split("=")[1])
    if task is None:
        print("table1: every pair finished (table1_status.json): nothing to run", flush=True)
        return
    t0 = time.time()
    codes = _python_all([("experiments.suite", [*run, f"--tasks={task}", f"--agents={agent}", f"--root={runs_root}"])
                         for agent in TABLE1_AGENTS], budget=budget_s, timeout=90,
                        env={"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.45"})
    status = _suite_status("table1", out, suite_dir)
    status.update(task=task, suite_exit=dict(zip(TABLE1_AGENTS, codes)), wall_s=round(time.time() - t0, 1))
    _report("table1", out, suite_dir, status, "The paper's Table 1 on the GPU: Diff-SR-SAC vs SAC, paper presets")


def stage_suite(stage: str, out: str, dry: bool, runs_root: str, budget_s: int) -> None:
    """Run (or continue) ``SUITE_STAGES[stage]``'s suite for ``budget_s`` seconds, then write ``<stage>_status.json``
    (each run's status and frames), ``<stage>_<task>_<agent>.jsonl`` (its metrics) and ``<stage>_RESULTS.md``."""
    full, toy, title = SUITE_STAGES[stage]
    suite = toy if dry else full
    t0 = time.time()
    code = _python("experiments.suite", *suite, f"--root={runs_root}", budget=budget_s, timeout=90)
    suite_dir = os.path.join(runs_root, suite[0].split("=")[1])
    status = _suite_status(stage, out, suite_dir)
    status.update(suite_exit=code, wall_s=round(time.time() - t0, 1))
    _report(stage, out, suite_dir, status, title)


STAGE_SUMMARIES = {"profile": ["profile.md"], "update_cost": ["update_cost.md"], "seeds_diffsr_sac": ["seeds_diffsr_sac.md"],
                   "seeds_sac": ["seeds_sac.md"], "memory": ["memory.md"], "pixels": ["pixels.md"], "table1": ["table1_RESULTS.md", "table1_status.json"],
                   "manipulation": ["manipulation_RESULTS.md", "manipulation_status.json"]}


def main(_):
    out = os.path.abspath(FLAGS.out)
    os.makedirs(out, exist_ok=True)
    unknown = [v for v in FLAGS.profile_variants if v not in [r[0] for r in PROFILE_RUNS]]
    if unknown:
        sys.exit(f"error: --profile_variants: no variant {', '.join(unknown)}; the variants are "
                 f"{', '.join(r[0] for r in PROFILE_RUNS)}")
    if FLAGS.keep_from:
        if not os.path.isdir(FLAGS.keep_from):
            sys.exit(f"error: --keep_from={FLAGS.keep_from} is not a directory")
        kept = carry_in(FLAGS.keep_from, out)
        print(f"carried from {FLAGS.keep_from}: {len(kept)} files", flush=True)
    stages = STAGES if FLAGS.stage == "all" else (FLAGS.stage,)
    for stage in stages:
        print(f"== stage {stage}{' (dry run)' if FLAGS.dry_run else ''}", flush=True)
        t0 = time.time()
        if stage == "profile":
            stage_profile(out, FLAGS.dry_run, FLAGS.profile_budget_s, list(FLAGS.profile_variants))
        elif stage == "update_cost":
            stage_update_cost(out, FLAGS.dry_run)
        elif stage.startswith("seeds_"):
            if not _measured(out, stage):
                stage_seeds(out, FLAGS.dry_run, stage[len("seeds_"):])
        elif stage == "memory":
            if not _measured(out, "memory"):
                stage_memory(out, FLAGS.dry_run)
        elif stage == "pixels":
            if not _measured(out, "pixels"):
                stage_pixels(out, FLAGS.dry_run)
        elif stage == "table1":
            stage_table1(out, FLAGS.dry_run, FLAGS.runs_root, FLAGS.budget_s)
        else:
            stage_suite(stage, out, FLAGS.dry_run, FLAGS.runs_root, FLAGS.budget_s)
        print(f"== stage {stage} done in {time.time() - t0:.0f}s", flush=True)
    if FLAGS.pack:
        left = pack(out, [f for st in stages for f in STAGE_SUMMARIES[st]])
        print(f"{out} holds {len(left)} files: {', '.join(left)}", flush=True)


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_enum("stage", "all", ("all", *STAGES), "which stage to run")
    flags.DEFINE_bool("dry_run", False, "toy sizes on CPU: the whole plan in a few minutes (a CI test)")
    flags.DEFINE_string("out", "benchmarks/results/gpu", "where each stage writes its JSON + markdown")
    flags.DEFINE_string("runs_root", "/tmp/diffsr_gpu_runs", "table1 and manipulation stages: where the runs live (kept between calls on a "
                        "warm machine)")
    flags.DEFINE_integer("budget_s", 500, "table1 and manipulation stages: seconds before the suite is stopped (SIGTERM: "
                         "checkpoint, exit)")
    flags.DEFINE_integer("profile_budget_s", 480, "profile stage: seconds for all its variants (a variant starts only "
                         "when its own budget in PROFILE_RUNS fits in what is left, and is stopped at it)")
    flags.DEFINE_list("profile_variants", [], "profile stage: only these PROFILE_RUNS labels (default: all; the dry "
                      "run: DRY_PROFILE_RUNS)")
    flags.DEFINE_string("keep_from", None, "a folder of results from earlier calls (e.g. benchmarks/results/gpu, which "
                        "travels with the working tree): copied into --out first, its measured stages kept")
    flags.DEFINE_bool("pack", True, "leave at most 8 files in --out, two folders deep (the device's rule): past that, "
                      "everything goes into --out/plan.tar.gz beside the stages' summaries")


if __name__ == "__main__":
    define_flags()
    app.run(main)
