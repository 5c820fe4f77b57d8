"""Is the ``light`` MuJoCo solver setting faithful to ``native``? Returns of Brax MJX envs under both settings.

    python -m benchmarks.physics_faithfulness                                   # halfcheetah, hopper, walker2d, ant
    python -m benchmarks.physics_faithfulness --envs=brax/hopper --train_steps=30000
    python -m benchmarks.physics_faithfulness --policy_dirs=brax/hopper=/tmp/faith/hopper   # reuse a trained run
    python -m benchmarks.physics_faithfulness --noearly_termination --name=physics_faithfulness_noet  # checks w/o ET

``native`` is the env's own solver (Brax's halfcheetah, hopper and walker2d: MuJoCo's defaults, 4 solver iterations,
50 line-search iterations, Euler damping on); ``light`` is 1 iteration, 4 line-search iterations, Euler damping off
(``diffsr_jax.envs.physics``). Brax's own MJX ant is built light already, so for ant the two settings are the same
simulator and every check must come out identical (a control of the harness).

Each env (early termination on, the env's default, or off with ``--noearly_termination`` for the checks, not the
training; episodes of ``--episode_length`` = 1000 frames, action repeat 1) is checked three ways, each played under
BOTH settings from the SAME initial states (episode i starts from ``env.reset(split(PRNGKey(seed), N)[i])`` in both;
their initial observations are compared and reported). With early termination the open-loop episodes of hopper and
walker2d end when the body falls, within a few dozen frames: there the trained policy is the check that says much.

1. ``random``: N open-loop episodes of uniform random actions in [-1, 1], drawn once from a fixed key;
2. ``gait``: N open-loop episodes of a smooth periodic gait a_t,j = 0.8 sin(2 pi f_i t dt + phase_ij), a frequency
   f_i ~ U[1, 3] Hz per episode and a phase per joint, fixed in advance (it moves the body, unlike white noise);
3. ``policy``: the deterministic policy of one SAC run (the ``fast`` preset, trained through the launcher under
   ``--train_physics``, default ``light``: a policy that exploited an artefact of the light solver would lose return
   under native, which is the failure that matters) played closed-loop for N episodes under each setting.

The two settings are different simulators: individual trajectories separate (chaos; reported as the median decision
at which an observation entry first differs by more than 0.01, or one episode ends and the other not), so the
question is not whether trajectories agree but whether RETURNS, which the RL experiments measure, agree.

Tolerance (fixed before measuring). With d_i = R_light,i - R_native,i the paired per-episode difference, its mean
D and standard error SE = std(d, ddof=1) / sqrt(N), a check PASSES when

    |D| <= max(0.10 * |mean R_native|, 2 * SE)

i.e. the mean returns differ by at most 10% of the native return (a margin well inside the seed-to-seed spread of
the RL results compared in this repo), or by less than the per-episode noise lets N paired episodes resolve (a
difference N = 16 paired episodes cannot tell from zero is also invisible to one evaluation of a run, 10 episodes).
Which branch passed is reported (``within 10%`` / ``within noise``), and so is the stricter equivalence flag
``|D| + 2 SE <= 0.10 |mean R_native|`` (the 95% interval of the difference inside the 10% margin). An env is
faithful when all its checks pass.

Outputs ``<out>/physics_faithfulness.{json,md}`` (``benchmarks.common.write_results``), rewritten after every env so
an interrupted run keeps what it measured. Trained runs live in ``--workdir/<env>``; a finished one is reused and a
partial one resumed, so the whole script can be restarted; ``--policy_dirs=env=logdir,...`` names runs to reuse.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

from absl import flags

ENVS = ("brax/halfcheetah", "brax/hopper", "brax/walker2d", "brax/ant")
REL_TOL = 0.10  # the practical margin: 10% of the native mean return
NOISE_SE = 2.0  # ... or this many standard errors of the paired difference
OBS_TOL = 1e-2  # an observation entry differing by more than this = the two trajectories have separated
GAIT_AMPLITUDE = 0.8
GAIT_HZ = (1.0, 3.0)
SETTINGS = ("native", "light")


# --- the env pair and the action sequences ----------------------------------------------------------------------
def has_early_termination(env_name: str) -> bool:
    from diffsr_jax.envs import ENV_FAMILIES

    family, _, name = env_name.partition("/")
    return name in ENV_FAMILIES[family].early_termination


def env_pair(env_name: str, episode_length: int = 1000, early_termination: bool = True):
    """(native Env, light Env) of ``env_name`` with ``episode_length`` frames per episode; ``early_termination=False``
    turns off termination on falling where the env has it (else it is ignored)."""
    from diffsr_jax.envs import make_env

    et = early_termination or not has_early_termination(env_name)
    return tuple(make_env(env_name, physics=p, max_episode_steps=episode_length, early_termination=et)
                 for p in SETTINGS)


def initial_keys(seed: int, n: int):
    """The reset keys of the N episodes: the same for both settings."""
    import jax

    return jax.random.split(jax.random.PRNGKey(seed), n)


def random_actions(key, n: int, steps: int, action_dim: int):
    """(n, steps, d_a) uniform random actions in [-1, 1]."""
    import jax

    return jax.random.uniform(key, (n, steps, action_dim), minval=-1.0, maxval=1.0)


def gait_actions(key, n: int, steps: int, action_dim: int, decision_seconds: float):
    """(n, steps, d_a) smooth periodic actions 0.8 sin(2 pi f_i t dt + phase_ij), f_i ~ U[1, 3] Hz per episode."""
    import jax
    import jax.numpy as jnp

    k_f, k_p = jax.random.split(key)
    freq = jax.random.uniform(k_f, (n, 1, 1), minval=GAIT_HZ[0], maxval=GAIT_HZ[1])
    phase = jax.random.uniform(k_p, (n, 1, action_dim), minval=0.0, maxval=2 * jnp.pi)
    t = jnp.arange(steps, dtype=jnp.float32)[None, :, None] * decision_seconds
    return GAIT_AMPLITUDE * jnp.sin(2 * jnp.pi * freq * t + phase)


def open_loop_policy(actions, obs, t):
    """Policy of a fixed action sequence: ``actions`` (n, steps, d_a), the action of decision ``t``."""
    del obs
    return actions[:, t]


# --- playing both settings side by side -------------------------------------------------------------------------
def paired_rollout(env_a, env_b, policy, params, keys, num_steps: int | None = None):
    """Play ``policy(params, obs (n, d_s), t) -> actions (n, d_a)`` in ``env_a`` and ``env_b`` from the same reset
    keys (n,), each episode once (as ``Trainer.play_episodes``: no reset; steps after its end are masked).

    Returns {"returns_a", "returns_b" (n,), "lengths_a", "lengths_b" (n,) int decisions, "split" (n,) int: the first
    decision after which the two episodes' observations differ by more than ``OBS_TOL`` in some entry or one ended
    and the other did not (``num_steps`` when never), "initial_gap" (): the largest initial observation difference}.
    """
    import jax
    import jax.numpy as jnp

    steps = int(num_steps or env_a.max_decisions)
    n = keys.shape[0]
    sa, sb = jax.vmap(env_a.reset)(keys), jax.vmap(env_b.reset)(keys)
    initial_gap = jnp.max(jnp.abs(sa.obs - sb.obs))

    def body(carry, t):
        sa, sb, ra, rb, la, lb, alive_a, alive_b, split = carry
        sa_next, res_a = jax.vmap(env_a.step)(sa, policy(params, sa.obs, t))
        sb_next, res_b = jax.vmap(env_b.step)(sb, policy(params, sb.obs, t))
        ra = ra + jnp.where(alive_a, res_a.reward, 0.0)  # where, not *: a finished env may step into NaN
        rb = rb + jnp.where(alive_b, res_b.reward, 0.0)
        la, lb = la + alive_a.astype(jnp.int32), lb + alive_b.astype(jnp.int32)
        both = jnp.logical_and(alive_a, alive_b)
        gap = jnp.max(jnp.abs(res_a.next_obs - res_b.next_obs), axis=-1)
        apart = jnp.logical_and(both, jnp.logical_or(gap > OBS_TOL, res_a.done != res_b.done))
        split = jnp.where(jnp.logical_and(split == steps, apart), t + 1, split)
        alive_a = jnp.logical_and(alive_a, jnp.logical_not(res_a.done))
        alive_b = jnp.logical_and(alive_b, jnp.logical_not(res_b.done))
        return (sa_next, sb_next, ra, rb, la, lb, alive_a, alive_b, split), None

    zeros, izeros, ones = jnp.zeros(n), jnp.zeros(n, jnp.int32), jnp.ones(n, bool)
    init = (sa, sb, zeros, zeros, izeros, izeros, ones, ones, jnp.full(n, steps, jnp.int32))
    (_, _, ra, rb, la, lb, _, _, split), _ = jax.lax.scan(body, init, jnp.arange(steps))
    return {"returns_a": ra, "returns_b": rb, "lengths_a": la, "lengths_b": lb, "split": split,
            "initial_gap": initial_gap}


def compare(native_returns, light_returns, native_lengths=None, light_lengths=None, split=None) -> dict:
    """The statistics of one check and its verdict under the module's tolerance."""
    import numpy as np

    rn, rl = np.asarray(native_returns, float), np.asarray(light_returns, float)
    n = len(rn)
    d = rl - rn
    mean_n, mean_l = float(rn.mean()), float(rl.mean())
    diff = mean_l - mean_n
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else float("inf")
    margin = REL_TOL * abs(mean_n)
    noise = NOISE_SE * se
    passed = abs(diff) <= max(margin, noise)
    out = {"episodes": n, "mean_native": mean_n, "mean_light": mean_l, "diff": diff,
           "rel_diff": diff / abs(mean_n) if mean_n else float("inf"),
           "std_native": float(rn.std(ddof=1)) if n > 1 else 0.0, "std_light": float(rl.std(ddof=1)) if n > 1 else 0.0,
           "std_diff": float(d.std(ddof=1)) if n > 1 else 0.0, "se_diff": se, "margin": margin,
           "ci95": [diff - NOISE_SE * se, diff + NOISE_SE * se],
           "identical": bool(np.array_equal(rn, rl)),
           "pass": bool(passed),
           "reason": ("identical" if np.array_equal(rn, rl) else "within 10%" if abs(diff) <= margin
                      else "within noise" if passed else "differs"),
           "equivalent": bool(abs(diff) + noise <= margin),
           "returns_native": rn.tolist(), "returns_light": rl.tolist()}
    if native_lengths is not None:
        out["mean_length_native"] = float(np.mean(native_lengths))
        out["mean_length_light"] = float(np.mean(light_lengths))
        out["lengths_native"] = np.asarray(native_lengths).tolist()
        out["lengths_light"] = np.asarray(light_lengths).tolist()
    if split is not None:
        out["median_split"] = float(np.median(split))
        out["split"] = np.asarray(split).tolist()
    return out


