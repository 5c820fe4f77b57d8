"""Diff-SR-TD3 presets: TD3's presets (``td3.py``: the same actor-critic, loop and budget) with the critic replaced by
the RFF critic on the Diff-SR representation of spec section 4 (spectral-rl2 / DMC).

Every preset: residual psi (per-input encoders, residual MLP) and zeta (sinusoidal level embedding); vp schedule with
50 levels, eps parameterisation, reward head weight 0.1; twin sin/cos RFF critic with LayerNorm (LN -> D -> [sin, cos]
-> D -> LN -> ELU -> 1) on an EMA-target psi (tau 0.005), no critic gradient into psi.

- ``paper`` / ``study``: spectral-rl2's sizes and details: encoders 256-Mish-128, residual width 512 x 3 blocks ->
  F=512 with no LayerNorm before the last activation, level embedding 128 -> 256 -> 128; rep Adam 1e-4; RFF 512/512;
  PyTorch's default init. ``study`` is ``paper`` at 200k frames (``td3.py``).
- ``fast``: the same algorithm at sizes that learn gymnax/Pendulum-v1 on a laptop CPU in a few minutes.
"""

from experiments.configs import td3


def with_representation(c, preset: str):
    """Set ``c.representation`` and ``c.psi_critic`` for ``preset``."""
    c.representation.update(arch="residual", activation="mish", level_input="embedding", steps_per_update=1)
    c.representation.update(schedule="vp", num_levels=50, noise_scale=1.0, parameterization="eps", reward_weight=0.1)
    c.representation.tau = 0.005
    c.psi_critic.update(rff_kind="sincos", input_layer_norm=True, hidden_layer_norm=True, activation="elu",
                        reads="target")
    if preset == "fast":
        c.representation.update(feature_dim=64, res_width=128, res_blocks=1, enc_hidden=64, enc_out=32,
                                level_embed_dim=32, lr=1e-3)
        c.psi_critic.update(rff_dim=128, rff_hidden=128)
        return c
    c.representation.update(feature_dim=512, res_width=512, res_blocks=3, lr=1e-4, init="torch",
                            res_final_layer_norm=False)
    c.psi_critic.update(rff_dim=512, rff_hidden=512, init="torch")
    return c


def get_config(preset: str = "fast"):
    c = td3.get_config(preset)
    c.run.agent = "diffsr_td3"
    return with_representation(c, preset)
