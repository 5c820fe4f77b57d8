"""Wall-clock of Diff-SR against sampling-based diffusion methods: one env, one machine, one run.

    python -m benchmarks.wallclock                                    # fast presets, gymnax/Pendulum-v1
    python -m benchmarks.wallclock --denoise_steps=10,50,128 --steps=1000 --rounds=4

Every method trains for the same number of env steps (each step = act + env step + replay insert + its
learner update(s), as in a real run) with its ``fast`` preset; the sampling baselines are run once per value of
``--denoise_steps``. All programs are compiled first, then timed in ``--rounds`` rounds that alternate between the
methods, so machine drift hits all alike. Reported per method: seconds per 1k env steps, learner updates/s,
ms per action (the acting function alone, batch of one state), and each as a ratio to Diff-SR-SAC.
Writes benchmarks/results/wallclock.{json,md,png}.
"""

from __future__ import annotations

import sys
import time

from absl import flags

FLAGS = flags.FLAGS

SAMPLING = ("polygrad", "diffusion_planner")


def variants() -> list[tuple[str, str, int | None]]:
    """(label, agent, denoise_steps or None)."""
    out = []
    for agent in FLAGS.agents:
        if agent in SAMPLING:
            out += [(f"{agent} K={k}", agent, int(k)) for k in FLAGS.denoise_steps]
        else:
            out.append((agent, agent, None))
    return out


def build(agent: str, denoise_steps: int | None, chunk: int):
    """Compile a chunk of ``chunk`` learning iterations and the acting function; return timers and sizes."""
    import jax
    import jax.numpy as jnp

    from diffsr_jax.program import Trainer

    from experiments.configs import load_preset
    cfg = load_preset(agent, "fast")
    cfg.env.name = FLAGS.env
    if denoise_steps is not None:
        cfg.trajectory_model.denoise_steps = denoise_steps
    warm = max(cfg.replay.batch_size, 64)
    cfg.run.warmup_steps = warm
    cfg.run.total_steps = warm + chunk * FLAGS.rounds
    trainer = Trainer(cfg)
    t0 = time.perf_counter()
    runner = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    fill = jax.jit(lambda r: trainer.run_iterations(r, 0, warm, warmup_iters=trainer.warmup_in(0, warm))[0])
    run = jax.jit(lambda r, t: trainer.run_iterations(r, t, chunk)).lower(runner, jnp.int32(warm)).compile()
    act = jax.jit(lambda s, o, k: trainer.agent.act(s, o, k, False))
    obs = trainer.normalize(runner.obs_stats, runner.env_state.obs[:1])
    jax.block_until_ready(act(runner.agent, obs, jax.random.PRNGKey(1)))
    runner = jax.block_until_ready(fill(runner))  # warm-up: fill the replay with random-action data
    compile_s = time.perf_counter() - t0
    return {"trainer": trainer, "runner": runner, "run": run, "act": act, "obs": obs, "t": warm,
            "compile_s": compile_s, "updates_per_step": int(cfg.run.updates_per_step), "num_envs": trainer.num_envs}


