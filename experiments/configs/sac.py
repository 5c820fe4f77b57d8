"""SAC presets: ``fast`` (CPU minutes on gymnax/Pendulum-v1) and ``paper`` (the Diff-SR paper's SAC baseline).

    --config=experiments/configs/sac.py:paper --config.env=brax/halfcheetah
"""

from experiments.configs.base import base_config, mbbl_budget


def get_config(preset: str = "fast"):
    c = base_config()
    c.agent = "sac"
    c.preset = preset
    if preset == "fast":
        c.total_steps = 12_000
        c.eval_every = 1_000
        c.warmup_steps = 1_000
        c.actor_hidden = (128, 128)
        c.critic_hidden = (128, 128)
        c.init_alpha = 0.1
        c.actor_lr = 1e-3
        c.critic_lr = 1e-3
        c.alpha_lr = 1e-3
    elif preset == "paper":
        mbbl_budget(c)
        c.activation = "elu"
        c.init_alpha = 0.1
        c.target_update_every = 2
    else:
        raise ValueError(f"unknown sac preset {preset!r}; choose fast or paper")
    return c
