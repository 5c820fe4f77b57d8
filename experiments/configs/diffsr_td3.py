"""Diff-SR-TD3 presets.

``paper``: spec section 4 (spectral-rl2 / DMC): running obs normalisation; residual psi (per-input encoders
256-Mish-128, residual MLP width 512 x 3 blocks -> F=512) and zeta (sinusoidal level embedding 128 -> 256 -> 128);
vp schedule with 50 levels, eps parameterisation, reward head weight 0.1; twin sin/cos RFF critic with LayerNorm
(LN -> 512 -> [sin, cos] -> 512 -> LN -> ELU -> 1) on an EMA-target psi (tau 0.005), no critic gradient into psi;
rep Adam 1e-4, critic 3e-4; TD3 actor 512x3 with LayerNorm, exploration 0.2, smoothing 0.2 clipped 0.3, actor and
targets every step, actor loss -mean(Q1, Q2); batch 512;
action repeat 2: 1M env frames (500k decisions and updates), 10k random frames, eval every 10k frames with 10 episodes.

``fast``: the same algorithm at sizes that learn gymnax/Pendulum-v1 on a laptop CPU in a few minutes.
"""

from experiments.configs.base import base_config


def get_config(preset: str = "fast"):
    c = base_config()
    c.agent = "diffsr_td3"
    c.preset = preset
    c.normalize_obs = True
    c.rep_arch = "residual"
    c.rep_activation = "mish"
    c.level_input = "embedding"
    c.schedule = "vp"
    c.num_levels = 50
    c.noise_scale = 1.0
    c.parameterization = "eps"
    c.reward_weight = 0.1
    c.rep_updates_per_step = 1
    c.rff_kind = "sincos"
    c.critic_input_ln = True
    c.critic_hidden_ln = True
    c.critic_activation = "elu"
    c.critic_rep = "target"
    c.rep_tau = 0.005
    c.expl_noise = 0.2
    c.policy_noise = 0.2
    c.noise_clip = 0.3
    c.policy_delay = 1
    c.actor_q_reduce = "mean"
    c.actor_layer_norm = True
    if preset == "paper":
        c.env = "playground/CheetahRun"
        c.action_repeat = 2
        c.total_steps = 1_000_000  # env frames
        c.warmup_steps = 10_000
        c.eval_every = 10_000
        c.batch_size = 512
        c.feature_dim = 512
        c.rep_res_width = 512
        c.rep_res_blocks = 3
        c.rff_dim = 512
        c.rff_hidden = 512
        c.actor_hidden = (512, 512, 512)
        c.rep_lr = 1e-4
        c.critic_lr = 3e-4
        c.actor_lr = 3e-4
    elif preset == "fast":
        c.total_steps = 6_000
        c.warmup_steps = 1_000
        c.eval_every = 1_000
        c.feature_dim = 64
        c.rep_res_width = 128
        c.rep_res_blocks = 1
        c.rep_enc_hidden = 64
        c.rep_enc_out = 32
        c.level_embed_dim = 32
        c.rff_dim = 128
        c.rff_hidden = 128
        c.actor_hidden = (128, 128)
        c.rep_lr = 1e-3
        c.critic_lr = 1e-3
        c.actor_lr = 1e-3
        c.expl_noise = 0.1
    else:
        raise ValueError(f"unknown diffsr_td3 preset {preset!r}; choose fast or paper")
    return c
