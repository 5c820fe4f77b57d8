"""Diff-SR-SAC presets: SAC's presets (``sac.py``, the same actor-critic, loop and budget) with the critic replaced by
the RFF critic on the Diff-SR representation (``diffsr.with_representation``: spec section 3).

``paper``: rl-rep's diffsrsac exactly, but for its two bugs (spec section 3; docs/paper-comparison.md has the item-by-item
side-by-side): psi MLP 256 (ELU) -> F=256, zeta MLP 512 (ELU) -> F x d_s on concat(x_noisy, alpha_bar); beta_cdf
grid of 1000 levels, noise scale 0.449, the score loss as rl-rep codes it (``score_sigma_power=1``); psi/zeta Adam
3e-3 with 4 steps per env step on fresh batches of 256; twin sin-RFF critic (256 -> 256 -> ELU -> 1) on the online
psi, no critic gradient into psi; PyTorch's default init for psi, zeta and the heads; SAC as ``sac.py:paper``.
``study``: the paper's update volume per env step at sizes a 2-core CPU affords for 200k-frame runs (``diffsr.py``).
``fast``: the same algorithm at sizes that learn gymnax/Pendulum-v1 on a laptop CPU in a few minutes.
"""

from experiments.configs import diffsr


def get_config(preset: str = "fast"):
    return diffsr.get_config(f"sac,{preset}")
