"""The GPU plan: what a short lent GPU slot measures, in stages that each fit one 10-minute command.

    bash benchmarks/gpu/run.sh --stage=update_cost --out=$OUT     # on the GPU machine (run.sh installs the wheels)
    bash benchmarks/gpu/run.sh --dry_run --stage=all --out=/tmp/gpu_dry   # here: the whole plan at toy sizes on CPU

Stages (``--stage``; ``all`` runs them in order):
  profile           where one iteration goes (benchmarks/iteration_profile.py): Diff-SR-SAC's and SAC's ``paper``
                    presets on brax/halfcheetah (mjx) at 1 and 64 seeds, the env's own (native) vs the light physics,
                    XLA command buffers off vs over loops too, the HLO census of the learning chunk, and a
                    jax.profiler summary of the top kernels; the variants run in priority order (PROFILE_RUNS) within
                    --profile_budget_s (one call of at most 8 minutes) -> profile.{json,md}, profile_<label>.{json,md}
  update_cost       ms per update of every ``paper`` preset (halfcheetah sizes) at full float32 matmul precision,
                    Diff-SR-SAC's and SAC's also at ``default`` (TF32 on a GPU), next to this project's CPU numbers
                    (CPU_REFERENCE) as a ratio -> update_cost.{json,md}
  seeds_diffsr_sac  env-steps/s of one compiled program as vmapped seeds grow 1 -> 64, compile time apart
  seeds_sac         (Diff-SR-SAC paper preset and SAC paper preset, brax/halfcheetah mjx) -> seeds_<agent>.{json,md}
  memory            peak device memory of 16 seeds x a 1M-transition replay on halfcheetah, run state donated to
                    the chunk or not -> memory.{json,md}
  run               Diff-SR-SAC's ``paper`` preset, 8 seeds x 200k frames on brax/halfcheetah (mjx, light physics)
                    through experiments.suite, aimed at one call (the iteration target: <= 3 ms at one seed); stopped
                    by SIGTERM (checkpointed) before the command's limit and continued by the next call while the
                    machine is warm (runs live in --runs_root on that machine); writes a RESULTS-style report of what
                    has run -> run_RESULTS.md, run_status.json, run_<agent>.jsonl
Every stage writes JSON + markdown into --out (flat: the device tool brings back files two folders down at most).
Copy them to benchmarks/results/gpu/ and record the numbers in WORKSPACE.md. With ``--out=benchmarks/results/gpu``
(the results travel with the working tree) a stage already measured there is kept, so the plan goes on where an
earlier slot stopped.

Measured on the H100 (2026-11-24, jax 0.11.2): update_cost ~6 min (the six presets at ``highest`` 5 min 15 s,
``default`` for two 36 s); each seed count of a seeds stage compiles in 65-95 s, then 2-8 s per 200-iteration
chunk; memory needs more than 140 s; a Diff-SR-SAC paper iteration (env step + update) takes ~11 ms at 1 seed and
~30 ms at 16 seeds, the update 1.7 ms of it: the physics step (MuJoCo's default solver, a while loop) and host
waits took the rest, hence the light physics and a learning chunk with no branch (issue "latency floor"), which
the profile stage measures first.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGES = ("profile", "update_cost", "seeds_diffsr_sac", "seeds_sac", "memory", "run")
# the profile stage's variants, most wanted first: (label, agent, physics, command buffers, seed counts)
PROFILE_RUNS = (
    ("diffsr_sac_light", "diffsr_sac", "light", "default", "1,64"),
    ("diffsr_sac_native", "diffsr_sac", "native", "default", "1,64"),
    ("sac_light", "sac", "light", "default", "1,64"),
    ("diffsr_sac_light_loops", "diffsr_sac", "light", "loops", "1,64"),
    ("sac_native", "sac", "native", "default", "1"),
    ("diffsr_sac_light_off", "diffsr_sac", "light", "off", "1"),
    ("sac_light_loops", "sac", "light", "loops", "1,64"),
)
DRY_PROFILE_RUNS = ("diffsr_sac_light", "sac_light_loops")  # the dry run's (each seed count 2): both agents, both flags
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
    cmd = [sys.executable, "-m", module, *args]
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, **(env or {}), PYTHONPATH=os.pathsep.join(
        filter(None, [os.environ.get("PYTHONPATH"), ROOT]))))
    try:
        return p.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        print(f"budget of {budget:.0f}s spent: SIGTERM (checkpoint, then exit)", flush=True)
        p.send_signal(signal.SIGTERM)
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait()


def _write(out: str, name: str, payload: dict, md: str) -> None:
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(payload, f, indent=2)
    with open(os.path.join(out, f"{name}.md"), "w") as f:
        f.write(md + "\n")


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


def stage_profile(out: str, dry: bool, budget_s: float, min_s: float) -> None:
    """The PROFILE_RUNS in order, each a subprocess (command buffers are an XLA flag, read when JAX starts) sharing
    one compilation cache, until the budget is spent; then profile.{json,md} gathers what was measured."""
    from diffsr_jax.training.devices import xla_flags_with_command_buffers

    t_end, cache = time.time() + budget_s, os.path.join(out, ".profile_cache") if dry else "/tmp/diffsr_profile_cache"
    if dry:  # toy sizes on CPU: gymnax has no MuJoCo solver, so both physics labels run its one physics
        common = ["--preset=fast", "--env=gymnax/Pendulum-v1", "--reps=3", "--repeats=2", "--warmup=8", "--census_iters=4"]
    else:
        common = ["--preset=paper", "--env=brax/halfcheetah", "--reps=50", "--census_iters=8"]
    skipped, runs = [], [r for r in PROFILE_RUNS if not dry or r[0] in DRY_PROFILE_RUNS]
    for i, (label, agent, physics, buffers, seeds) in enumerate(runs):
        if _measured(out, f"profile_{label}"):
            continue
        left = t_end - time.time()
        if left < min_s:
            skipped.append(label)
            continue
        seeds = "2" if dry else seeds
        sets = "" if dry else f"--set=env.physics={physics}"
        trace = [f"--profile_dir={os.path.join(out, '.trace')}"] if i == 0 else []
        flags_env = {"XLA_FLAGS": xla_flags_with_command_buffers(os.environ.get("XLA_FLAGS", ""), buffers)}
        _python("benchmarks.iteration_profile", f"--agent={agent}", *common, f"--num_seeds={seeds}",
                *([sets] if sets else []), *trace, f"--compile_cache={cache}", f"--out={out}", f"--name=profile_{label}",
                budget=left, timeout=30, env=flags_env)
    rows, results = [], []
    for label, agent, physics, buffers, _ in PROFILE_RUNS:
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
                        f"{r.get('census', {}).get('kernels_per_iteration', float('nan')):.0f} | "
                        f"{len(r.get('census', {}).get('conditionals', []))} | "
                        f"{len(r.get('census', {}).get('unbounded_loops', []))} |")
    md = "\n".join(["# Where one iteration goes (brax/halfcheetah mjx, paper presets)" if not dry else
                    "# Where one iteration goes (dry run)", "",
                    "| variant | seeds | ms/iteration | env step ms | update ms | env frames/s | kernels/iteration | "
                    "conditionals | unbounded loops |", "|---|---|---|---|---|---|---|---|---|", *rows, "",
                    f"Not measured (budget spent): {', '.join(skipped)}" if skipped else "Every variant measured."])
    _write(out, "profile", {"results": results, "not_measured": skipped}, md)
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


def stage_run(out: str, dry: bool, runs_root: str, budget_s: int) -> None:
    if dry:
        suite = ["--suite=cpu", "--tasks=pendulum", "--agents=sac,diffsr_sac", "--preset=fast", "--num_seeds=2",
                 "--total_steps=600", "--eval_every=300", "--set=run.warmup_steps=300,run.eval_episodes=2"]
    else:  # SAC first: the cheaper one is certain to finish
        suite = ["--suite=mbbl", "--tasks=halfcheetah", "--agents=diffsr_sac", "--preset=paper", "--num_seeds=8",
                 "--total_steps=200000", "--set=env.backend=mjx,env.physics=light"]
    t0 = time.time()
    code = _python("experiments.suite", *suite, f"--root={runs_root}", budget=budget_s, timeout=90)
    suite_dir = os.path.join(runs_root, suite[0].split("=")[1])
    status = {"suite_exit": code, "wall_s": round(time.time() - t0, 1), "runs": {}}
    for info_path in sorted(glob.glob(os.path.join(suite_dir, "*", "*", "run.json"))):
        with open(info_path) as f:
            info = json.load(f)
        logdir = os.path.dirname(info_path)
        with open(os.path.join(logdir, "metrics.jsonl")) as f:
            rows = [json.loads(x) for x in f]
        status["runs"][info["agent"]] = {"status": info["status"], "frames": max((r["frames"] for r in rows), default=0),
                                         "total_steps": info["total_steps"], "wall_s": info.get("wall_s")}
        shutil.copy(os.path.join(logdir, "metrics.jsonl"), os.path.join(out, f"run_{info['agent']}.jsonl"))
    with open(os.path.join(out, "run_status.json"), "w") as f:
        json.dump(status, f, indent=2)
    if status["runs"]:
        _python("experiments.report", suite_dir, f"--out={os.path.join(out, 'run_RESULTS.md')}", "--plots_dir=run_plots",
                "--title=Diff-SR-SAC vs SAC on the GPU", "--note=partial until every run says finished in run_status.json")
    print(json.dumps(status, indent=2), flush=True)


def main(_):
    out = os.path.abspath(FLAGS.out)
    os.makedirs(out, exist_ok=True)
    stages = STAGES if FLAGS.stage == "all" else (FLAGS.stage,)
    for stage in stages:
        print(f"== stage {stage}{' (dry run)' if FLAGS.dry_run else ''}", flush=True)
        t0 = time.time()
        if stage == "profile":
            if not _measured(out, "profile"):
                stage_profile(out, FLAGS.dry_run, FLAGS.profile_budget_s, FLAGS.profile_min_s)
        elif stage == "update_cost":
            stage_update_cost(out, FLAGS.dry_run)
        elif stage.startswith("seeds_"):
            if not _measured(out, stage):
                stage_seeds(out, FLAGS.dry_run, stage[len("seeds_"):])
        elif stage == "memory":
            if not _measured(out, "memory"):
                stage_memory(out, FLAGS.dry_run)
        else:
            stage_run(out, FLAGS.dry_run, FLAGS.runs_root, FLAGS.budget_s)
        print(f"== stage {stage} done in {time.time() - t0:.0f}s", flush=True)


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_enum("stage", "all", ("all", *STAGES), "which stage to run")
    flags.DEFINE_bool("dry_run", False, "toy sizes on CPU: the whole plan in a few minutes (a CI test)")
    flags.DEFINE_string("out", "benchmarks/results/gpu", "where each stage writes its JSON + markdown")
    flags.DEFINE_string("runs_root", "/tmp/diffsr_gpu_runs", "run stage: where the runs live (kept between calls on a "
                        "warm machine)")
    flags.DEFINE_integer("budget_s", 500, "run stage: seconds before the suite is stopped (SIGTERM: checkpoint, exit)")
    flags.DEFINE_integer("profile_budget_s", 450, "profile stage: seconds for all its variants (a variant is started only "
                         "with at least --profile_min_s left, and stopped at the budget)")
    flags.DEFINE_integer("profile_min_s", 75, "profile stage: seconds a variant needs at least (compile included)")


if __name__ == "__main__":
    define_flags()
    app.run(main)
