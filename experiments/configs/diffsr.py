"""Diff-SR on any registered base algorithm: the base's preset with its critic replaced by the RFF critic on the
Diff-SR representation psi(s, a). Only the critic and representation groups (``representation``, ``psi_critic``)
are set here, so ``diffsr_<base>`` and ``<base>`` differ in nothing else (tests/test_presets_pairs.py).
``--agent=diffsr_<base>`` without a preset file of its own runs this:

    --config=experiments/configs/diffsr.py:ddpg,fast

The representation is Diff-SR-SAC's (spec section 3): MLP psi/zeta, beta_cdf levels, score parameterisation, ELU
RFF critic.

- ``paper``: the spec's sizes and rl-rep's details: F=256, psi 256, zeta 512, 4 steps of batch 256 per env step at
  lr 3e-3, RFF 256/256, PyTorch's default init of psi, zeta and the heads, the score loss as rl-rep codes it.
- ``study``: the paper's update volume per env step (4 psi/zeta steps on fresh batches of 256 at lr 3e-3) and its
  details, with psi, zeta and the heads at half the paper's widths (F=128, psi 256, zeta 256, RFF 128/128). The
  paper's update is 6.4x the study's on this 2-core CPU (230 vs 36 ms, d_s 17: benchmarks/results/update_cost_presets.md),
  mostly zeta's output layer (F x d_s); 200k frames of 4 seeds at the paper's sizes is ~20 h here, beyond a study.
- ``fast``: CPU minutes on gymnax/Pendulum-v1 (F=64, 1 step at lr 1e-3, RFF 128/128, Flax's init).
"""

import importlib


def with_representation(c, preset: str):
    """Set ``c.representation`` and ``c.psi_critic`` for ``preset`` (the defaults are the paper's sizes)."""
    c.psi_critic.activation = "elu"
    if preset == "fast":
        c.representation.update(feature_dim=64, psi_hidden=(128,), zeta_hidden=(128,), steps_per_update=1, lr=1e-3)
        c.psi_critic.update(rff_dim=128, rff_hidden=128)
        return c
    c.representation.update(init="torch", score_sigma_power=1)  # rl-rep: PyTorch's default init, its coded loss
    c.psi_critic.update(init="torch", step_batch="last_feature")  # rl-rep's critic and actor reuse the last batch
    if preset == "study":
        c.representation.update(feature_dim=128, psi_hidden=(256,), zeta_hidden=(256,))
        c.psi_critic.update(rff_dim=128, rff_hidden=128)
    return c


def get_config(arg: str = "sac,fast"):
    base, _, preset = arg.partition(",")
    preset = preset or "fast"
    try:
        module = importlib.import_module(f"experiments.configs.{base}")
    except ModuleNotFoundError:
        raise ValueError(f"no preset file experiments/configs/{base}.py for base {base!r}") from None
    c = module.get_config(preset)
    c.run.agent = f"diffsr_{base}"
    return with_representation(c, preset)
