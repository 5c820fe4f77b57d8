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

from experiments.configs.base import dmc_budget, fast_budget, preset_config


def _common(c):
    """Everything of spec section 4 but the sizes."""
    c.replay.normalize_obs = True
    c.representation.update(arch="residual", activation="mish", level_input="embedding", steps_per_update=1)
    c.representation.update(schedule="vp", num_levels=50, noise_scale=1.0, parameterization="eps", reward_weight=0.1)
    c.psi_critic.update(rff_kind="sincos", input_layer_norm=True, hidden_layer_norm=True, activation="elu")
    c.psi_critic.reads = "target"
    c.representation.tau = 0.005
    c.actor_critic.actor_layer_norm = True
    c.td3.update(expl_noise=0.2, policy_noise=0.2, noise_clip=0.3, policy_delay=1, actor_q_reduce="mean")


def _paper(c):
    _common(c)
    dmc_budget(c)
    c.representation.update(feature_dim=512, res_width=512, res_blocks=3, lr=1e-4)
    c.psi_critic.update(rff_dim=512, rff_hidden=512)
    c.actor_critic.update(critic_lr=3e-4, actor_lr=3e-4)


def _fast(c):
    _common(c)
    fast_budget(c)
    c.run.total_steps = 6_000
    c.representation.update(feature_dim=64, res_width=128, res_blocks=1, enc_hidden=64, enc_out=32,
                            level_embed_dim=32, lr=1e-3)
    c.psi_critic.update(rff_dim=128, rff_hidden=128)
    c.td3.expl_noise = 0.1


def get_config(preset: str = "fast"):
    return preset_config("diffsr_td3", preset, fast=_fast, paper=_paper)
