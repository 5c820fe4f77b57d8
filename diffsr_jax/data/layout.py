"""How the replay keeps a transition, and how it reads one back as the ``Transition`` an agent sees.

``TransitionLayout``: every field as the env gave it (state vectors: obs and next_obs, float32).

``FrameLayout``: a pixel env's transitions (``envs.pixels``: ``obs`` the last ``frames`` frames stacked on the
channels, oldest first, the episode's first frame repeated before it has that many). Storing both stacks keeps every
frame ``2 x frames`` times; this layout keeps two frames a transition (``StoredFrames``): obs's newest and next_obs's
newest, with ``age``, how many of obs's older frames are this episode's own (decisions before this step, at most
``frames - 1``). Reading slot i rebuilds obs from the newest frames of i and of the same env's previous steps, which
sit ``stride = num_envs`` slots apart (the trainer stores one transition of each env an iteration, in env order), the
episode's first frame standing in for the frames before it; next_obs is obs without its oldest frame, plus the stored
next frame. 84 px and 3 frames: 42 kB a transition instead of 127 kB (1M transitions: 42 GB instead of 127 GB).

When the replay is full, its oldest ``(frames - 1) x stride`` slots may have lost their history to newer transitions:
this layout draws from the slots after them (``readable_from``), and reads a window's slots the same way, marked
invalid there. Before the replay first wraps, every filled slot can be read, and the slots drawn are those the
``TransitionLayout`` draws for the same key.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from diffsr_jax.data.replay import ReplayBuffer, replay_init, replay_sample, replay_window
from diffsr_jax.data.segments import sample_segments, segment_indices, segment_mask
from diffsr_jax.data.transition import Transition


def item_bytes(example) -> int:
    """Bytes one stored item takes: its leaves' sizes times their items' sizes."""
    return int(sum(np.prod(np.shape(x), dtype=np.int64) * jnp.asarray(x).dtype.itemsize
                   for x in jax.tree_util.tree_leaves(example)))


@flax.struct.dataclass
class TransitionLayout:
    """The transition as it is: the replay's items are ``Transition``s."""

    def example(self, obs, action_dim: int) -> Transition:
        """The stored item of one transition whose observations look like ``obs`` (zeros)."""
        return Transition(obs=obs, action=jnp.zeros(action_dim), reward=jnp.zeros(()), next_obs=obs,
                          terminated=jnp.zeros(()))

    def encode(self, tr: Transition, episode_length) -> Transition:
        """The items to store for ``tr`` (leaves (n, ...)); ``episode_length`` (n,): decisions before this step."""
        del episode_length
        return tr

    def batch(self, buffer: ReplayBuffer, key, batch_size: int) -> Transition:
        return replay_sample(buffer, key, batch_size)

    def window(self, buffer: ReplayBuffer, start, length: int):
        return replay_window(buffer, start, length)

    def segments(self, buffer: ReplayBuffer, key, batch_size: int, length: int, stride: int):
        return sample_segments(buffer, key, batch_size, length, stride)


@flax.struct.dataclass
class StoredFrames:
    """One pixel transition as ``FrameLayout`` keeps it."""

    frame: jnp.ndarray  # (N, N, 3) uint8: obs's newest frame
    next_frame: jnp.ndarray  # (N, N, 3) uint8: next_obs's newest frame (the true final one where the episode ended)
    age: jnp.ndarray  # () int32: decisions of this episode before this step, at most frames - 1
    action: jnp.ndarray  # (d_a,)
    reward: jnp.ndarray  # ()
    terminated: jnp.ndarray  # ()


@flax.struct.dataclass
class FrameLayout:
    """Pixel stacks kept as their newest frames (module docstring)."""

    frames: int = flax.struct.field(pytree_node=False)  # frames in one observation
    stride: int = flax.struct.field(pytree_node=False)  # slots between one env's consecutive steps (num_envs)
    channels: int = flax.struct.field(pytree_node=False, default=3)  # of one frame (RGB)

    def example(self, obs, action_dim: int) -> StoredFrames:
        frame = obs[..., -self.channels:]
        return StoredFrames(frame, frame, jnp.zeros((), jnp.int32), jnp.zeros(action_dim), jnp.zeros(()),
                            jnp.zeros(()))

    def encode(self, tr: Transition, episode_length) -> StoredFrames:
        age = jnp.minimum(episode_length, self.frames - 1).astype(jnp.int32)
        return StoredFrames(tr.obs[..., -self.channels:], tr.next_obs[..., -self.channels:], age, tr.action,
                            tr.reward, tr.terminated)

    def read(self, buffer: ReplayBuffer, idx) -> Transition:
        """The transitions of slots ``idx`` (any shape), their stacks rebuilt from the newest frames."""
        data = buffer.data
        back = jnp.minimum(jnp.arange(self.frames - 1, -1, -1), data.age[idx][..., None])  # (..., frames), oldest first
        src = (idx[..., None] - back * self.stride) % buffer.capacity
        stack = jnp.moveaxis(data.frame[src], -4, -2)  # (..., N, N, frames, 3)
        obs = stack.reshape(stack.shape[:-2] + (self.frames * self.channels,))
        next_obs = jnp.concatenate([obs[..., self.channels:], data.next_frame[idx]], axis=-1)
        return Transition(obs, data.action[idx], data.reward[idx], next_obs, data.terminated[idx])

    def readable_from(self, buffer: ReplayBuffer):
        """The first slot after the oldest whose history is whole: 0 until the replay is full."""
        return jnp.where(buffer.size >= buffer.capacity, (self.frames - 1) * self.stride, 0)

    def batch(self, buffer: ReplayBuffer, key, batch_size: int) -> Transition:
        """Uniform over the readable slots (the filled ones until the replay first wraps, as ``replay_sample``)."""
        skip = self.readable_from(buffer)
        oldest = (buffer.insert_pos - buffer.size) % buffer.capacity
        start = jax.random.randint(key, (batch_size,), skip, jnp.maximum(buffer.size, skip + 1))
        return self.read(buffer, (oldest + start) % buffer.capacity)

    def window(self, buffer: ReplayBuffer, start, length: int):
        slots = start + jnp.arange(length)
        position = (slots - buffer.insert_pos + buffer.size) % buffer.capacity  # after the oldest
        valid = (slots < buffer.size) & (position >= self.readable_from(buffer))
        return self.read(buffer, jnp.minimum(slots, buffer.capacity - 1)), valid

    def segments(self, buffer: ReplayBuffer, key, batch_size: int, length: int, stride: int):
        idx, enough = segment_indices(buffer, key, batch_size, length, stride, self.readable_from(buffer))
        seg = self.read(buffer, idx)
        return seg, segment_mask(seg, enough)


def replay_layout(env, num_envs: int):
    """The layout of ``env``'s transitions: ``FrameLayout`` for a pixel env (one with ``frames``), else
    ``TransitionLayout``."""
    frames = getattr(env, "frames", None)
    return FrameLayout(int(frames), int(num_envs)) if frames else TransitionLayout()


def layout_replay_init(layout, env, capacity: int) -> ReplayBuffer:
    """An empty replay of ``capacity`` items of ``layout`` for ``env``'s transitions."""
    obs = jnp.zeros(env.obs_shape, env.obs_dtype)  # state vectors float32, pixel stacks uint8
    return replay_init(layout.example(obs, env.action_dim), capacity)


__all__ = ["FrameLayout", "StoredFrames", "TransitionLayout", "item_bytes", "layout_replay_init", "replay_layout"]
