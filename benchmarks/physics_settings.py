"""Which physics settings between ``light`` and ``native`` are faithful to native? (issue 46)

    python -m benchmarks.physics_settings --policies=mbbl/halfcheetah=/work/runs/table1/mbbl/halfcheetah/sac
    python -m benchmarks.physics_settings --policies=brax/hopper=/tmp/phys/hopper --episodes=256

Each env comes with a run trained under ``native`` (``--policies=env=logdir,...``; every member of the run plays, the
episodes split evenly between them, deterministic actions). Each candidate setting (``--settings``, names of
``diffsr_jax.envs.physics``) is compared with ``native`` three ways:

1. **k-step state error.** The policy plays ``--snapshot_episodes`` episodes under native; every ``--snapshot_every``
   decisions its full simulator state is kept with the actions that followed. From each kept state at which the
   episode runs at least max(k) more decisions, native and the candidate each step k = 1, 10, 50 decisions with the
   SAME actions (open loop) and their joint positions and velocities are compared: per start state the largest
   absolute difference over the qpos entries (m or rad) and over the qvel entries (m/s or rad/s); the median and
   90th percentile over start states are reported. The floor (``native_float_floor``): native replayed from a kept
   state against the kept states 25 and 50 decisions later, the same physics compiled in another program, whose
   float32 rounding differs (chaos grows it). This is a diagnostic (it ranks the settings and shows how a
   difference grows), not the verdict.
2. **Reward parts.** ``--episodes`` closed-loop episodes (the same reset keys, the same policy) under each setting;
   per episode the sums of the reward's parts: forward motion, alive bonus, control cost (and the height term of the
   MBBL tasks, the contact cost of ant), each compared as a paired difference with native.
3. **Return of the native-trained policy** in the same episodes, a paired difference with native.

Verdict (fixed before measuring, docs/physics.md): with d_i the paired per-episode difference (candidate - native)
of the return, or of one reward part, and its 95% interval D +- 1.96 SE (SE = std(d, ddof=1) / sqrt(N)), a setting is

- ``equivalent`` when the interval of the return AND of every reward part lies inside +-``--margin`` (5%) of
  |native's mean return|;
- ``not equivalent`` when one of these intervals lies entirely outside that margin;
- ``undetermined`` otherwise (N episodes cannot tell).

Outputs ``<out>/<name>.{json,md}`` (``benchmarks.common.write_results``), rewritten after every setting; a rerun
keeps the (env, setting) pairs already measured with the same episodes, seed and margin.
"""

from __future__ import annotations

import json
import os
import sys
import time

from absl import flags

from experiments.stats import Z95, paired

CANDIDATES = ("light", "i4ls4", "i4ls4_nodamp", "i2ls8", "i2ls8_nodamp", "i1ls50", "i1ls50_nodamp")
K_STEPS = (1, 10, 50)
PART_NAMES = {  # Brax's metric of each reward part
    "reward_forward": "forward", "reward_run": "forward", "reward_healthy": "alive", "reward_survive": "alive",
    "reward_ctrl": "control", "reward_contact": "contact",
}


# --- the policy and the env of a setting ------------------------------------------------------------------------
def load_run(logdir: str):
    """(SavedRun, policy(params, obs) -> action, params stacked over members (M, ...)) of a trained run."""
    from diffsr_jax.training.saved_run import load_saved_run

    saved = load_saved_run(logdir)
    trainer = saved.trainer
    import jax

    act_key = jax.random.PRNGKey(0)  # unused by a deterministic policy

    def policy(params, obs):
        agent, stats = params
        return trainer.agent.act(agent, trainer.normalize(stats, obs), act_key, True)

    return saved, policy, (saved.runner.agent, saved.runner.obs_stats)


def env_under(config, physics: str):
    """The run's env (``config.env``) rebuilt under ``physics``."""
    import copy

    from diffsr_jax.envs import make_env_from_config

    other = copy.deepcopy(config)
    with other.unlocked():
        other.env.physics = physics
    return make_env_from_config(other)


def pipeline(inner):
    """The Brax pipeline state (q, qd) of an adapter's inner state: a Brax ``State`` (brax/...) or the pipeline state
    itself (mbbl/...)."""
    return inner.pipeline_state if hasattr(inner, "pipeline_state") else inner


