"""DDPG presets: ``fast`` (CPU minutes on gymnax/Pendulum-v1) and ``paper`` (TD3's DMC sizes without TD3's twin
critic, smoothing and delay: the baseline for a base algorithm the Diff-SR paper did not run).

``--agent=diffsr_ddpg`` runs the same preset on the Diff-SR representation (experiments/configs/diffsr.py).
"""

from experiments.configs.base import base_config


def get_config(preset: str = "fast"):
    c = base_config()
    c.agent = "ddpg"
    c.preset = preset
    if preset == "fast":
        c.total_steps = 12_000
        c.eval_every = 1_000
        c.warmup_steps = 1_000
        c.actor_hidden = (128, 128)
        c.critic_hidden = (128, 128)
        c.actor_lr = 1e-3
        c.critic_lr = 1e-3
    elif preset == "paper":
        c.env = "playground/CheetahRun"
        c.action_repeat = 2
        c.total_steps = 1_000_000  # frames = 500k decisions
        c.warmup_steps = 10_000
        c.eval_every = 10_000
        c.batch_size = 512
        c.actor_hidden = (512, 512, 512)
        c.critic_hidden = (512, 512, 512)
        c.actor_layer_norm = True
        c.expl_noise = 0.2
        c.normalize_obs = True
    else:
        raise ValueError(f"unknown ddpg preset {preset!r}; choose fast or paper")
    return c
