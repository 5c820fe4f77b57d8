"""Diff-SR on any registered base algorithm: the base's preset with its critic replaced by the RFF critic on the
Diff-SR representation psi(s, a). ``--agent=diffsr_<base>`` without a preset file of its own runs this:

    --config=experiments/configs/diffsr.py:ddpg,fast

The representation follows Diff-SR-SAC (spec section 3): MLP psi/zeta, beta_cdf levels, score parameterisation.
``paper`` keeps the spec's sizes (F=256, 4 representation updates per env step); ``fast`` the CPU sizes of
diffsr_sac's fast preset.
"""

import importlib

REPRESENTATION_FAST = {"feature_dim": 64, "psi_hidden": (128,), "zeta_hidden": (128,), "rff_dim": 128,
                       "rff_hidden": 128, "rep_updates_per_step": 1, "rep_lr": 1e-3}


def with_representation(c, preset: str):
    """Set the representation and RFF critic fields of ``c`` for ``preset`` (base_config holds the paper's)."""
    if preset == "fast":
        for k, v in REPRESENTATION_FAST.items():
            c[k] = v
    c.critic_activation = "elu"
    return c


def get_config(arg: str = "sac,fast"):
    base, _, preset = arg.partition(",")
    preset = preset or "fast"
    try:
        module = importlib.import_module(f"experiments.configs.{base}")
    except ModuleNotFoundError:
        raise ValueError(f"no preset file experiments/configs/{base}.py for base {base!r}") from None
    c = module.get_config(preset)
    c.agent = f"diffsr_{base}"
    return with_representation(c, preset)
