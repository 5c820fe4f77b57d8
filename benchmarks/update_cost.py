"""Milliseconds per learner update for each preset, next to the official PyTorch implementations' cost
(spec section 7, measured on the same 2-core machine), with FLOPs per update and the fraction of this
machine's matrix-multiply peak measured in the same run.

    python -m benchmarks.update_cost                    # every agent's paper and fast presets
    python -m benchmarks.update_cost --presets=diffsr_sac:paper --num_updates=20

An update is what one env step costs the learner in each preset (Diff-SR-SAC: 4 psi/zeta steps on fresh
batches of 256 + critic + actor + alpha; Diff-SR-TD3: psi/zeta + reward head + critic + actor at batch 512),
replay sampling included, on observation/action sizes of HalfCheetah (d_s = 17, d_a = 6).
PolyGRAD's update includes its imagination (the full reverse chain over imagined_batch trajectories); the planner's
update is SAC's plus one trajectory-model step (its sampling cost is per action: benchmarks/wallclock.py).
FLOPs are the matrix multiplies of one update counted from its jaxpr (benchmarks/flops.py; multiply-add = 2).
"""

from __future__ import annotations

import sys
import time

from absl import flags

AGENT_NAMES = ("diffsr_sac", "diffsr_td3", "sac", "td3", "polygrad", "diffusion_planner")
FLAGS = flags.FLAGS

# Spec section 7: official implementations, PyTorch 2.13 CPU, 2 threads, this machine: (ms, GFLOP per update)
OFFICIAL = {
    "diffsr_sac:paper": ("rl-rep Diff-SR-SAC", 210.0, 16.9),
    "diffsr_td3:paper": ("spectral-rl2 Diff-SR-TD3", 542.0, 49.4),
    "sac:paper": ("rl-rep SAC", 21.6, 0.65),
    "td3:paper": ("spectral-rl2 TD3", 147.0, 9.9),
}


