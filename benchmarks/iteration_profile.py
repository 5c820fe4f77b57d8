"""Where one training iteration's time goes: each component timed alone, the whole iteration, and an HLO census of
the compiled learning chunk (kernels per iteration, while loops of unknown trip count, conditionals).

    python -m benchmarks.iteration_profile --agent=sac --preset=fast --env=gymnax/Pendulum-v1 --num_seeds=1,2
    python -m benchmarks.iteration_profile --env=brax/hopper --num_seeds=1,64 \
        --variants="native:env.physics=native;light:env.physics=light"        # variants side by side
    python -m benchmarks.iteration_profile --env=brax/hopper --census_only      # only the chunk's census
    python -m benchmarks.iteration_profile --profile_dir=/tmp/trace              # + top events of a profiler trace

Components (each its own jitted ``lax.scan`` of ``--reps`` repetitions of that component alone, seeds a members
axis (``training.devices.members_map``, as a run maps them), on the state of a runner that already ran ``--warmup``
iterations, so the replay holds data):

- ``act``: the exploring policy's action (``agent.act`` on normalised observations);
- ``env_step``: ``jax.vmap(env.step)``: one decision in every env, action repeat included;
- ``auto_reset``: ``trainer.auto_reset`` with episode ends drawn at the rate of one per ``max_decisions``;
- ``replay_insert``: ``replay_add`` of the iteration's transitions (+ ``stats_update`` when ``replay.normalize_obs``);
- ``sample``: one replay batch, ``trainer.sampler(runner).batch``;
- ``learn``: the learner's ``updates_per_step`` updates (``trainer.learn``; it samples its own batches);

and ``iteration``: the trainer's own iteration scan (``trainer.run_iterations``), all learning iterations. Each
repetition feeds the next (the carry holds the state a component changes, or an accumulator of its outputs), so XLA
can neither drop a repetition nor hoist it out of the loop; the replay insert runs in place (its buffer donated, a
fresh copy made outside the timing). Every program of a row is compiled first (``--compile_workers`` at a time, so the
``compile_s`` values overlap), then the warm-up, then the timings with nothing else running. Time: median of
``--repeats`` calls after an untimed first call, in ms per repetition (= per iteration). The parts need not add up to
the iteration: the iteration also splits keys and computes its metrics, and XLA fuses and schedules across component
boundaries (on CPU the iteration scan also copies its carried state: see the census's ``copy`` count).

The iteration's ``t`` (and the learner's) starts at ``trainer.warmup_iters`` whatever the warm-up length, so every
timed iteration is a learning one; ``--warmup`` only decides how much data the replay holds (sampling cost does not
depend on it). ``--profile_dir``: a ``jax.profiler`` trace (perfetto) of ``--profile_iters`` iteration-scan calls per
row, and its top 15 events (by total duration, Python-tracer frames left out) in the JSON and markdown.

Census (``benchmarks.hlo_census``), three programs compiled apart: the chunk a run calls,
``jax.jit(members_map(lambda r, t: trainer.chunk(r, t, n), in_axes=(0, None)))`` with n = ``--census_iters`` (default:
the config's iterations per evaluation): while loops whose trip count XLA did not determine and conditionals, each
named by its op_name and Python source, and its kernels per iteration with the evaluation amortised over n; the
iteration scan alone (``trainer.run_iterations``: kernels per learning iteration, ``iteration_census``); and one
evaluation alone (``trainer.evaluate``: ``evaluation_census``; on Brax a 1000-step evaluation is most of a chunk's
kernels). The JSON also holds the census of every component's program (``kernels_per_rep``).

Rows are written (JSON and markdown, each replaced whole) after every row, so a run stopped by a budget's SIGTERM
keeps every row it finished.

``--variants="label:group.field=v,group.field=v;label2:..."`` (alias ``--configs``) measures several configs in one
run, each the preset + ``--set`` + its own overrides; the markdown has one row per (variant, seeds).
Env frames/s = num_envs * action_repeat * seeds / iteration seconds.
"""

from __future__ import annotations

import gzip
import glob
import json
import math
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from absl import flags

FLAGS = flags.FLAGS

COMPONENTS = ("act", "env_step", "auto_reset", "replay_insert", "sample", "learn")
TOP_EVENTS = 15