def reward_parts(env, state, action, nxt) -> dict:
    """{part: () float} of one env's step from ``state`` with ``action`` (in [-1, 1]) to ``nxt``: Brax's reward
    metrics for brax/..., MBBL's terms (``envs.mbbl.mbbl_reward``) for mbbl/..."""
    import jax.numpy as jnp

    if hasattr(env, "task"):  # MBBLEnv: the reward of a step is computed from the observation before it
        task, obs, a = env.task, env.observe(state.inner), env.scale_action(action)
        parts = {"forward": task.velocity_coeff * obs[task.velocity_index],
                 "control": -task.ctrl_coeff * jnp.sum(jnp.square(a))}
        if task.height_coeff:
            parts["height"] = -task.height_coeff * (obs[0] - task.height_target) ** 2
        if task.unhealthy is not None:
            parts["alive"] = task.alive_bonus * (1.0 - task.unhealthy(obs).astype(jnp.float32))
        return parts
    metrics = nxt.inner.metrics
    return {part: jnp.asarray(metrics[m], jnp.float32) for m, part in PART_NAMES.items() if m in metrics}


def rollout(env, policy, params, keys, steps: int):
    """Closed-loop episodes of ``policy`` from ``keys`` (E,) under ``env`` (one member's params), each episode once, no
    reset; stops when all have ended. Returns {"return", "length", "parts": {part: (E,)}, "parts_gap": the largest
    |sum of parts - reward| of a step}."""
    import jax
    import jax.numpy as jnp

    state = jax.vmap(env.reset)(keys)
    n = keys.shape[0]
    zero_action = jnp.zeros(env.action_dim)
    names = jax.eval_shape(lambda s: reward_parts(env, s, zero_action, env.step(s, zero_action)[0]),
                           jax.tree_util.tree_map(lambda x: x[0], state)).keys()

    def body(carry):
        t, state, alive, ret, length, parts, gap = carry
        action = policy(params, state.obs)
        nxt, res = jax.vmap(env.step)(state, action)
        step_parts = jax.vmap(lambda s, a, x: reward_parts(env, s, a, x))(state, action, nxt)
        ret = ret + jnp.where(alive, res.reward, 0.0)
        parts = {k: parts[k] + jnp.where(alive, step_parts[k], 0.0) for k in parts}
        total = sum(step_parts[k] for k in parts)
        gap = jnp.maximum(gap, jnp.max(jnp.where(alive, jnp.abs(total - res.reward), 0.0)))
        length = length + alive.astype(jnp.int32)
        alive = jnp.logical_and(alive, jnp.logical_not(res.done))
        return t + 1, nxt, alive, ret, length, parts, gap

    def cond(carry):
        return jnp.logical_and(carry[0] < steps, jnp.any(carry[2]))

    parts0 = {k: jnp.zeros(n) for k in names}
    init = (jnp.zeros((), jnp.int32), state, jnp.ones(n, bool), jnp.zeros(n), jnp.zeros(n, jnp.int32), parts0,
            jnp.zeros(()))
    _, _, _, ret, length, parts, gap = jax.lax.while_loop(cond, body, init)
    return {"return": ret, "length": length, "parts": parts, "parts_gap": gap}