def run_check(native_env, light_env, policy, params, keys, num_steps: int | None = None) -> dict:
    """``paired_rollout`` (native as a, light as b) compiled and run, then ``compare``d."""
    import jax

    fn = jax.jit(lambda p, k: paired_rollout(native_env, light_env, policy, p, k, num_steps))
    r = jax.device_get(fn(params, keys))
    out = compare(r["returns_a"], r["returns_b"], r["lengths_a"], r["lengths_b"], r["split"])
    out["initial_obs_gap"] = float(r["initial_gap"])
    return out


def open_loop_checks(native_env, light_env, episodes: int, seed: int, num_steps: int | None = None,
                     kinds=("random", "gait")) -> dict:
    """The fixed-action-sequence checks: {kind: compare(...)} for ``random`` and ``gait`` actions."""
    import jax

    steps = int(num_steps or native_env.max_decisions)
    keys = initial_keys(seed, episodes)
    k_rand, k_gait = jax.random.split(jax.random.PRNGKey(seed + 1))
    makers = {"random": lambda: random_actions(k_rand, episodes, steps, native_env.action_dim),
              "gait": lambda: gait_actions(k_gait, episodes, steps, native_env.action_dim,
                                           native_env.decision_seconds)}
    out = {}
    for kind in kinds:
        t0 = time.time()
        out[kind] = run_check(native_env, light_env, open_loop_policy, makers[kind](), keys, steps)
        out[kind]["wall_s"] = time.time() - t0
    return out