# --- configs ----------------------------------------------------------------------------------------------------------
def parse_variants(text: str) -> list[tuple[str, list[str]]]:
    """``"a:x.y=1,x.z=2;b:x.y=3"`` -> [("a", ["x.y=1", "x.z=2"]), ("b", ["x.y=3"])]; ValueError on a bad one."""
    out = []
    for part in [p.strip() for p in text.split(";") if p.strip()]:
        label, sep, sets = part.partition(":")
        if not sep or not label.strip():
            raise ValueError(f"--variants: {part!r} is not label:group.field=value,...")
        if label.strip() in [v[0] for v in out]:
            raise ValueError(f"--variants: label {label.strip()!r} given twice")
        out.append((label.strip(), [s.strip() for s in sets.split(",") if s.strip()]))
    return out


def build_config(agent: str, preset: str, env: str, sets: list[str]):
    """The preset with cfg.env.name = env and the ``group.field=value`` overrides (any field the config has);
    raises ConfigError / ValueError with a one-line message."""
    from diffsr_jax.config import ConfigError, set_fields, validate_config
    from experiments.configs import load_preset
    from experiments.suites import parse_sets

    try:
        cfg = load_preset(agent, preset)
    except ModuleNotFoundError:
        raise ConfigError(f"agent {agent!r} has no preset file experiments/configs/{agent}.py") from None
    with cfg.unlocked():
        cfg.env.name = env
    overrides = parse_sets(cfg, sets)
    set_fields(cfg, overrides)
    validate_config(cfg)
    return cfg


def component_programs(trainer, reps: int) -> dict:
    """name -> (per-seed fn(state, xs, ts), per-seed make_xs(runner, key), donate first argument). ``state`` is what
    the component carries (taken from the runner by ``state_of``); ``ts`` (unbatched) are the iteration indices."""
    import jax
    import jax.numpy as jnp

    from diffsr_jax.data.transition import Transition
    from diffsr_jax.data.normalizer import stats_update
    from diffsr_jax.data.replay import replay_add

    n, da, ds = trainer.num_envs, trainer.env.action_dim, trainer.env.obs_dim
    learn = trainer.learn
    normalize_obs = bool(trainer.config.replay.normalize_obs)
    end_rate = 1.0 / max(int(trainer.env.max_decisions), 1)

    def keys(runner, key):
        return jax.random.split(key, reps)

    # act: the observation drifts with the actions taken, so no repetition can be hoisted out of the loop
    def act(runner, ks, ts):
        def body(carry, k):
            obs, acc = carry
            a = trainer.agent.act(runner.agent, trainer.normalize(runner.obs_stats, obs), k, False)
            return (obs + 1e-6 * jnp.mean(a, axis=-1, keepdims=True), acc + a), None

        (_, acc), _ = jax.lax.scan(body, (runner.env_state.obs, jnp.zeros((n, da))), ks)
        return acc

    def env_step(runner, actions, ts):
        def body(carry, a):
            s, acc = carry
            s, res = jax.vmap(trainer.env.step)(s, a)
            return (s, acc + res.reward), None

        (s, acc), _ = jax.lax.scan(body, (runner.env_state, jnp.zeros((n,))), actions)
        return s, acc

    def env_actions(runner, key):
        return jax.random.uniform(key, (reps, n, da), minval=-1.0, maxval=1.0)

    def reset(runner, xs, ts):
        def body(carry, x):
            s, pool = carry
            (k, d), t = x
            s, pool, reused = trainer.auto_reset(s, d, pool, k)
            return (s, pool), reused

        (s, pool), reused = jax.lax.scan(body, (runner.env_state, runner.reset_pool), (xs, ts))
        return s, pool, reused.sum()

    def reset_xs(runner, key):
        k1, k2 = jax.random.split(key)
        return jax.random.split(k1, reps), jax.random.bernoulli(k2, end_rate, (reps, n))

    def insert(state, trs, ts):
        def body(carry, tr):
            buf, stats = carry
            buf = replay_add(buf, trainer.layout.encode(tr, jnp.zeros((n,), jnp.int32)))
            if normalize_obs:
                stats = stats_update(stats, tr.obs)
            return (buf, stats), None

        (buf, stats), _ = jax.lax.scan(body, state, trs)
        return buf, stats

    def transitions(runner, key):
        k1, k2, k3, k4 = jax.random.split(key, 4)
        obs = runner.env_state.obs[None] + 0.01 * jax.random.normal(k1, (reps, n, ds))
        return Transition(obs=obs, action=jax.random.uniform(k2, (reps, n, da), minval=-1.0, maxval=1.0),
                          reward=jax.random.normal(k3, (reps, n)),
                          next_obs=obs + 0.01 * jax.random.normal(k4, (reps, n, ds)), terminated=jnp.zeros((reps, n)))

    def sample(runner, ks, ts):
        sampler = trainer.sampler(runner)
        zeros = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype),
                                       jax.eval_shape(sampler.batch, jax.random.PRNGKey(0)))

        def body(acc, k):
            return jax.tree_util.tree_map(jnp.add, acc, sampler.batch(k)), None

        acc, _ = jax.lax.scan(body, zeros, ks)
        return acc

    def learn_fn(runner, ks, ts):
        def body(agent, x):
            k, t = x
            agent, _ = learn(runner.replace(agent=agent), k, t)
            return agent, None

        agent, _ = jax.lax.scan(body, runner.agent, (ks, ts))
        return agent

    return {
        "act": (act, keys, False),
        "env_step": (env_step, env_actions, False),
        "auto_reset": (reset, reset_xs, False),
        "replay_insert": (insert, transitions, True),
        "sample": (sample, keys, False),
        "learn": (learn_fn, keys, False),
    }