def record(env, policy, params, keys, steps: int, every: int):
    """Native closed-loop episodes from ``keys`` (E,), keeping the full env state every ``every`` decisions.
    Returns (states with leading (steps // every, E), actions (E, steps, d_a), alive (E, steps): the episode had
    not ended before decision t)."""
    import jax
    import jax.numpy as jnp

    state = jax.vmap(env.reset)(keys)

    def step(carry, _):
        state, alive = carry
        action = policy(params, state.obs)
        nxt, res = jax.vmap(env.step)(state, action)
        return (nxt, jnp.logical_and(alive, jnp.logical_not(res.done))), (action, alive)

    def block(carry, _):
        carry_next, (actions, alive) = jax.lax.scan(step, carry, None, length=every)
        return carry_next, (carry[0], actions, alive)

    _, (snaps, actions, alive) = jax.lax.scan(block, (state, jnp.ones(keys.shape[0], bool)), None,
                                              length=steps // every)
    e = keys.shape[0]
    actions = jnp.moveaxis(actions, 2, 0).reshape(e, -1, env.action_dim)
    alive = jnp.moveaxis(alive, 2, 0).reshape(e, -1)
    return snaps, actions, alive


def open_loop(env, starts, actions):
    """(q (S, K, nq), qd (S, K, nv)) after each of the K decisions of ``actions`` (S, K, d_a) from ``starts`` (S,)."""
    import jax

    def step(state, a):
        nxt, _ = jax.vmap(env.step)(state, a)
        ps = pipeline(nxt.inner)
        return nxt, (ps.q, ps.qd)

    _, (q, qd) = jax.lax.scan(step, starts, jax.numpy.moveaxis(actions, 1, 0))
    return jax.numpy.moveaxis(q, 0, 1), jax.numpy.moveaxis(qd, 0, 1)


# --- statistics -------------------------------------------------------------------------------------------------
def judge(nat: dict, returns, lengths, parts: dict, margin: float) -> dict:
    """The return, reward-part and length comparisons of a setting's episodes with native's, and its verdict."""
    scale = nat["mean_return"]
    ret = paired(nat["returns"], returns, scale, margin)
    by_part = {k: paired(nat["parts"][k], parts[k], scale, margin) for k in nat["parts"]}
    return {"return": ret, "parts": by_part, "length": paired(nat["lengths"], lengths, 1.0, 0.0),
            "verdict": combine([ret["verdict"], *(p["verdict"] for p in by_part.values())])}


def combine(verdicts) -> str:
    """The setting's verdict from those of its return and reward parts."""
    verdicts = list(verdicts)
    if all(v == "equivalent" for v in verdicts):
        return "equivalent"
    return "not equivalent" if "not equivalent" in verdicts else "undetermined"


def kstep_summary(q_c, qd_c, q_n, qd_n, ks) -> dict:
    """{k: median / p90 / max over start states of the largest |qpos| and |qvel| difference after k decisions}."""
    import numpy as np

    out = {}
    for k in ks:  # a start state whose candidate blew up (not finite) counts as an infinite error
        eq = np.max(np.abs(np.asarray(q_c[:, k - 1]) - np.asarray(q_n[:, k - 1])), axis=-1)
        ev = np.max(np.abs(np.asarray(qd_c[:, k - 1]) - np.asarray(qd_n[:, k - 1])), axis=-1)
        eq, ev = (np.where(np.isfinite(e), e, np.inf) for e in (eq, ev))
        out[str(k)] = {"qpos_median": float(np.median(eq)), "qpos_p90": float(np.percentile(eq, 90)),
                       "qpos_max": float(eq.max()), "qvel_median": float(np.median(ev)),
                       "qvel_p90": float(np.percentile(ev, 90)), "qvel_max": float(ev.max()),
                       "nonfinite": int(np.sum(~np.isfinite(eq)))}
    return out


# --- one env ----------------------------------------------------------------------------------------------------
def measure_env(env_name: str, logdir: str, settings, results: dict, save) -> None:
    """Measure every setting of ``settings`` not yet in ``results[env_name]`` (updated in place; ``save()`` after
    each setting)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from benchmarks.physics_faithfulness import _last_eval

    saved, policy, params = load_run(logdir)
    config = saved.config
    if config.env.name != env_name:
        raise SystemExit(f"{logdir} is a run on {config.env.name}, not {env_name}")
    if str(config.env.physics) != "native":
        raise SystemExit(f"{logdir} was trained under physics={config.env.physics}, not native")
    members = jax.tree_util.tree_leaves(params)[0].shape[0]
    per_member = -(-FLAGS.episodes // members)
    keys = jax.random.split(jax.random.PRNGKey(FLAGS.seed), members * per_member).reshape(members, per_member, -1)
    native_env = env_under(config, "native")
    steps = native_env.max_decisions
    r = results.setdefault(env_name, {})
    r.update(logdir=logdir, frames=saved.frames, members=members, episodes=members * per_member,
             logged_eval_return=_last_eval(logdir), trained_under=str(config.env.physics), max_decisions=steps,
             solver={"native": native_env.solver})
    prec = config.run.matmul_precision

    def play(env):
        fn = jax.jit(jax.vmap(lambda p, k: rollout(env, policy, p, k, steps)))
        t0 = time.time()
        with jax.default_matmul_precision(prec):
            out = jax.device_get(fn(params, keys))
        flat = {"return": np.asarray(out["return"]).reshape(-1), "length": np.asarray(out["length"]).reshape(-1),
                "parts": {k: np.asarray(v).reshape(-1) for k, v in out["parts"].items()},
                "parts_gap": float(np.max(out["parts_gap"])), "wall_s": time.time() - t0}
        return flat

    if "native" not in r:
        nat = play(native_env)
        r["native"] = {"returns": nat["return"].tolist(), "lengths": nat["length"].tolist(),
                       "parts": {k: v.tolist() for k, v in nat["parts"].items()}, "parts_gap": nat["parts_gap"],
                       "mean_return": float(nat["return"].mean()), "std_return": float(nat["return"].std(ddof=1)),
                       "mean_length": float(nat["length"].mean()),
                       "mean_parts": {k: float(v.mean()) for k, v in nat["parts"].items()}, "wall_s": nat["wall_s"]}
        print(env_name, "native", f"return {r['native']['mean_return']:.1f} +- {r['native']['std_return']:.1f}",
              f"length {r['native']['mean_length']:.0f}", r["native"]["mean_parts"], flush=True)
        save()
    nat = r["native"]

    todo = [p for p in settings if p not in r.get("settings", {})]
    if not todo:
        return
    # the kept states of native episodes and the k-step replays from them
    ks = tuple(int(k) for k in FLAGS.k_steps)
    kmax = max(ks)
    snap_members = min(members, FLAGS.snapshot_episodes)
    snap_per = -(-FLAGS.snapshot_episodes // snap_members)
    every = FLAGS.snapshot_every
    rec = jax.jit(jax.vmap(lambda p, k: record(native_env, policy, p, k, steps, every)))
    sub = jax.tree_util.tree_map(lambda x: x[:snap_members], params)
    with jax.default_matmul_precision(prec):
        snaps, actions, alive = rec(sub, keys[:snap_members, :snap_per])
    # flatten (member, block, episode) -> start states; actions and alive to (member * episode, steps)
    blocks = steps // every
    snaps = jax.tree_util.tree_map(  # explicit sizes: some leaves of MJX's Data are empty
        lambda x: jnp.moveaxis(x, 1, 2).reshape((x.shape[0] * x.shape[2], blocks) + x.shape[3:]), snaps)
    actions = actions.reshape(-1, steps, native_env.action_dim)
    alive = np.asarray(alive).reshape(-1, steps)
    starts = [(e, b) for e in range(alive.shape[0]) for b in range(blocks)
              if b * every + kmax <= steps and alive[e, b * every + kmax - 1]]
    if not starts:
        raise SystemExit(f"{env_name}: no kept native state with {kmax} decisions left in its episode")
    e_idx, b_idx = np.array([s[0] for s in starts]), np.array([s[1] for s in starts])
    start_states = jax.tree_util.tree_map(lambda x: x[e_idx, b_idx], snaps)
    t_idx = b_idx[:, None] * every + np.arange(kmax)[None, :]
    start_actions = actions[e_idx[:, None], t_idx]
    def replay_of(env):
        return jax.device_get(jax.jit(lambda s, a: open_loop(env, s, a))(start_states, start_actions))

    q_n, qd_n = replay_of(native_env)
    # the float floor: native replayed open loop from a kept state vs the next kept states (the same physics in
    # another compiled program: their float32 rounding differs, and chaos grows the difference)
    kept_q, kept_qd = (np.asarray(a) for a in (pipeline(snaps.inner).q, pipeline(snaps.inner).qd))
    floor = {}
    for j in range(1, kmax // every + 1):
        pairs = [(i, e, b + j) for i, (e, b) in enumerate(starts) if b + j < blocks]
        if pairs:
            i_s, e_s, b_s = (np.array(v) for v in zip(*pairs))
            eq = np.max(np.abs(np.asarray(q_n)[i_s, j * every - 1] - kept_q[e_s, b_s]), axis=-1)
            ev = np.max(np.abs(np.asarray(qd_n)[i_s, j * every - 1] - kept_qd[e_s, b_s]), axis=-1)
            floor[str(j * every)] = {"qpos_median": float(np.median(eq)), "qpos_p90": float(np.percentile(eq, 90)),
                                     "qpos_max": float(eq.max()), "qvel_median": float(np.median(ev)),
                                     "qvel_p90": float(np.percentile(ev, 90)), "qvel_max": float(ev.max())}
    r["kstep_starts"] = len(starts)
    r["native_float_floor"] = floor
    print(env_name, f"{len(starts)} start states; native vs its own replay (float floor):", floor, flush=True)

    for physics in todo:
        t0 = time.time()
        env = env_under(config, physics)
        q_c, qd_c = replay_of(env)
        kstep = kstep_summary(q_c, qd_c, q_n, qd_n, ks)
        out = play(env)
        row = {"solver": env.solver, **judge(nat, out["return"], out["length"], out["parts"], FLAGS.margin),
               "kstep": kstep, "returns": out["return"].tolist(), "lengths": out["length"].tolist(),
               "parts_per_episode": {k: v.tolist() for k, v in out["parts"].items()},
               "parts_gap": out["parts_gap"], "wall_s": time.time() - t0}
        r.setdefault("settings", {})[physics] = row
        print(env_name, physics, _row(env_name, physics, row, nat), flush=True)
        save()


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script (tests import this module)."""
    flags.DEFINE_list("policies", [], "env=logdir,...: a run trained under native per env (all its members play)")
    flags.DEFINE_list("settings", list(CANDIDATES), "candidate physics settings (compared with native)")
    flags.DEFINE_integer("episodes", 128, "closed-loop episodes per setting (split evenly between the run's members)")
    flags.DEFINE_float("margin", 0.05, "equivalence margin, a fraction of |native's mean return|")
    flags.DEFINE_integer("seed", 0, "seed of the reset keys")
    flags.DEFINE_list("k_steps", [str(k) for k in K_STEPS], "decisions of the open-loop state comparison")
    flags.DEFINE_integer("snapshot_episodes", 16, "native episodes whose states are kept for the k-step comparison")
    flags.DEFINE_integer("snapshot_every", 25, "decisions between kept states")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", "physics_settings", "output name")
    flags.DEFINE_string("table_speed", "", "write only the table of docs/physics.md from this physics_speed JSON ...")
    flags.DEFINE_list("table_settings", [], "... and these JSONs of this script ...")
    flags.DEFINE_list("table_model_of", ["mbbl/halfcheetah=brax/halfcheetah"], "... (env=speed env of its model)")


FLAGS = flags.FLAGS

COMMANDS = []  # the calls that measured the file's results, the current one last

HEADER = ["env", "physics", "return native / setting", "return diff [95% CI] (% of native)", "parts diff (% of native)",
          "length diff", "qpos err k=1 / 10 / 50 (median)", "qvel err k=1 / 10 / 50 (median)", "verdict"]


def _pct(x):
    return f"{100 * x:+.1f}%"


def _row(env_name, physics, row, nat):
    ret = row["return"]
    ci = ret["rel_ci95"]
    parts = ", ".join(f"{k} {_pct(p['rel_diff'])} [{_pct(p['rel_ci95'][0])}, {_pct(p['rel_ci95'][1])}]"
                      for k, p in row["parts"].items())
    kq = " / ".join(f"{row['kstep'][k]['qpos_median']:.1e}" for k in row["kstep"])
    kv = " / ".join(f"{row['kstep'][k]['qvel_median']:.1e}" for k in row["kstep"])
    return [env_name, physics, f"{nat['mean_return']:.1f} / {ret['mean_candidate']:.1f}",
            f"{ret['diff']:+.1f} [{ret['ci95'][0]:+.1f}, {ret['ci95'][1]:+.1f}] ({_pct(ret['rel_diff'])} "
            f"[{_pct(ci[0])}, {_pct(ci[1])}])", parts, f"{row['length']['diff']:+.1f}", kq, kv, row["verdict"]]


def _write(results, t_start):
    from benchmarks.common import machine, write_results

    rows = [_row(e, p, row, r["native"]) for e, r in results.items() for p, row in r.get("settings", {}).items()]
    payload = {"machine": machine(), "command": "; ".join(COMMANDS), "commands": COMMANDS,
               "wall_s": time.time() - t_start,
               "rule": f"equivalent: the 95% interval (D +- {Z95:.2f} SE) of the paired difference of the return and "
                       f"of every reward part inside +-{FLAGS.margin} |native mean return|; not equivalent: one of "
                       "them entirely outside; else undetermined",
               "episodes": FLAGS.episodes, "margin": FLAGS.margin, "seed": FLAGS.seed,
               "snapshot_episodes": FLAGS.snapshot_episodes, "snapshot_every": FLAGS.snapshot_every,
               "results": results}
    return write_results(FLAGS.name, payload, rows, HEADER, FLAGS.out)


def physics_table(speed_path: str, settings_paths, model_of=None) -> str:
    """The markdown table of docs/physics.md: per env and setting, env steps/s at each batch size
    (``benchmarks.physics_speed`` JSON) beside the faithfulness results (this script's JSONs); ``model_of`` maps a
    faithfulness env (mbbl/halfcheetah) to the speed env of its model (brax/halfcheetah)."""
    speed = json.load(open(speed_path))
    faith = {}
    for path in settings_paths:
        for env_name, r in json.load(open(path))["results"].items():
            faith[(model_of or {}).get(env_name, env_name)] = (env_name, r)
    batches = sorted({r["batch"] for r in speed["results"]})
    header = (["env", "physics"] + [f"steps/s B={b} (vs native)" for b in batches]
              + ["qpos err, median at k=1 / 10 / 50 (p90 at 50)", "return diff [95% CI], % of native",
                 "reward parts diff [95% CI], % of native return", "verdict"])
    rows = []
    for env_name in dict.fromkeys(r["env"] for r in speed["results"]):
        by_batch = {r["batch"]: r for r in speed["results"] if r["env"] == env_name}
        f_env, f = faith.get(env_name, (None, None))
        for physics in speed["settings"]:
            cells = [env_name if f_env in (None, env_name) else f"{env_name} ({f_env} policy)", physics]
            for b in batches:
                r = by_batch.get(b)
                cells.append(f"{r['steps_per_s'][physics]:.0f} ({r['over_native'][physics]:.2f}x)" if r else "-")
            row = None if f is None else f.get("settings", {}).get(physics)
            if physics == "native" and f is not None:
                nat = f["native"]
                floor = f.get("native_float_floor", {})
                fl = " / ".join(f"{floor[k]['qpos_median']:.1e}" for k in floor)
                cells += [f"float floor at k={' / '.join(floor)}: {fl} (p90 at {list(floor)[-1]}: "
                          f"{floor[list(floor)[-1]]['qpos_p90']:.1e})",
                          f"mean return {nat['mean_return']:.0f} (sd {nat['std_return']:.0f}, length "
                          f"{nat['mean_length']:.0f}; N={len(nat['returns'])})",
                          "means: " + "; ".join(f"{k} {v:.0f}" for k, v in sorted(
                              nat["mean_parts"].items(), key=lambda kv: _PART_ORDER.get(kv[0], 9))), "reference"]
            elif row is None:
                cells += ["not measured"] * 3 + ["-"]
            else:
                ks = list(row["kstep"])
                err = (" / ".join(f"{row['kstep'][k]['qpos_median']:.1e}" for k in ks)
                       + f" ({row['kstep'][ks[-1]]['qpos_p90']:.1e})")
                ret = row["return"]
                parts = "; ".join(f"{k} {_pct(p['rel_diff'])} [{_pct(p['rel_ci95'][0])}, {_pct(p['rel_ci95'][1])}]"
                                  for k, p in sorted(row["parts"].items(), key=lambda kv: _PART_ORDER.get(kv[0], 9)))
                cells += [err, f"{_pct(ret['rel_diff'])} [{_pct(ret['rel_ci95'][0])}, {_pct(ret['rel_ci95'][1])}]",
                          parts, row["verdict"]]
            rows.append(cells)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in rows])