# --- the trained policy -----------------------------------------------------------------------------------------
def trained_frames(logdir: str) -> int:
    """The largest env frame in the run's metrics.jsonl (0 when none)."""
    path = os.path.join(logdir, "metrics.jsonl")
    if not os.path.exists(path):
        return 0
    frames = [json.loads(line).get("frames", 0) for line in open(path) if line.strip()]
    return int(max(frames, default=0))


def train_policy(env_name: str, logdir: str, physics: str, total_steps: int, eval_every: int, seed: int = 0) -> float:
    """SAC's fast preset on ``env_name`` under ``physics`` through the launcher, into ``logdir`` (resumed when a run
    is there, skipped when it is finished). Returns the wall-clock seconds spent."""
    if trained_frames(logdir) >= total_steps:
        print(f"{env_name}: reusing the finished run in {logdir}", flush=True)
        return 0.0
    cmd = [sys.executable, "-m", "experiments.train", "--agent=sac", f"--env={env_name}",
           f"--config.env.physics={physics}", f"--total_steps={total_steps}", f"--eval_every={eval_every}",
           f"--seed={seed}", f"--logdir={logdir}", "--tensorboard=false"]
    if os.path.exists(os.path.join(logdir, "config.json")):
        cmd = [c for c in cmd if not c.startswith(("--config.", "--env=", "--agent=", "--seed=", "--eval_every="))]
        cmd.append("--resume")
    print("training:", " ".join(cmd), flush=True)
    t0 = time.time()
    subprocess.run(cmd, check=True)
    return time.time() - t0