def state_of(name: str, runner):
    """What component ``name`` takes as its first argument: the replay and statistics for the insert (donated, so it
    runs in place as in the trainer), else the whole runner."""
    return (runner.buffer, runner.obs_stats) if name == "replay_insert" else runner


# --- timing -----------------------------------------------------------------------------------------------------------
def _compile(jitted, *args):
    t0 = time.time()
    compiled = jitted.lower(*args).compile()
    return compiled, time.time() - t0


def _median(xs):
    xs = sorted(xs)
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else 0.5 * (xs[m - 1] + xs[m])


def time_calls(call, repeats: int) -> list[float]:
    """Seconds of ``repeats`` calls of ``call()`` (each returns what to block on)."""
    import jax

    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(call())
        out.append(time.perf_counter() - t0)
    return out


# --- profiler trace ---------------------------------------------------------------------------------------------------
def summarize_trace(logdir: str, top: int = TOP_EVENTS) -> dict:
    """Top ``top`` complete events (``ph == "X"``) by total duration in the newest perfetto trace under ``logdir``,
    grouped by (process, name); Python-tracer frames (names starting with ``$``) are left out. ``{"trace": None}`` if
    no trace file was produced."""
    files = glob.glob(os.path.join(logdir, "**", "*perfetto_trace.json.gz"), recursive=True)
    files = files or glob.glob(os.path.join(logdir, "**", "*.trace.json.gz"), recursive=True)
    if not files:
        return {"trace": None, "note": "no trace file was produced"}
    path = max(files, key=os.path.getmtime)
    try:
        with gzip.open(path, "rt") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        return {"trace": path, "note": f"unreadable trace ({e})"}
    events = data.get("traceEvents", []) if isinstance(data, dict) else data
    procs = {e.get("pid"): e.get("args", {}).get("name", "") for e in events
             if e.get("ph") == "M" and e.get("name") == "process_name"}
    total, count = defaultdict(float), defaultdict(int)
    for e in events:
        if e.get("ph") != "X" or str(e.get("name", "")).startswith("$"):
            continue
        key = (procs.get(e.get("pid"), str(e.get("pid"))), str(e.get("name")))
        total[key] += float(e.get("dur", 0.0))
        count[key] += 1
    rows = sorted(total, key=lambda k: -total[k])[:top]
    return {"trace": path, "events": [{"process": p, "name": nm, "count": count[(p, nm)],
                                       "total_ms": total[(p, nm)] / 1e3,
                                       "mean_us": total[(p, nm)] / max(count[(p, nm)], 1)} for p, nm in rows]}


# --- one (variant, seeds) ---------------------------------------------------------------------------------------------
def chunk_census(trainer, runner, n: int) -> dict:
    """Census of the compiled, seed-vmapped ``trainer.chunk`` of ``n`` iterations (``runner`` may be shapes): the
    whole program a run calls, so its ``conditionals`` and ``unbounded_loops`` are every host wait a run meets. Its
    ``kernels_per_iteration`` amortises the chunk's evaluation over ``n``; ``iteration_census`` and
    ``evaluation_census`` count the two parts apart."""
    import jax
    import jax.numpy as jnp

    from benchmarks.hlo_census import census
    from diffsr_jax.training.devices import members_map

    fn = jax.jit(members_map(lambda r, t: trainer.chunk(r, t, n), in_axes=(0, None)))
    compiled, secs = _compile(fn, runner, jnp.int32(trainer.warmup_iters))
    c = census(compiled.as_text(), n)
    c["other_ops"] = dict(list(c["other_ops"].items())[:10])
    return {"chunk_iters": n, "compile_s": secs, **c}


