"""Fields every run has. Agent preset files start from ``base_config()`` and override.

Sizes and loop lengths are static (a change recompiles); the agent's HPARAMS (learning rates, gamma,
tau, noise scales, ...) are traced values held in the train state, so they can be vmapped too.
"""

import ml_collections


def base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.preset = "fast"
    # --- run ---
    c.agent = "sac"
    c.env = "gymnax/Pendulum-v1"
    c.env_backend = "mjx"  # brax backend: mjx, generalized, positional, spring
    c.episode_length = 0  # env frames per episode; 0: the env's own time limit
    c.action_repeat = 1  # env frames per agent decision (rewards summed; a termination ends the repeat)
    c.early_termination = True  # brax ant/hopper/humanoid/walker2d end an episode on falling (the paper's -ET tasks)
    c.pomdp = False  # partial observability (paper App. E): drop the velocity entries of each observation ...
    c.pomdp_history = 3  # ... and feed the concatenation of the last pomdp_history of them
    c.seed = 0
    c.num_seeds = 1
    # budgets count env frames (decisions x action_repeat), as the paper's budgets do
    c.total_steps = 20_000  # env frames per seed
    c.warmup_steps = 1_000  # env frames of uniform-random actions, no updates
    c.eval_every = 2_000  # env frames between evaluations
    c.eval_episodes = 10
    c.num_envs = 1  # parallel envs per seed
    c.auto_reset = "pool"  # pool: ended episodes restart from a pool of fresh initial states | every_step: exact
    c.reset_pool_size = 16  # fresh initial states in the pool (at least num_envs)
    c.reset_pool_refill = 256  # iterations between pool refills
    c.updates_per_step = 1  # learner updates per iteration (per agent decision)
    c.batch_size = 256
    c.buffer_size = 1_000_000  # transitions (agent decisions)
    c.replay_capacity = 0  # fixed by the launcher at a run's first start: min(buffer_size, transitions of the run)
    c.normalize_obs = False
    c.checkpoint_every = 10_000  # env frames, taken at the first evaluation boundary past each multiple; and at the end
    c.keep_checkpoints = 3
    c.nan_policy = "stop"  # stop: end the run at the first non-finite value | drop: drop that seed, continue
    # --- shared actor-critic ---
    c.gamma = 0.99
    c.tau = 0.005
    c.actor_lr = 3e-4
    c.critic_lr = 3e-4
    c.actor_hidden = (256, 256)
    c.critic_hidden = (256, 256)
    c.activation = "relu"
    # --- SAC ---
    c.alpha_lr = 3e-4
    c.init_alpha = 1.0
    c.target_entropy_scale = 1.0  # target entropy = -scale * |A|
    c.log_std_min = -5.0
    c.log_std_max = 2.0
    c.target_update_every = 1
    # --- TD3 ---
    c.expl_noise = 0.1
    c.policy_noise = 0.2
    c.noise_clip = 0.5
    c.policy_delay = 2
    c.actor_layer_norm = False
    c.critic_layer_norm = False
    c.actor_q_reduce = "q1"  # q1, mean, min
    # --- Diff-SR representation (used by diffsr_* agents) ---
    c.rep_arch = "mlp"  # mlp (Diff-SR-SAC) | residual (Diff-SR-TD3)
    c.feature_dim = 256
    c.psi_hidden = (256,)
    c.zeta_hidden = (512,)
    c.rep_activation = "elu"
    c.rep_enc_hidden = 256  # residual arch: per-input encoders and level embedding MLP
    c.rep_enc_out = 128
    c.rep_res_width = 512
    c.rep_res_blocks = 3
    c.level_input = "alpha_bar"  # alpha_bar (raw scalar) | embedding (sinusoidal of the level index)
    c.level_embed_dim = 128
    c.schedule = "beta_cdf"  # vp | linear | cosine | beta_cdf
    c.num_levels = 1000
    c.noise_scale = 0.449
    c.parameterization = "score"  # score | eps
    c.rep_lr = 3e-3
    c.rep_updates_per_step = 4
    c.reward_weight = 0.0  # > 0 adds an RFF reward head on psi
    c.rep_tau = 0.005  # EMA rate of the target psi (critic_rep = target)
    # --- Diff-SR RFF critic ---
    c.rff_dim = 256
    c.rff_hidden = 256
    c.rff_kind = "sin"  # sin | sincos
    c.critic_input_ln = False
    c.critic_hidden_ln = False
    c.critic_activation = "elu"
    c.critic_rep = "online"  # online | target
    c.critic_grad_to_rep = False
    return c


def mbbl_budget(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The paper's state-MDP run (spec section 5) on brax/halfcheetah: 200k env steps, 25k random warm-up steps,
    evaluation every 5k steps with 10 episodes."""
    c.update(env="brax/halfcheetah", total_steps=200_000, warmup_steps=25_000, eval_every=5_000, eval_episodes=10)
    return c


def fast_budget(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The CPU ``fast`` presets' run on gymnax/Pendulum-v1: 12k env frames, 1k random warm-up frames, evaluation
    every 1k; 128x128 actor and critic, actor and critic learning rates 1e-3."""
    c.update(total_steps=12_000, warmup_steps=1_000, eval_every=1_000)
    c.update(actor_hidden=(128, 128), critic_hidden=(128, 128), actor_lr=1e-3, critic_lr=1e-3)
    return c


def dmc_budget(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The DMC run of spec section 4 on playground/CheetahRun: action repeat 2, 1M env frames (500k decisions),
    10k random frames, evaluation every 10k frames; batch 512, running observation normalisation, a 512x3 actor
    with LayerNorm, exploration noise 0.2."""
    c.update(env="playground/CheetahRun", action_repeat=2, total_steps=1_000_000, warmup_steps=10_000,
             eval_every=10_000)
    c.update(batch_size=512, normalize_obs=True, actor_hidden=(512, 512, 512), actor_layer_norm=True, expl_noise=0.2)
    return c


def preset_config(agent: str, preset: str, **presets) -> ml_collections.ConfigDict:
    """``base_config()`` for ``agent`` with ``presets[preset](c)`` applied; an unknown preset is a ValueError naming
    the valid ones (the launcher prints it as one line)."""
    if preset not in presets:
        raise ValueError(f"unknown {agent} preset {preset!r}; choose one of {', '.join(presets)}")
    c = base_config()
    c.agent, c.preset = agent, preset
    presets[preset](c)
    return c
