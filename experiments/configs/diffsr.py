"""Diff-SR on any registered base algorithm: the base's preset with its critic replaced by the RFF critic on the
Diff-SR representation psi(s, a). ``--agent=diffsr_<base>`` without a preset file of its own runs this:

    --config=experiments/configs/diffsr.py:ddpg,fast

The representation follows Diff-SR-SAC (spec section 3): MLP psi/zeta, beta_cdf levels, score parameterisation,
ELU RFF critic. ``paper`` keeps the spec's sizes (F=256, 4 representation updates per env step); ``fast`` the CPU
sizes of diffsr_sac's fast preset.
"""

import importlib


def with_representation(c, preset: str):
    """Set ``c.representation`` and the heads on psi of ``c.psi_critic`` for ``preset`` (the defaults are the paper's)."""
    c.psi_critic.activation = "elu"
    if preset == "fast":
        c.representation.update(feature_dim=64, psi_hidden=(128,), zeta_hidden=(128,), steps_per_update=1, lr=1e-3)
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
