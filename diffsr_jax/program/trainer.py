"""One compiled training program.

Everything here is for ONE seed; seeds (and hyperparameter settings) are a ``jax.vmap`` axis laid over it.
The per-iteration body (act, env step, auto-reset, replay insert, sample, updates, target updates) runs inside
``lax.scan``; the iteration index ``t`` comes from the scan's xs and stays unbatched under ``vmap``.

No branch and no loop of unknown length in the compiled program (on a GPU each would copy its predicate to the host
and wait): which iterations are the random warm-up is static (a chunk's warm-up iterations are a scan of their own,
``warmup_in``); so is whether a chunk holds the agent's pre-training (``pretrain_in``: an agent's optional
``pretrain``, run once between the warm-up's last iteration and the first update); the reset pool is refilled at the
start of each block of a nested scan (``AutoReset.blocks``); and TD3's delayed actor update is masked.
``benchmarks/hlo_census.py`` reads this from the compiled HLO (a test too).

Units: one iteration = one decision in each of ``num_envs`` envs = ``num_envs * action_repeat`` env frames.
Budgets in the config (``total_steps``, ``warmup_steps``, ``eval_every``, ``checkpoint_every``) count frames.

Metric names are namespaced so they cannot collide: ``train/...`` (chunk means of the learner's update
metrics and of finished training episodes), ``eval/...`` (deterministic-policy evaluation), ``diag/...``
(agent diagnostics on a replay batch at evaluation time).

- ``Trainer.init(rng, hp)`` -> RunnerState
- ``Trainer.chunk(runner, t0, num_iters, warmup_iters, pretrain)`` -> (RunnerState, metrics): iterations t0 ..
  t0+n-1 (the first ``warmup_iters`` warm-up, then the agent's pre-training where ``pretrain``), then an evaluation
  and the diagnostics. This is THE compiled unit: ``make_train`` scans it (one scan per run of chunks of one shape,
  ``chunk_groups``), the launcher calls it once per chunk.
- ``make_train(config)`` -> ``train(rng, hp=None)``: the whole run as one program, built from ``chunk``.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from diffsr_jax.agents.registry import make_agent
from diffsr_jax.data.normalizer import RunningStats, normalize, stats_init, stats_update
from diffsr_jax.data.layout import layout_replay_init, replay_layout
from diffsr_jax.data.replay import ReplayBuffer, replay_add
from diffsr_jax.data.sampler import ReplaySampler
from diffsr_jax.data.transition import Transition
from diffsr_jax.envs import AutoReset, EnvState, ResetPool, make_env_from_config
from diffsr_jax.envs.base import freeze_where
from diffsr_jax.program.threefry import use_threefry_lowering
from diffsr_jax.config.budget import eval_schedule, iterations, replay_capacity
from diffsr_jax.program.retrace import strongly_typed, trace_guard

EVAL_STREAM = 0x65766131  # fold_in constant of the evaluation key; far from the small counters ``split`` uses
PRETRAIN_STREAM = 0x70726531  # fold_in constant of the pre-training's key (so the run's own stream is untouched)
DIAGNOSTIC_BATCH = 2048  # replay transitions the diagnostics see at each evaluation (the probes fit on half of them)
@flax.struct.dataclass
class RunnerState:
    agent: Any
    env_state: EnvState  # batched over num_envs
    reset_pool: ResetPool | None  # fresh initial states for auto-reset (None with auto_reset=every_step)
    buffer: ReplayBuffer
    obs_stats: RunningStats
    key: jax.Array


class Trainer:
    """Static pieces of a run (env, agent, sizes) built once from the config."""

    def __init__(self, config, env=None, layout=None):
        use_threefry_lowering("unrolled")  # every CPU compile from here on: the GPU's random-number chain, no loop
        self.config = config
        self.env = env if env is not None else make_env_from_config(config)
        self.agent = make_agent(config, self.env.obs_dim, self.env.action_dim)
        self.num_envs = int(config.env.num_envs)
        self.action_repeat = int(self.env.action_repeat)
        self.frames_per_iter = self.num_envs * self.action_repeat
        self.num_iters = int(config.run.total_steps) // self.frames_per_iter
        self.warmup_iters = int(config.run.warmup_steps) // self.frames_per_iter
        self.pretrain_steps = int(getattr(self.agent, "pretrain_steps", 0))  # the agent's optional pre-training
        self.updates_per_step = int(config.run.updates_per_step)
        self.capacity = replay_capacity(config)
        # how the replay keeps a transition (data.layout): pixel stacks as their newest frames
        self.layout = layout if layout is not None else replay_layout(self.env, self.num_envs)
        self.auto_reset = AutoReset(self.env, config.env.auto_reset,
                                    max(int(config.env.reset_pool_size), self.num_envs),
                                    int(config.env.reset_pool_refill))
        self._chunk_guards = {}  # (num_iters, warmup_iters, pretrain) -> the guarded chunk of that shape (``chunk``)

    # --- helpers ---------------------------------------------------------------------------------
    def normalize(self, stats, obs):
        return normalize(stats, obs, float(self.config.replay.normalize_clip)) if self.config.replay.normalize_obs else obs

    def default_hparams(self) -> dict:
        return self.agent.hparams()

    # --- init ------------------------------------------------------------------------------------
    def init(self, rng, hp: dict | None = None) -> RunnerState:
        hp = self.default_hparams() if hp is None else hp
        k_env, _, k_run = jax.random.split(rng, 3)
        env_state, pool = self.auto_reset.start(k_env, self.num_envs)
        agent_state = self.init_agent(rng, hp)
        # strongly typed: the state a chunk returns then has the types of the one it was given (retrace guard, chunk)
        return strongly_typed(RunnerState(agent_state, env_state, pool,
                                          layout_replay_init(self.layout, self.env, self.capacity),
                                          stats_init(self.env.obs_dim), k_run))

    def init_agent(self, rng, hp: dict):
        """The agent's state at the start of the run seeded by ``rng``: ``init``'s, without the env and the replay."""
        return self.agent.init(jax.random.split(rng, 3)[1], hp)

    # --- one iteration ---------------------------------------------------------------------------
    def sampler(self, runner: RunnerState, batch_size: int | None = None) -> ReplaySampler:
        """Batches (of ``batch_size``, default the config's) and segments of the run's replay, observations
        normalised as the agent sees them."""
        stats = runner.obs_stats if self.config.replay.normalize_obs else None
        size = int(self.config.replay.batch_size) if batch_size is None else batch_size
        return ReplaySampler(runner.buffer, stats, size, self.num_envs, float(self.config.replay.normalize_clip),
                             self.layout)

    def learn(self, runner: RunnerState, key, t):
        """The ``updates_per_step`` learner updates of iteration ``t`` on the run's replay: (agent state, metrics
        averaged over the updates)."""
        sampler = self.sampler(runner)

        def one(agent_state, xs):
            k, j = xs
            return self.agent.update(agent_state, sampler, k, t * self.updates_per_step + j)

        keys = jax.random.split(key, self.updates_per_step)
        agent_state, metrics = jax.lax.scan(one, runner.agent, (keys, jnp.arange(self.updates_per_step)))
        return agent_state, jax.tree_util.tree_map(lambda m: m.mean(0), metrics)

    def random_action(self, key):
        """(num_envs, d_a) uniform actions in [-1, 1]: the warm-up's."""
        return jax.random.uniform(key, (self.num_envs, self.env.action_dim), minval=-1.0, maxval=1.0)

    def explore_action(self, runner: RunnerState, key):
        """(num_envs, d_a) actions of the learning policy, exploring; with ``run.random_action_prob`` > 0 each env's
        action is uniform at random with that probability (rl-rep's loop takes 1%)."""
        obs = self.normalize(runner.obs_stats, runner.env_state.obs)
        prob = float(self.config.run.random_action_prob)
        if not prob:  # the policy's key as it always was: runs without the option keep their random stream
            return self.agent.act(runner.agent, obs, key, False)
        k_policy, k_coin, k_random = jax.random.split(key, 3)
        action = self.agent.act(runner.agent, obs, k_policy, False)
        coin = jax.random.uniform(k_coin, (self.num_envs, 1)) < prob
        return jnp.where(coin, self.random_action(k_random), action)

    def store(self, runner: RunnerState, tr: Transition, episode_length) -> RunnerState:
        """The iteration's transitions (leaves (num_envs, ...)) into the replay, as its layout keeps them
        (``episode_length`` (num_envs,): each env's decisions before this step), their observations into the running
        statistics."""
        stats = stats_update(runner.obs_stats, tr.obs) if self.config.replay.normalize_obs else runner.obs_stats
        return runner.replace(buffer=replay_add(runner.buffer, self.layout.encode(tr, episode_length)), obs_stats=stats)

    def step(self, runner: RunnerState, t, learning: bool = True):
        """Iteration t: act in num_envs envs, store, and (``learning``, static) update. Returns (runner, metrics).

        A warm-up iteration (``learning=False``) acts uniformly at random and does not update; which iterations
        are warm-up is static (``warmup_in``), so neither choice is a branch in the compiled program."""
        key, k_act, k_upd, k_reset = jax.random.split(runner.key, 4)
        obs = runner.env_state.obs
        action = self.explore_action(runner, k_act) if learning else self.random_action(k_act)
        env_state, res = jax.vmap(self.env.step)(runner.env_state, action)
        env_state, pool, reused = self.auto_reset(env_state, res.done, runner.reset_pool, k_reset)
        tr = Transition(obs, action, res.reward, res.next_obs, res.terminated.astype(jnp.float32))
        runner = self.store(runner.replace(env_state=env_state, reset_pool=pool, key=key), tr,
                            runner.env_state.episode_length)
        upd = None
        if learning:
            agent_state, upd = self.learn(runner, k_upd, t)
            runner = runner.replace(agent=agent_state)
        done = res.done.astype(jnp.float32)
        metrics = {"episodes": done.sum(), "episode_return_sum": (res.episode_return * done).sum(), "reused": reused,
                   "updates": upd}
        return runner, metrics

    def refill_pool(self, runner: RunnerState) -> RunnerState:
        """A fresh reset pool (pool mode), its key drawn the way the next iteration draws its reset key."""
        if runner.reset_pool is None:
            return runner
        k_reset = jax.random.split(runner.key, 4)[3]
        return runner.replace(reset_pool=self.auto_reset.refill(runner.reset_pool, k_reset))

    def _phase(self, runner: RunnerState, t0, num_iters: int, learning: bool):
        """``num_iters`` iterations of one kind (static) with no branch: in pool mode a nested scan of blocks of at
        most ``reset_pool_refill`` iterations, each starting with a pool refill (``AutoReset.scan``)."""
        return self.auto_reset.scan(lambda r, t: self.step(r, t, learning), runner, t0 + jnp.arange(num_iters),
                                    self.refill_pool)

    def warmup_in(self, t0: int, num_iters: int) -> int:
        """Warm-up iterations among t0 .. t0 + num_iters - 1 (static: the chunk schedule is known on the host)."""
        return int(min(max(self.warmup_iters - int(t0), 0), int(num_iters)))

    def pretrain_in(self, t0: int, num_iters: int) -> bool:
        """Whether the agent's pre-training falls among iterations t0 .. t0 + num_iters - 1: it has one and the
        warm-up ends there (static, as ``warmup_in``; a run resumed after it does not run it again)."""
        return bool(self.pretrain_steps) and 0 < self.warmup_iters - int(t0) <= int(num_iters)

    def run_iterations(self, runner: RunnerState, t0, num_iters: int, warmup_iters: int = 0, pretrain: bool = False):
        """Iterations t0 .. t0 + num_iters - 1: the first ``warmup_iters`` (static) warm-up ones, then (``pretrain``,
        static) the agent's pre-training on the replay so far, then learning ones, each kind its own scan. Metrics
        (``train/...``) are chunk means: update metrics over learning iterations (NaN if none), ``train/return``
        over episodes finished in the chunk (NaN if none);
        ``train/reused_initial_states`` counts episodes that started from an already used reset-pool state."""
        warmup_iters = int(warmup_iters)
        if not 0 <= warmup_iters <= num_iters:
            raise ValueError(f"warmup_iters must be in [0, {num_iters}], got {warmup_iters}")
        phases = []
        if warmup_iters:
            runner, m = self._phase(runner, t0, warmup_iters, learning=False)
            phases.append(m)
        if pretrain:
            key = jax.random.fold_in(runner.key, PRETRAIN_STREAM)
            runner = runner.replace(agent=self.agent.pretrain(runner.agent, self.sampler(runner), key))
        n_learn = num_iters - warmup_iters
        if n_learn:
            runner, m = self._phase(runner, t0 + warmup_iters, n_learn, learning=True)
            phases.append(m)
            upd = jax.tree_util.tree_map(lambda x: x.mean(0), m["updates"])
        else:
            upd = jax.tree_util.tree_map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype), self._update_shapes(runner))
        episodes = sum(m["episodes"].sum() for m in phases)
        returns = sum(m["episode_return_sum"].sum() for m in phases)
        train_return = jnp.where(episodes > 0, returns / jnp.maximum(episodes, 1.0), jnp.nan)
        out = {f"train/{k}": v for k, v in upd.items()}
        out.update({"train/return": train_return, "train/episodes": episodes,
                    "train/learn_iters": jnp.asarray(n_learn, jnp.float32),
                    "train/reused_initial_states": sum(m["reused"].sum() for m in phases)})
        return runner, out

    def _update_shapes(self, runner: RunnerState):
        return jax.eval_shape(lambda r: self.learn(r, jax.random.PRNGKey(0), 0)[1], runner)

    # --- evaluation ------------------------------------------------------------------------------
    def diagnostics(self, runner: RunnerState, key):
        """Agent diagnostics on a replay batch of ``DIAGNOSTIC_BATCH`` transitions (e.g. per-level score-matching
        loss, linear probes fitted on one half and scored on the other): ``diag/<name>`` scalars."""
        k_batch, k_diag = jax.random.split(key)
        batch = self.sampler(runner, DIAGNOSTIC_BATCH).batch(k_batch)
        return {f"diag/{k}": v for k, v in self.agent.diagnostics(runner.agent, batch, k_diag).items()}

    @staticmethod
    def eval_key(runner: RunnerState):
        """The key of the evaluation that follows a chunk, derived from the state the chunk returns (and a checkpoint
        holds), so evaluating that checkpoint again replays the same episodes."""
        return jax.random.fold_in(runner.key, EVAL_STREAM)

    def play_episodes(self, runner: RunnerState, key, num_episodes: int | None = None, keep_first: bool = False):
        """Deterministic policy, ``num_episodes`` (default ``eval_episodes``) episodes run as a batch of envs;
        episode i starts from ``env.reset(split(key, num_episodes)[i])``. Each env plays exactly one episode: after
        it ends it is not reset and its later steps are masked out.

        Returns (returns (episodes,), lengths (episodes,) int32 decisions, successes (episodes,) bool, states):
        an episode succeeds when the task's success flag (``env.success``; never, for tasks without one) holds after
        any of its decisions; with ``keep_first`` (static), ``states`` is episode 0's EnvState stacked over
        ``max_decisions + 1`` (the reset state first; after the episode ended its last state repeats), else None."""
        n = int(self.config.run.eval_episodes) if num_episodes is None else int(num_episodes)
        env_state = jax.vmap(self.env.reset)(jax.random.split(key, n))

        def body(carry, _):
            env_state, ret, length, succeeded, alive = carry
            a = self.agent.act(runner.agent, self.normalize(runner.obs_stats, env_state.obs), key, True)
            nxt, res = jax.vmap(self.env.step)(env_state, a)
            ret = ret + jnp.where(alive, res.reward, 0.0)  # where, not *: a finished env may step into NaN
            length = length + alive.astype(jnp.int32)
            succeeded = jnp.logical_or(succeeded, jnp.logical_and(alive, jax.vmap(self.env.success)(nxt)))
            if keep_first:  # freeze a finished episode, so its kept states end on its last one
                nxt = jax.vmap(freeze_where)(jnp.logical_not(alive), env_state, nxt)
            alive = jnp.logical_and(alive, jnp.logical_not(res.done))
            first = jax.tree_util.tree_map(lambda x: x[0], nxt) if keep_first else None
            return (nxt, ret, length, succeeded, alive), first

        init = (env_state, jnp.zeros(n), jnp.zeros(n, jnp.int32), jnp.zeros(n, bool), jnp.ones(n, bool))
        (_, ret, length, succeeded, _), states = jax.lax.scan(body, init, None, length=self.env.max_decisions)
        if keep_first:
            states = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([jnp.asarray(a[0], b.dtype)[None], b]),
                                            env_state, states)
        return ret, length, succeeded, states

    def evaluate(self, runner: RunnerState, key, num_episodes: int | None = None):
        """(returns (episodes,), lengths (episodes,) int32 decisions) of ``play_episodes``."""
        ret, length, _, _ = self.play_episodes(runner, key, num_episodes)
        return ret, length

    def rollout(self, runner: RunnerState, key, num_episodes: int | None = None):
        """Episode 0 of ``evaluate(runner, key, num_episodes)`` with its env states kept, for rendering:
        (states: EnvState stacked over ``max_decisions + 1`` (the reset state first), length () int32 decisions).
        States after the episode ended repeat its last state."""
        _, length, _, states = self.play_episodes(runner, key, num_episodes, keep_first=True)
        return states, length[0]

    def chunk_groups(self, lengths: list[int], t0: int = 0) -> list[tuple[int, int, int, bool, int]]:
        """Chunks of ``lengths`` iterations from iteration ``t0``, as runs of chunks of one shape: [(first iteration,
        iterations per chunk, warm-up iterations per chunk, whether it pre-trains, chunks)]. One compiled chunk serves
        each run."""
        groups, t = [], int(t0)
        for n in lengths:
            shape = (n, self.warmup_in(t, n), self.pretrain_in(t, n))
            if groups and groups[-1][1:4] == shape:
                groups[-1] = (*groups[-1][:4], groups[-1][4] + 1)
            else:
                groups.append((t, *shape, 1))
            t += n
        return groups

    # --- the compiled unit -----------------------------------------------------------------------
    def chunk(self, runner: RunnerState, t0, num_iters: int, warmup_iters: int = 0, pretrain: bool = False):
        """``chunk_program`` behind a retrace guard: traced at most ``MAX_CHUNK_TRACES`` (1) times per (num_iters,
        warmup_iters, pretrain) for this Trainer. A launcher compiles one program per chunk shape and calls it with arguments of
        the same shapes and types, so a second trace (t0 a Python int where it was an int32, a leaf whose dtype or weak
        type drifted between chunks, a second jit of the same shape) compiles the chunk again: chex's AssertionError
        instead. Calls outside a trace are not counted; ``make_train`` scans ``chunk_program`` under a guard of its own."""
        key = (int(num_iters), int(warmup_iters), bool(pretrain))
        if key not in self._chunk_guards:
            self._chunk_guards[key] = trace_guard(lambda r, t: self.chunk_program(r, t, *key),
                                                  f"Trainer.chunk[{key[0]},{key[1]}{',pretrain' * key[2]}]")
        return self._chunk_guards[key](runner, t0)

    def chunk_program(self, runner: RunnerState, t0, num_iters: int, warmup_iters: int = 0, pretrain: bool = False):
        """Iterations t0 .. t0 + num_iters - 1 (the first ``warmup_iters`` of them warm-up: ``warmup_in``; the agent's
        pre-training after them where ``pretrain``: ``pretrain_in``), then a deterministic-policy evaluation and the
        diagnostics.

        Returns (runner, metrics): ``train/...`` chunk means (see ``run_iterations``), ``eval/return`` and
        ``eval/return_std`` over ``eval_episodes`` episodes (and ``eval/success``, the fraction that succeeded, on a
        task with a success flag), ``diag/...``, and ``run/params_finite`` (1.0 when
        every agent parameter is finite; the host's NaN guard reads it). The evaluation key comes from the
        state the chunk returns (``eval_key``), so the whole chunk depends only on the runner state and t0, and a
        checkpoint of that state can be evaluated again with the same episodes (``experiments.evaluate``)."""
        runner, m = self.run_iterations(runner, t0, num_iters, warmup_iters, pretrain)
        key, k_diag = jax.random.split(runner.key)
        runner = runner.replace(key=key)
        returns, _, successes, _ = self.play_episodes(runner, self.eval_key(runner))
        m["eval/return"], m["eval/return_std"] = returns.mean(), returns.std()
        if self.env.defines_success:  # the fraction of the episodes that reached the task's goal
            m["eval/success"] = successes.astype(jnp.float32).mean()
        m.update(self.diagnostics(runner, k_diag))
        leaves = jax.tree_util.tree_leaves(runner.agent)
        m["run/params_finite"] = jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in leaves])).astype(jnp.float32)
        return strongly_typed(runner), m  # as init's: a refilled reset pool is weakly typed where the env's reset is


