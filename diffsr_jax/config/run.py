"""``config.run``: what to train and for how long, and ``config.replay``: what the learner draws from.

Budgets count env frames (decisions x action_repeat), as the paper's budgets do.
"""

from __future__ import annotations

import ml_collections

from diffsr_jax.config.budget import frames_per_iteration, replay_capacity
from diffsr_jax.fields import ConfigError, ConfigGroup, Fields

MATMUL_PRECISIONS = ("default", "high", "highest")  # jax.default_matmul_precision values
# XLA GPU command buffers (CUDA graphs): which kinds of thunk a captured graph may hold. XLA's default leaves loops and
# conditionals out, so each iteration of a while loop (and each conditional) launches its kernels from the host.
COMMAND_BUFFERS = {
    "default": None,  # XLA's own choice
    "off": "",  # no CUDA graphs: every kernel launched from the host
    "loops": "FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,WHILE,CONDITIONAL",  # loops and conditionals captured too
}


def defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.agent = "sac"
    g.preset = "fast"
    g.seed = 0
    g.num_seeds = 1
    g.total_steps = 20_000  # env frames per seed
    g.warmup_steps = 1_000  # env frames of uniform-random actions, no updates
    g.eval_every = 2_000  # env frames between evaluations
    g.eval_episodes = 10
    g.updates_per_step = 1  # learner updates per iteration (per agent decision)
    g.random_action_prob = 0.0  # after warm-up, each action uniform at random with this probability (rl-rep: 0.01)
    g.checkpoint_every = 10_000  # env frames, taken at the first evaluation boundary past each multiple; and at the end
    g.keep_checkpoints = 3
    g.nan_policy = "stop"  # stop: end the run at the first non-finite value | drop: drop that seed, continue
    g.devices = 0  # devices the members (seeds x settings) are laid over: 0 = all that divide them evenly
    g.cpu_devices = 0  # a CPU-only host split into this many XLA devices (0 = auto: one per member where the members
    #                    divide evenly, up to 4 per core)
    g.matmul_precision = "highest"  # default | high | highest: full float32 (TF32 is known to destabilise RL on GPUs)
    g.command_buffers = "default"  # XLA GPU command buffers (CUDA graphs): default | off | loops (while loops and
    #                                conditionals captured too); set before JAX starts, a CPU ignores it
    return g


def replay_defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.buffer_size = 1_000_000  # transitions (agent decisions)
    g.capacity = 0  # fixed by the launcher at a run's first start: min(buffer_size, transitions of the run)
    g.batch_size = 256
    g.normalize_obs = False  # running mean/std of observations, applied to what the agent sees
    g.normalize_clip = 10.0  # normalised observations clipped to +-this (0: not clipped, as spectral-rl2)
    return g


def validate(config) -> None:
    f = Fields(config.run, "run")
    f.integer("total_steps", "eval_every", "eval_episodes", "updates_per_step", "num_seeds", "checkpoint_every",
              "keep_checkpoints")
    f.integer("warmup_steps", "seed", minimum=0)
    if config.run.seed + config.run.num_seeds > 2**32:
        f.fail("seed", f"+ num_seeds must be at most 2^32 (a PRNG key seed holds 32 bits), got {config.run.seed} + "
               f"{config.run.num_seeds}")
    f.choice("nan_policy", ("stop", "drop"))
    f.within("random_action_prob", 0.0, 1.0)
    f.choice("matmul_precision", MATMUL_PRECISIONS)
    f.choice("command_buffers", tuple(COMMAND_BUFFERS))
    f.integer("devices", "cpu_devices", minimum=0)
    fpi = frames_per_iteration(config)
    if config.run.total_steps < fpi:
        f.fail("total_steps", f"({config.run.total_steps} env frames) must be at least env.num_envs x env.action_repeat "
               f"({fpi}), the frames of one iteration")


def validate_replay(config) -> None:
    f = Fields(config.replay, "replay")
    f.integer("buffer_size", "batch_size")
    f.integer("capacity", minimum=0)
    if not config.replay.normalize_clip >= 0:
        f.fail("normalize_clip", f"must be >= 0 (0: no clipping), got {config.replay.normalize_clip}")
    capacity = replay_capacity(config)
    if config.replay.batch_size > capacity:
        raise ConfigError(f"config.replay.batch_size ({config.replay.batch_size:,}) is larger than the replay, which "
                          f"holds {capacity:,} transitions (min of buffer_size and the run's transitions): pass "
                          f"--config.replay.batch_size<={capacity:,} or a larger --config.replay.buffer_size")


RUN = ConfigGroup("run", defaults, validate, "what to train and for how long, devices, checkpoints")
REPLAY = ConfigGroup("replay", replay_defaults, validate_replay, "what the learner draws from")