def iteration_census(compiled_scan, n: int) -> dict:
    """Kernels of one learning iteration: the census of ``trainer.run_iterations`` over ``n`` iterations (the scan
    body, with the reset pool's refill per block of iterations amortised), compiled alone."""
    from benchmarks.hlo_census import census

    c = census(compiled_scan.as_text(), n)
    return {"iterations": n, "kernels_per_iteration": c["kernels_per_iteration"], "by_kind": c["by_kind"],
            "lower_bound": c["lower_bound"]}


def evaluation_census(trainer, runner) -> dict:
    """Kernels of one evaluation (``trainer.evaluate``: ``eval_episodes`` episodes of ``max_decisions`` steps as a
    batch of envs, seed-vmapped as a run maps them), compiled alone. On Brax it is most of a chunk's kernels."""
    import jax

    from benchmarks.hlo_census import census
    from diffsr_jax.training.devices import members_map

    fn = jax.jit(members_map(lambda r: trainer.evaluate(r, trainer.eval_key(r)), in_axes=(0,)))
    compiled, secs = _compile(fn, runner)
    c = census(compiled.as_text())
    return {"kernels": c["kernels"], "decisions": int(trainer.env.max_decisions),
            "episodes": int(trainer.config.run.eval_episodes), "by_kind": c["by_kind"], "compile_s": secs,
            "lower_bound": c["lower_bound"]}


