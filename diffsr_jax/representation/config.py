"""``config.representation``: psi(s, a), zeta(x_noisy, level) and their objective, score or flow matching (diffsr_*
agents).
Read by ``learner.DiffSRRepresentation`` (through ``agents.critics.psi_critic``).

Defaults are Diff-SR-SAC's (spec section 3); Diff-SR-TD3's preset switches to the residual architecture, the vp
schedule and the eps parameterisation (spec section 4).
"""

from __future__ import annotations

import ml_collections

from diffsr_jax.diffusion import PARAMETERIZATIONS, SCHEDULE_KINDS
from diffsr_jax.fields import ConfigGroup, Fields
from diffsr_jax.networks.activations import ACTIVATIONS
from diffsr_jax.networks.init import INITS
from diffsr_jax.representation.learner import OBJECTIVES
from diffsr_jax.representation.networks import ARCHS, LEVEL_INPUTS


def defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.objective = "score_matching"  # score_matching (Diff-SR) | flow_matching (psi^T zeta as the velocity of the
    # straight noise-to-s' path, representation/flow.py) | none (ablation: psi frozen, or trained only through the
    # critic with config.psi_critic.grad_to_rep=True)
    g.arch = "mlp"  # mlp (Diff-SR-SAC) | residual (Diff-SR-TD3)
    g.feature_dim = 256  # F, the size of psi
    g.psi_hidden = (256,)
    g.zeta_hidden = (512,)
    g.activation = "elu"
    g.enc_hidden = 256  # residual arch: per-input encoders and level embedding MLP
    g.enc_out = 128
    g.res_width = 512
    g.res_blocks = 3
    g.level_input = "alpha_bar"  # alpha_bar (raw scalar) | embedding (sinusoidal of the level index)
    g.level_embed_dim = 128
    g.schedule = "beta_cdf"  # vp | linear | cosine | beta_cdf
    g.num_levels = 1000
    g.noise_scale = 0.449
    g.parameterization = "score"  # score | eps
    g.score_sigma_power = 2  # score parameterisation: the loss weights psi^T zeta by (1 - alpha_bar) sigma^p. 2: psi^T
    #   zeta learns the score of the sigma-scaled kernel (the paper's Eq. 18 with the scaled noise); 1: rl-rep's coded
    #   loss, whose psi^T zeta is sigma x that score (the same loss values, a 1/sigma larger gradient to psi, zeta)
    g.init = "lecun"  # psi's and zeta's layers (networks.init): lecun | torch (rl-rep keeps PyTorch's default)
    g.res_final_layer_norm = True  # residual arch: LayerNorm before the last activation (spectral-rl2: none)
    g.lr = 3e-3
    g.steps_per_update = 4  # representation steps per learner update, each on a fresh batch
    g.reward_weight = 0.0  # > 0 adds an RFF reward head on psi
    g.tau = 0.005  # Polyak rate of the target psi (critic.reads = target)
    return g


def validate(config) -> None:
    g = config.representation
    f = Fields(g, "representation")
    f.choice("objective", OBJECTIVES)
    f.choice("arch", ARCHS)
    f.choice("level_input", LEVEL_INPUTS)
    f.choice("schedule", SCHEDULE_KINDS)
    f.choice("parameterization", PARAMETERIZATIONS)
    f.choice("activation", tuple(ACTIVATIONS))
    f.choice("init", INITS)
    f.choice("score_sigma_power", (1, 2))
    f.integer("feature_dim", "num_levels", "steps_per_update", "res_width", "enc_hidden", "enc_out", "level_embed_dim")
    f.integer("res_blocks", minimum=0)
    f.sizes("psi_hidden", "zeta_hidden")
    f.positive("lr", "noise_scale")
    f.within("tau", 0.0, 1.0, low_open=True)
    if g.reward_weight < 0:
        f.fail("reward_weight", f"must be >= 0, got {g.reward_weight}")
    if g.schedule == "beta_cdf" and g.num_levels < 3:
        f.fail("num_levels", "must be >= 3 for the beta_cdf schedule")
    if g.level_input == "embedding" and g.level_embed_dim % 2:
        f.fail("level_embed_dim", f"must be even, got {g.level_embed_dim}")


REPRESENTATION = ConfigGroup("representation", defaults, validate, "psi, zeta and their objective (score or flow matching)")