def load_policy(logdir: str, physics: str, early_termination: bool = True):
    """(SavedRun of ``logdir``'s newest checkpoint with its env rebuilt under ``physics`` (and without early
    termination if ``early_termination`` is False and the env has it), the physics the run was trained under)."""
    import copy

    from diffsr_jax.envs import make_env_from_config
    from diffsr_jax.training.saved_run import load_saved_run, read_run_files

    config, _ = read_run_files(logdir)
    trained_under = str(config.env.physics)
    other = copy.deepcopy(config)
    with other.unlocked():
        other.env.physics = physics
        if not early_termination and has_early_termination(other.env.name):
            other.env.early_termination = False
    return load_saved_run(logdir, env=make_env_from_config(other)), trained_under


def policy_check(logdir: str, episodes: int, seed: int, num_steps: int | None = None,
                 early_termination: bool = True) -> dict:
    """The trained policy of member 0 of the run in ``logdir``, deterministic, under both settings."""
    import jax

    native, trained_under = load_policy(logdir, "native", early_termination)
    light, _ = load_policy(logdir, "light", early_termination)
    trainer = native.trainer
    agent_state = jax.tree_util.tree_map(lambda x: x[0], native.runner.agent)
    stats = jax.tree_util.tree_map(lambda x: x[0], native.runner.obs_stats)
    act_key = jax.random.PRNGKey(0)  # unused by a deterministic policy

    def policy(p, obs, t):
        del t
        agent, st = p
        return trainer.agent.act(agent, trainer.normalize(st, obs), act_key, True)

    t0 = time.time()
    with jax.default_matmul_precision(native.config.run.matmul_precision):
        out = run_check(native.trainer.env, light.trainer.env, policy, (agent_state, stats),
                        initial_keys(seed, episodes), num_steps)
    out.update(wall_s=time.time() - t0, logdir=logdir, frames=native.frames, trained_under=trained_under,
               logged_eval_return=_last_eval(logdir))
    return out