def measure(label: str, sets: list[str], cfg, trainer, num_seeds: int) -> dict:
    """One row: every program compiled first (``--compile_workers`` at a time, so ``compile_s`` values overlap), then
    the warm-up and the timings with nothing else running."""
    import jax
    import jax.numpy as jnp

    from benchmarks.hlo_census import census
    from diffsr_jax.config.budget import iterations
    from diffsr_jax.training.devices import members_map

    reps, repeats = int(FLAGS.reps), int(FLAGS.repeats)
    t_start = time.time()
    row = {"variant": label, "sets": sets, "num_seeds": num_seeds, "env": cfg.env.name, "agent": FLAGS.agent,
           "preset": FLAGS.preset, "num_envs": trainer.num_envs, "action_repeat": trainer.action_repeat,
           "updates_per_step": int(cfg.run.updates_per_step), "batch_size": int(cfg.replay.batch_size),
           "reps": reps, "repeats": repeats}
    keys = jax.random.split(jax.random.PRNGKey(FLAGS.seed), num_seeds)
    hp = jax.tree_util.tree_map(lambda v: jnp.broadcast_to(v, (num_seeds,) + jnp.shape(v)), trainer.default_hparams())
    init = jax.vmap(trainer.init)
    shapes = jax.eval_shape(init, keys, hp)
    n_census = FLAGS.census_iters if FLAGS.census_iters > 0 else iterations(cfg, cfg.run.eval_every)
    if FLAGS.census_only:
        scan = jax.jit(members_map(lambda r, t: trainer.run_iterations(r, t, n_census), in_axes=(0, None)))
        with ThreadPoolExecutor(max(1, FLAGS.compile_workers)) as pool:
            jobs = [pool.submit(chunk_census, trainer, shapes, n_census),
                    pool.submit(_compile, scan, shapes, jnp.int32(trainer.warmup_iters)),
                    pool.submit(evaluation_census, trainer, shapes)]
            row["census"] = jobs[0].result()
            row["iteration_census"] = iteration_census(jobs[1].result()[0], n_census)
            row["evaluation_census"] = jobs[2].result()
        row["wall_s"] = time.time() - t_start
        return row

    # compile everything (on shapes), a few programs at a time
    t = int(trainer.warmup_iters)
    ts_shape = jax.ShapeDtypeStruct((reps,), jnp.int32)
    full = jax.jit(members_map(lambda r, t: trainer.run_iterations(r, t, reps), in_axes=(0, None)))
    programs = component_programs(trainer, reps)
    base_key = jax.random.PRNGKey(FLAGS.seed + 1)
    xs_keys = {name: jax.random.split(jax.random.fold_in(base_key, i), num_seeds) for i, name in enumerate(programs)}
    make_xs = {name: jax.jit(jax.vmap(p[1])) for name, p in programs.items()}
    with ThreadPoolExecutor(max(1, FLAGS.compile_workers)) as pool:
        jobs = {"census": pool.submit(chunk_census, trainer, shapes, n_census),
                "evaluation_census": pool.submit(evaluation_census, trainer, shapes),
                "iteration": pool.submit(_compile, full, shapes, jnp.int32(t))}
        for name, (fn, _, donate) in programs.items():
            jitted = jax.jit(members_map(fn, in_axes=(0, 0, None)), donate_argnums=(0,) if donate else ())
            xs = jax.eval_shape(make_xs[name], shapes, xs_keys[name])
            jobs[name] = pool.submit(_compile, jitted, state_of(name, shapes), xs, ts_shape)
        runner = jax.block_until_ready(jax.jit(init)(keys, hp))
        full_c, full_compile = jobs["iteration"].result()
        warm = FLAGS.warmup if FLAGS.warmup >= 0 else math.ceil(int(cfg.replay.batch_size) / trainer.num_envs)
        for _ in range(max(1, math.ceil(warm / reps))):  # also the untimed first call
            runner, _ = jax.block_until_ready(full_c(runner, jnp.int32(t)))
            t += reps
        compiled = {name: jobs[name].result() for name in programs}
        row["census"] = jobs["census"].result()
        row["evaluation_census"] = jobs["evaluation_census"].result()
        row["iteration_census"] = iteration_census(full_c, reps)
    row["compile_wall_s"] = time.time() - t_start

    state = {"runner": runner, "t": t}

    def full_call():
        r, m = full_c(state["runner"], jnp.int32(state["t"]))
        state["runner"], state["t"] = r, state["t"] + reps
        return r, m

    secs = time_calls(full_call, repeats)
    row["full_iteration"] = {"ms": 1e3 * _median(secs) / reps, "ms_all": [1e3 * s / reps for s in secs],
                             "compile_s": full_compile}
    row["env_frames_per_s"] = trainer.num_envs * trainer.action_repeat * num_seeds / (row["full_iteration"]["ms"] / 1e3)
    runner = state["runner"]  # the realistic state every component starts from
    ts = jnp.int32(state["t"]) + jnp.arange(reps, dtype=jnp.int32)

    comps = {}
    for name, (fn, _, donate) in programs.items():
        xs = jax.block_until_ready(make_xs[name](runner, xs_keys[name]))
        first = state_of(name, runner)
        fresh = (lambda: jax.tree_util.tree_map(jnp.copy, first)) if donate else (lambda: first)
        prog, secs_c = compiled[name]
        jax.block_until_ready(prog(fresh(), xs, ts))  # the first call, untimed
        secs = []
        for _ in range(repeats):
            arg = jax.block_until_ready(fresh())  # a donated copy is made outside the timing
            t0 = time.perf_counter()
            jax.block_until_ready(prog(arg, xs, ts))
            secs.append(time.perf_counter() - t0)
        comps[name] = {"ms": 1e3 * _median(secs) / reps, "ms_all": [1e3 * s / reps for s in secs],
                       "compile_s": secs_c, "kernels_per_rep": census(prog.as_text(), reps)["kernels_per_iteration"]}
    row["components"] = comps
    row["parts_sum_ms"] = sum(c["ms"] for c in comps.values())
    row["obs_stats_in_insert"] = bool(cfg.replay.normalize_obs)

    if FLAGS.profile_dir:
        logdir = os.path.join(FLAGS.profile_dir, f"{label}_seeds{num_seeds}")
        os.makedirs(logdir, exist_ok=True)
        try:
            with jax.profiler.trace(logdir, create_perfetto_trace=True):
                for _ in range(max(1, FLAGS.profile_iters)):
                    jax.block_until_ready(full_call())
            row["profile"] = {"logdir": logdir, **summarize_trace(logdir)}
        except Exception as e:  # noqa: BLE001 - a profiler that cannot run must not lose the measurements
            row["profile"] = {"logdir": logdir, "trace": None, "note": f"profiler failed: {e}"}
    row["wall_s"] = time.time() - t_start
    return row


# --- output -----------------------------------------------------------------------------------------------------------
def _ms(x):
    return f"{x:.3f}" if x is not None else "-"