def make_train(config, env=None):
    """-> ``train(rng, hp=None)``: the whole run as one compiled program for one seed.

    The same ``Trainer.chunk`` the launcher runs, once per ``eval_every`` env frames (the last chunk may be
    shorter), so both give the same metrics for a seed. Returns (final RunnerState, metrics) where each metric has
    a leading axis of evaluations. ``jax.vmap(train)(rngs)`` runs many seeds.
    """
    trainer = Trainer(config, env)
    lengths = eval_schedule(trainer.num_iters, iterations(config, config.run.eval_every))
    groups = trainer.chunk_groups(lengths)

    def train(rng, hp=None):
        runner, parts = trainer.init(rng, hp), []
        for t0, n, warm, pre, count in groups:  # consecutive chunks of the same shape: one scan
            # a guard per trace of train (each jit of it traces train once): one trace per run of chunks of one
            # shape, the scan's; fires if that run were unrolled or the scan traced its body again
            body = trace_guard(lambda r, i: trainer.chunk_program(r, t0 + i * n, n, warm, pre),
                               f"train.chunk[{n},{warm}{',pretrain' * pre}]")
            runner, m = jax.lax.scan(body, runner, jnp.arange(count))
            parts.append(m)
        return runner, jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *parts)

    train.trainer = trainer
    train.chunk_lengths = lengths
    return train