_PART_ORDER = {"forward": 0, "alive": 1, "control": 2, "height": 3, "contact": 4}


def main(_):
    from diffsr_jax.training.compile_cache import setup_compile_cache

    if FLAGS.table_speed:
        from benchmarks.common import write_whole

        md = physics_table(FLAGS.table_speed, FLAGS.table_settings,
                           dict(item.split("=", 1) for item in FLAGS.table_model_of))
        write_whole(os.path.join(FLAGS.out, f"{FLAGS.name}.md"), f"# {FLAGS.name}\n\ncommand: `{' '.join(sys.argv)}`"
                    f"\n\n{md}\n")
        print(md)
        return

    setup_compile_cache()
    t_start = time.time()
    policies = dict(item.split("=", 1) for item in FLAGS.policies)
    if not policies:
        raise SystemExit("--policies=env=logdir,... is required")
    out_json = os.path.join(FLAGS.out, f"{FLAGS.name}.json")
    results = {}
    if os.path.exists(out_json):  # resume: keep what was measured with the same episodes, seed and margin
        old = json.load(open(out_json))
        if (old.get("episodes"), old.get("seed"), old.get("margin")) == (FLAGS.episodes, FLAGS.seed, FLAGS.margin):
            results = old.get("results", {})
            COMMANDS.extend(old.get("commands", [old.get("command", "")]))
            for r in results.values():  # the verdicts as this version of the rule gives them
                for row in r.get("settings", {}).values():
                    row.update(judge(r["native"], row["returns"], row["lengths"], row["parts_per_episode"],
                                     FLAGS.margin))
    COMMANDS.append(" ".join(sys.argv))
    for env_name, logdir in policies.items():
        measure_env(env_name, logdir, FLAGS.settings, results, lambda: _write(results, t_start))
    print(_write(results, t_start))


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