def _kernels(c: dict) -> str:
    """Kernels per iteration; ``>=`` when a loop of unknown trip count was counted as one trip."""
    return f"{'>=' if c.get('lower_bound') else ''}{c['kernels_per_iteration']:.1f}"


def _eval_kernels(c: dict) -> str:
    return f"{'>=' if c.get('lower_bound') else ''}{c['kernels']}"


def table(rows: list[dict]) -> tuple[list[str], list[list]]:
    """Kernels: per learning iteration (the iteration scan alone), per evaluation (alone), and the chunk a run calls
    (its evaluation amortised over its iterations); conditionals and unbounded loops: the chunk's (every host wait)."""
    kernels = ["kernels/iteration", "kernels/evaluation", "chunk kernels/iteration", "conditionals", "unbounded loops"]

    def census_cells(r):
        c = r["census"]
        return [_kernels(r["iteration_census"]), _eval_kernels(r["evaluation_census"]), _kernels(c),
                len(c["conditionals"]), len(c["unbounded_loops"])]

    if FLAGS.census_only:
        header = ["variant", "seeds", *kernels, "chunk compile (s)"]
        return header, [[r["variant"], r["num_seeds"], *census_cells(r), f"{r['census']['compile_s']:.1f}"]
                        for r in rows]
    header = (["variant", "seeds"] + [f"{c} (ms)" for c in COMPONENTS]
              + ["parts sum (ms)", "iteration (ms)", "env frames/s", *kernels])
    out = []
    for r in rows:
        out.append([r["variant"], r["num_seeds"]] + [_ms(r["components"][c]["ms"]) for c in COMPONENTS]
                   + [_ms(r["parts_sum_ms"]), _ms(r["full_iteration"]["ms"]), f"{r['env_frames_per_s']:.0f}",
                      *census_cells(r)])
    return header, out


def details(rows: list[dict]) -> str:
    """Markdown after the table: each row's unbounded loops and conditionals by name, and its profile's top events."""
    lines = []
    for r in rows:
        c = r["census"]
        lines.append(f"\n## {r['variant']}, {r['num_seeds']} seed(s)\n")
        lines.append(f"sets: `{','.join(r['sets']) or '-'}`; chunk of {c['chunk_iters']} iterations: {c['kernels']} "
                     f"kernels ({c['by_kind']}), {len(c['while_loops'])} while loops")
        if "components" in r:
            lines.append("kernels per repetition: " + ", ".join(
                f"{k} {v['kernels_per_rep']:.0f}" for k, v in r["components"].items())
                + f"; iteration scan {r['iteration_census']['kernels_per_iteration']:.0f}")
        e = r["evaluation_census"]
        lines.append(f"evaluation: {e['kernels']} kernels ({e['episodes']} episodes x {e['decisions']} decisions as one "
                     f"batch; {e['by_kind']})")
        for lp in c["unbounded_loops"]:
            lines.append(f"- unbounded loop `{lp['op_name']}` at {lp['source']} (depth {lp['depth']}, "
                         f"{lp['kernels_per_trip']} kernels per trip)")
        for cd in c["conditionals"]:
            lines.append(f"- conditional `{cd['op_name']}` at {cd['source']} (branch kernels {cd['branch_kernels']})")
        prof = r.get("profile")
        if prof:
            if not prof.get("events"):
                lines.append(f"\nprofile: {prof.get('note', 'no events')}")
            else:
                lines.append(f"\nprofile `{prof['trace']}`, top {len(prof['events'])} events by total time:\n")
                lines.append("| process | event | count | total (ms) | mean (us) |\n|---|---|---|---|---|")
                lines += [f"| {e['process']} | `{e['name'][:80]}` | {e['count']} | {e['total_ms']:.2f} | "
                          f"{e['mean_us']:.1f} |" for e in prof["events"]]
    return "\n".join(lines) + "\n"