def main(_):
    import jax
    import numpy as np

    from benchmarks.common import machine, write_results

    chunk = max(FLAGS.steps // FLAGS.rounds, 1)
    vs = variants()
    built = {}
    for label, agent, k in vs:
        built[label] = build(agent, k, chunk)
        print(f"compiled {label} in {built[label]['compile_s']:.1f}s", flush=True)
    train_s = {label: 0.0 for label, _, _ in vs}
    act_ms = {label: [] for label, _, _ in vs}
    for r in range(FLAGS.rounds):
        for label, _, _ in vs:
            b = built[label]
            t0 = time.perf_counter()
            b["runner"], m = jax.block_until_ready(b["run"](b["runner"], np.int32(b["t"])))
            train_s[label] += time.perf_counter() - t0
            b["t"] += chunk
            key = jax.random.PRNGKey(r)
            for _ in range(FLAGS.act_calls):
                key, k = jax.random.split(key)
                t0 = time.perf_counter()
                jax.block_until_ready(b["act"](b["runner"].agent, b["obs"], k))
                act_ms[label].append(1e3 * (time.perf_counter() - t0))
        print(f"round {r + 1}/{FLAGS.rounds} done", flush=True)

    results = []
    for label, agent, k in vs:
        b = built[label]
        steps = chunk * FLAGS.rounds * b["num_envs"]
        s_per_1k = 1e3 * train_s[label] / steps
        results.append({"method": label, "agent": agent, "denoise_steps": k, "env_steps": steps,
                        "train_s": train_s[label], "s_per_1k_env_steps": s_per_1k,
                        "updates_per_s": steps * b["updates_per_step"] / train_s[label],
                        "ms_per_action": float(np.median(act_ms[label])), "compile_s": b["compile_s"]})
    ref = next((r for r in results if r["method"] == FLAGS.reference), results[0])
    for r in results:
        r["time_ratio_to_reference"] = r["s_per_1k_env_steps"] / ref["s_per_1k_env_steps"]
        r["action_ratio_to_reference"] = r["ms_per_action"] / ref["ms_per_action"]
        print(f"{r['method']}: {r['s_per_1k_env_steps']:.2f} s/1k steps ({r['time_ratio_to_reference']:.1f}x), "
              f"{r['updates_per_s']:.0f} updates/s, {r['ms_per_action']:.2f} ms/action", flush=True)
    rows = [[r["method"], f"{r['s_per_1k_env_steps']:.2f}", f"{r['time_ratio_to_reference']:.1f}x",
             f"{r['updates_per_s']:.0f}", f"{r['ms_per_action']:.2f}", f"{r['action_ratio_to_reference']:.1f}x",
             f"{r['compile_s']:.0f}"] for r in results]
    payload = {"machine": machine(), "command": " ".join(["python -m benchmarks.wallclock", *sys.argv[1:]]),
               "env": FLAGS.env, "reference": ref["method"], "results": results}
    md = write_results("wallclock", payload, rows,
                       ["method", "s / 1k env steps", f"vs {ref['method']}", "updates/s", "ms/action",
                        "action vs ref", "compile (s)"], FLAGS.out)
    plot(results, ref["method"], f"{FLAGS.out}/wallclock.png")
    print(md)


def plot(results, ref: str, path: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r["method"] for r in results]
    colors = ["tab:blue" if r["agent"].startswith("diffsr") else
              ("tab:red" if r["agent"] in SAMPLING else "tab:gray") for r in results]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.5 * len(results) + 2))
    for ax, key, title in ((axes[0], "s_per_1k_env_steps", "training: s per 1k env steps"),
                           (axes[1], "ms_per_action", "acting: ms per action")):
        ax.barh(labels, [r[key] for r in results], color=colors)
        ax.set_xscale("log")
        ax.set_title(title)
        ax.invert_yaxis()
        for i, r in enumerate(results):
            ax.text(r[key], i, f" {r[key] / next(x[key] for x in results if x['method'] == ref):.1f}x",
                    va="center", fontsize=8)
    fig.suptitle(f"same env, same machine, same env steps (ratios vs {ref})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_string("env", "gymnax/Pendulum-v1", "environment")
    flags.DEFINE_list("agents", ["diffsr_sac", "diffsr_td3", "sac", "polygrad", "diffusion_planner"], "methods")
    flags.DEFINE_list("denoise_steps", ["10", "50", "128"], "reverse-chain lengths for the sampling baselines")
    flags.DEFINE_integer("steps", 1000, "timed env steps per method (learning on every step)")
    flags.DEFINE_integer("rounds", 4, "alternation rounds (steps are split evenly across them)")
    flags.DEFINE_integer("act_calls", 50, "timed calls of the acting function per round")
    flags.DEFINE_string("reference", "diffsr_sac", "method the ratios are taken against")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