def _last_eval(logdir: str):
    path = os.path.join(logdir, "metrics.jsonl")
    rows = [json.loads(line) for line in open(path) if line.strip()] if os.path.exists(path) else []
    return rows[-1].get("eval/return") if rows else None


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script (tests import this module beside other benchmarks
    whose flags share names)."""
    flags.DEFINE_list("envs", list(ENVS), "Brax envs (mjx backend) to check")
    flags.DEFINE_integer("episodes", 16, "episodes per check (N), the same initial states under both settings")
    flags.DEFINE_integer("episode_length", 1000, "env frames per episode")
    flags.DEFINE_bool("early_termination", True, "false: the checks (not the training) without termination on falling "
                      "(hopper, walker2d, ant; the mbbl_noet suite's setting)")
    flags.DEFINE_integer("seed", 0, "seed of the initial states and the action sequences")
    flags.DEFINE_list("checks", ["random", "gait", "policy"], "which checks: random, gait, policy")
    flags.DEFINE_integer("train_steps", 30_000, "env frames of SAC (fast preset) training per env")
    flags.DEFINE_integer("train_eval_every", 10_000, "env frames between the training run's evaluations")
    flags.DEFINE_string("train_physics", "light", "the physics the policy is trained under: light or native")
    flags.DEFINE_string("workdir", "/tmp/faith", "trained runs go to <workdir>/<env name>")
    flags.DEFINE_list("policy_dirs", [], "env=logdir,...: reuse these trained runs (no training for those envs)")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", "physics_faithfulness", "output name")


FLAGS = flags.FLAGS

HEADER = ["env", "check", "mean native", "mean light", "diff", "rel diff", "std native / light", "SE diff",
          "length native / light", "split (median)", "verdict"]


def _row(env_name, check, r):
    verdict = ("pass" if r["pass"] else "FAIL") + f" ({r['reason']}{'; CI in 10%' if r['equivalent'] else ''})"
    rel = f"{100 * r['rel_diff']:+.1f}%" if math.isfinite(r["rel_diff"]) else "-"
    name = check if check != "policy" else f"policy ({r['trained_under']}-trained, {r['frames'] // 1000}k)"
    return [env_name, name, f"{r['mean_native']:.1f}", f"{r['mean_light']:.1f}", f"{r['diff']:+.1f}", rel,
            f"{r['std_native']:.1f} / {r['std_light']:.1f}", f"{r['se_diff']:.1f}",
            f"{r['mean_length_native']:.0f} / {r['mean_length_light']:.0f}", f"{r['median_split']:.0f}", verdict]


def _write(results, t_start):
    from benchmarks.common import machine, write_results

    rows = [_row(e, c, r) for e, checks in results.items() for c, r in checks.items() if isinstance(r, dict)
            and "pass" in r]
    payload = {"machine": machine(), "command": " ".join(sys.argv), "wall_s": time.time() - t_start,
               "tolerance": f"|mean_light - mean_native| <= max({REL_TOL} * |mean_native|, {NOISE_SE} * SE of the "
                            "paired difference)",
               "episodes": FLAGS.episodes, "episode_length": FLAGS.episode_length, "seed": FLAGS.seed,
               "early_termination": FLAGS.early_termination, "train_physics": FLAGS.train_physics,
               "faithful": {e: all(r["pass"] for r in checks.values() if isinstance(r, dict) and "pass" in r)
                            for e, checks in results.items()},
               "results": results}
    return write_results(FLAGS.name, payload, rows, HEADER, FLAGS.out)


def main(_):
    from diffsr_jax.training.compile_cache import setup_compile_cache

    setup_compile_cache()
    t_start = time.time()
    policy_dirs = dict(item.split("=", 1) for item in FLAGS.policy_dirs)
    out_json = os.path.join(FLAGS.out, f"{FLAGS.name}.json")
    results = {}
    if os.path.exists(out_json):  # resume: keep the envs already measured with the same settings
        old = json.load(open(out_json))
        if (old.get("episodes"), old.get("episode_length"), old.get("seed"), old.get("early_termination", True)) == (
                FLAGS.episodes, FLAGS.episode_length, FLAGS.seed, FLAGS.early_termination):
            results = {e: r for e, r in old.get("results", {}).items() if e in FLAGS.envs}
    for env_name in FLAGS.envs:
        checks = results.setdefault(env_name, {})
        native_env, light_env = env_pair(env_name, FLAGS.episode_length, FLAGS.early_termination)
        checks["solver"] = {"native": native_env.solver, "light": light_env.solver}
        todo = [k for k in ("random", "gait") if k in FLAGS.checks and k not in checks]
        if todo:
            checks.update(open_loop_checks(native_env, light_env, FLAGS.episodes, FLAGS.seed, kinds=todo))
            for k in todo:
                print(env_name, k, _row(env_name, k, checks[k]), flush=True)
            _write(results, t_start)
        if "policy" in FLAGS.checks and "policy" not in checks:
            logdir = policy_dirs.get(env_name) or os.path.join(FLAGS.workdir, env_name.split("/")[-1])
            train_s = 0.0
            if env_name not in policy_dirs:
                train_s = train_policy(env_name, logdir, FLAGS.train_physics, FLAGS.train_steps,
                                       FLAGS.train_eval_every, FLAGS.seed)
            checks["policy"] = policy_check(logdir, FLAGS.episodes, FLAGS.seed,
                                            early_termination=FLAGS.early_termination)
            checks["policy"]["train_wall_s"] = train_s
            print(env_name, "policy", _row(env_name, "policy", checks["policy"]), flush=True)
            _write(results, t_start)
    print(_write(results, t_start))


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