def main(argv):
    from experiments.cli import fail

    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        seeds = [int(s) for s in FLAGS.num_seeds]
    except ValueError:
        fail(f"--num_seeds={','.join(FLAGS.num_seeds)}: give integers, e.g. 1,64")
    if not seeds or min(seeds) < 1:
        fail("--num_seeds: every value must be >= 1")
    if FLAGS.reps < 1 or FLAGS.repeats < 1:
        fail("--reps and --repeats must be >= 1")
    try:
        variants = parse_variants(FLAGS.variants) or [("base", [])]
    except ValueError as e:
        fail(str(e))
    if FLAGS.compile_cache:
        from diffsr_jax.training.compile_cache import setup_compile_cache

        setup_compile_cache(FLAGS.compile_cache)
    from diffsr_jax.config import ConfigError

    configs = []
    for label, sets in variants:
        try:
            configs.append((label, list(FLAGS.set) + sets, build_config(FLAGS.agent, FLAGS.preset, FLAGS.env,
                                                                        list(FLAGS.set) + sets)))
        except (ConfigError, ValueError) as e:
            fail(f"variant {label}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")

    from benchmarks.common import machine
    from diffsr_jax.program import Trainer

    rows = []
    name = FLAGS.name or f"iteration_profile_{FLAGS.agent}_{FLAGS.env.replace('/', '_')}"
    for label, sets, cfg in configs:
        for s in seeds:
            try:  # a Trainer per row: its retrace guard allows one trace per chunk shape, and seeds change the shape
                trainer = Trainer(cfg)
            except (ConfigError, ValueError) as e:  # e.g. an env the registry cannot build
                fail(f"variant {label}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            row = measure(label, sets, cfg, trainer, s)
            rows.append(row)
            c = row["census"]
            msg = (f"{row['iteration_census']['kernels_per_iteration']:.1f} kernels/iteration, "
                   f"{row['evaluation_census']['kernels']} kernels/evaluation, {len(c['conditionals'])} conditionals, "
                   f"{len(c['unbounded_loops'])} unbounded loops")
            if "full_iteration" in row:
                msg = (f"iteration {row['full_iteration']['ms']:.3f} ms (parts {row['parts_sum_ms']:.3f} ms), "
                       f"{row['env_frames_per_s']:.0f} env frames/s; {msg}")
            print(f"{label} seeds={s}: {msg} ({row['wall_s']:.0f} s)", flush=True)
            md = _write(name, rows, machine())  # after every row: a run stopped later keeps what it finished
    print(md)


def _write(name: str, rows: list[dict], machine: dict) -> str:
    from benchmarks.common import write_results

    header, body = table(rows)
    payload = {"machine": machine, "command": " ".join(sys.argv), "agent": FLAGS.agent, "preset": FLAGS.preset,
               "env": FLAGS.env, "census_only": bool(FLAGS.census_only), "components": list(COMPONENTS),
               "rows": rows}
    return write_results(name, payload, body, header, FLAGS.out, extra_md=details(rows))


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script (tests import this module beside the launchers,
    whose flags share names)."""
    flags.DEFINE_string("env", "gymnax/Pendulum-v1", "env to measure (cfg.env.name)")
    flags.DEFINE_string("agent", "sac", "agent whose preset is measured")
    flags.DEFINE_string("preset", "fast", "preset of the agent")
    flags.DEFINE_list("num_seeds", ["1"], "vmapped seeds, one row per value (e.g. 1,64)")
    flags.DEFINE_list("set", [], "config overrides group.field=value for every variant (tuples as 64:64)")
    flags.DEFINE_string("variants", "", "';'-separated variants 'label:group.field=value,...' measured side by side "
                        "(default: one variant, the preset + --set)")
    flags.DEFINE_alias("configs", "variants")
    flags.DEFINE_integer("reps", 50, "repetitions of a component (iterations) per timed call")
    flags.DEFINE_integer("repeats", 5, "timed calls per measurement (median)")
    flags.DEFINE_integer("warmup", -1, "iterations run before measuring (-1: enough to fill one replay batch)")
    flags.DEFINE_integer("census_iters", -1, "iterations of the census chunk (-1: the config's iterations per evaluation)")
    flags.DEFINE_bool("census_only", False, "only the census of the compiled chunk (no timing)")
    flags.DEFINE_string("profile_dir", None, "capture a profiler trace of --profile_iters full iterations per row here "
                        "and summarise its top events")
    flags.DEFINE_integer("profile_iters", 3, "timed full-iteration calls (of --reps iterations) in the profiler trace")
    flags.DEFINE_integer("compile_workers", 2, "programs compiled at the same time (before any timing)")
    flags.DEFINE_integer("seed", 0, "PRNG seed")
    flags.DEFINE_string("compile_cache", None, "persistent XLA compilation cache dir (programs compiled by an earlier "
                        "call, e.g. another variant with the same env step, are read from it)")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", None, "output name (default iteration_profile_<agent>_<env>)")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
