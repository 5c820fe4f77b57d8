"""DrQ-v2 presets (pixel observations, ``envs.pixels``; the base of the paper's image-based variant, issue 42).

- ``paper``: the DrQ-v2 reference's settings (docs/pixels.md section 4, ``facebookresearch/drqv2``) on
  playground/CartpoleSwingup from 84 x 84 frames of the task's camera 0, 3 stacked, action repeat 2: batch 256,
  learning rates 1e-4, trunk 50, 1024 x 1024 actor and critic, 3-step returns, tau 0.01, random shifts of 4 pixels,
  exploration std linear from 1.0 to 0.1 over 200k frames (the "easy" tasks' 100k steps), clip 0.3, 4k random frames,
  one update per 2 decisions (2 envs, one update an iteration), 1M frames, the reference's 1M-transition replay
  (``data.layout.FrameLayout``: 42 kB a transition at 84 px, so the run's 500k decisions take 21 GB a seed).
- ``fast``: the same algorithm sized for a 2-core CPU (XLA:CPU's convolution gradients are slow, docs/pixels.md):
  32 x 32 frames of playground/CartpoleBalance with action repeat 4 (a 250-decision episode), a 3-layer encoder of
  16 channels, shifts of 2 pixels, batch 64, 256 x 256 networks, learning rates 3e-4, std from 1.0 to 0.1 over 20k
  frames; 40k frames.
"""

from experiments.configs.base import preset_config


def reference(c):
    """DrQ-v2's agent and loop (the reference column of docs/pixels.md section 4)."""
    c.env.update(pixels=84, frame_stack=3, camera=0, action_repeat=2, num_envs=2)
    c.replay.update(batch_size=256, buffer_size=1_000_000, normalize_obs=False)
    c.actor_critic.update(gamma=0.99, tau=0.01, actor_lr=1e-4, critic_lr=1e-4, actor_hidden=(1024, 1024),
                          activation="relu", actor_init="orthogonal")
    c.mlp_critic.update(hidden=(1024, 1024), activation="relu", init="orthogonal")
    c.drqv2.update(n_step=3, std_start=1.0, std_end=0.1, std_decay_frames=200_000, std_clip=0.3, encoder_lr=1e-4,
                   channels=32, conv_layers=4, feature_dim=50, pad=4)
    c.run.update(updates_per_step=1, warmup_steps=4_000)


def _paper(c):
    reference(c)
    c.env.name = "playground/CartpoleSwingup"
    c.run.update(total_steps=1_000_000, eval_every=20_000, eval_episodes=10)


def _fast(c):
    reference(c)
    c.env.update(name="playground/CartpoleBalance", pixels=32, action_repeat=4)
    c.replay.update(batch_size=64, buffer_size=40_000)
    c.actor_critic.update(actor_hidden=(256, 256), actor_lr=3e-4, critic_lr=3e-4)
    c.mlp_critic.hidden = (256, 256)
    c.drqv2.update(channels=16, conv_layers=3, std_decay_frames=20_000, encoder_lr=3e-4, pad=2)
    c.run.update(total_steps=40_000, warmup_steps=2_000, eval_every=4_000, eval_episodes=5)


def get_config(preset: str = "fast"):
    return preset_config("drqv2", preset, fast=_fast, paper=_paper)