def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Measured f32 matmul throughput of this machine (GFLOP/s)."""
    import jax
    import numpy as np

    a = jax.random.normal(jax.random.PRNGKey(0), (n, n))
    f = jax.jit(lambda x: x @ x)
    jax.block_until_ready(f(a))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f(a))
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / float(np.min(times)) / 1e9


def setup_update(spec: str, obs_dim: int, action_dim: int):
    """``agent:preset[+ablation]`` -> (agent, state, sampler, config): an initialised agent and a replay of 100k random
    transitions of the given sizes to sample from (the cost of an update does not depend on the data). Random numbers
    are lowered as a run lowers them (``diffsr_jax.program.threefry``)."""
    import jax
    import jax.numpy as jnp

    from diffsr_jax.agents.registry import make_agent
    from diffsr_jax.data import ReplaySampler, replay_add, replay_init
    from diffsr_jax.data.transition import Transition
    from diffsr_jax.program.threefry import use_threefry_lowering

    use_threefry_lowering("unrolled")

    cfg = preset_config(spec)
    agent = make_agent(cfg, obs_dim, action_dim)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    n_data = 100_000
    k = jax.random.split(jax.random.PRNGKey(1), 4)
    data = Transition(jax.random.normal(k[0], (n_data, obs_dim)),
                      jax.random.uniform(k[1], (n_data, action_dim), minval=-1, maxval=1),
                      jax.random.normal(k[2], (n_data,)), jax.random.normal(k[3], (n_data, obs_dim)),
                      jnp.zeros(n_data))
    buffer = replay_add(replay_init(jax.tree_util.tree_map(lambda x: x[0], data), n_data), data)
    return agent, state, ReplaySampler(buffer, None, int(cfg.replay.batch_size)), cfg


def measure(spec: str) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from benchmarks.flops import matmul_flops

    agent, state, sample, cfg = setup_update(spec, FLAGS.obs_dim, FLAGS.action_dim)
    flops = matmul_flops(lambda s, k: agent.update(s, sample, k, 0), state, jax.random.PRNGKey(2))
    num_updates = max(1, min(FLAGS.num_updates, int(FLAGS.gflop_per_call * 1e9 / max(flops, 1.0))))

    def run(state, key):
        def body(s, xs):
            kk, i = xs
            return agent.update(s, sample, kk, i)
        return jax.lax.scan(body, state, (jax.random.split(key, num_updates), jnp.arange(num_updates)))

    t0 = time.perf_counter()
    compiled = jax.jit(run).lower(state, jax.random.PRNGKey(2)).compile()
    compile_s = time.perf_counter() - t0
    state, _ = jax.block_until_ready(compiled(state, jax.random.PRNGKey(3)))
    times = []
    for i in range(FLAGS.repeats):
        t0 = time.perf_counter()
        state, _ = jax.block_until_ready(compiled(state, jax.random.PRNGKey(4 + i)))
        times.append(time.perf_counter() - t0)
    ms = 1e3 * float(np.median(times)) / num_updates
    return {"preset": spec, "ms_per_update": ms, "gflop_per_update": flops / 1e9,
            "gflops_achieved": flops / 1e9 / (ms / 1e3), "compile_s": compile_s, "batch_size": cfg.replay.batch_size,
            "updates_timed": num_updates * FLAGS.repeats}


def preset_config(spec: str):
    """The config of ``agent:preset`` or ``agent:preset+ablation`` (experiments/suites.py ABLATIONS); ConfigError (one
    line) on a malformed or unknown one."""
    from diffsr_jax.config import set_fields
    from diffsr_jax.fields import ConfigError
    from experiments.configs import load_preset
    from experiments.suites import ABLATIONS

    agent_name, sep, preset = spec.partition(":")
    if not sep:
        raise ConfigError(f"--presets={spec}: write each as agent:preset, e.g. diffsr_sac:fast")
    preset, _, ablation = preset.partition("+")  # e.g. diffsr_sac:fast+frozen_psi
    if ablation and ablation not in ABLATIONS:
        raise ConfigError(f"--presets={spec}: unknown ablation {ablation!r}; choose from {', '.join(ABLATIONS)}")
    cfg = load_preset(agent_name, preset)
    set_fields(cfg, ABLATIONS[ablation] if ablation else {})
    return cfg


def main(_):
    import jax

    from benchmarks.common import machine, write_results

    for spec in FLAGS.presets:  # every preset read before the first measurement
        preset_config(spec)
    peak = matmul_peak_gflops()
    print(f"matmul peak: {peak:.0f} GFLOP/s", flush=True)
    results = []
    for spec, precision in [(s, p) for s in FLAGS.presets for p in FLAGS.matmul_precision]:
        with jax.default_matmul_precision(precision):
            r = measure(spec)
        r["matmul_precision"] = precision
        r["fraction_of_peak"] = r["gflops_achieved"] / peak
        if spec in OFFICIAL:
            name, ms, gflop = OFFICIAL[spec]
            r.update(official=name, official_ms=ms, official_gflop=gflop, speedup_vs_official=ms / r["ms_per_update"])
        results.append(r)
        print(f"{spec} ({precision}): {r['ms_per_update']:.1f} ms/update, {r['gflop_per_update']:.2f} GFLOP, "
              f"{r['gflops_achieved']:.0f} GFLOP/s ({100 * r['fraction_of_peak']:.0f}% of peak)"
              + (f", official {r['official_ms']:.0f} ms -> {r['speedup_vs_official']:.1f}x" if "official" in r else ""),
              flush=True)
    rows = [[r["preset"], r["matmul_precision"], f"{r['ms_per_update']:.1f}", f"{r['gflop_per_update']:.2f}", f"{r['gflops_achieved']:.0f}",
             f"{100 * r['fraction_of_peak']:.0f}%", r.get("official", "-"),
             f"{r['official_ms']:.0f}" if "official_ms" in r else "-",
             f"{r['speedup_vs_official']:.2f}x" if "speedup_vs_official" in r else "-"] for r in results]
    md = write_results(FLAGS.name, {"machine": machine(), "command": " ".join(sys.argv), "matmul_peak_gflops": peak,
                                       "results": results}, rows,
                       ["preset", "matmul precision", "ms/update", "GFLOP/update", "GFLOP/s", "of peak", "official", "official ms",
                        "official / ours"], FLAGS.out)
    print(md)


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_list("presets", [f"{a}:{p}" for p in ("paper", "fast") for a in AGENT_NAMES],
                      "agent:preset, or agent:preset+ablation (experiments/suites.py ABLATIONS)")
    flags.DEFINE_integer("obs_dim", 17, "observation size")
    flags.DEFINE_integer("action_dim", 6, "action size")
    flags.DEFINE_integer("num_updates", 10, "updates per timed call (one lax.scan); fewer for updates over "
                         "--gflop_per_call / num_updates GFLOP")
    flags.DEFINE_float("gflop_per_call", 200.0, "work budget of one timed call, so the heavy presets stay affordable")
    flags.DEFINE_integer("repeats", 5, "timed calls; the median is reported")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_list("matmul_precision", ["highest"], "jax.default_matmul_precision values to measure each preset at "
                      "(default|high|highest; on a GPU 'default' allows TF32)")
    flags.DEFINE_string("name", "update_cost", "output file name")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
