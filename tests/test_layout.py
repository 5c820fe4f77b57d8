"""The replay's layouts (data.layout): a pixel transition kept as two frames reads back as the stacks the env gave.

Synthetic episodes stand in for a pixel env: every frame drawn is unique (its id in the pixels), stacks are built as
``envs.pixels.PixelEnv`` builds them (the first frame repeated at a reset, the newest frame last), episodes end at
chosen steps (one after a single step), and several envs interleave in the replay, which wraps several times.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.data.layout import FrameLayout, TransitionLayout, item_bytes
from diffsr_jax.data.replay import replay_add, replay_init
from diffsr_jax.data.transition import Transition


def _episodes(num_envs, steps, frames, ends):
    """-> list of (Transition with leaves (num_envs, ...), episode lengths before the step (num_envs,)), one an
    iteration; env e's episode ends at its steps in ``ends[e]`` (terminated at even steps, truncated at odd)."""
    count = [0]

    def draw(e):
        count[0] += 1
        img = np.zeros((2, 2, 3), np.uint8)
        img[..., 0], img[..., 1], img[..., 2] = count[0] % 256, count[0] // 256, e
        return img

    stacks = [[draw(e)] * frames for e in range(num_envs)]
    lengths = [0] * num_envs
    out = []
    for t in range(steps):
        obs, nxt, term, before = [], [], [], list(lengths)
        for e in range(num_envs):
            new = stacks[e][1:] + [draw(e)]
            obs.append(np.concatenate(stacks[e], -1))
            nxt.append(np.concatenate(new, -1))
            end = t in ends[e]
            term.append(float(end and t % 2 == 0))
            stacks[e], lengths[e] = ([draw(e)] * frames, 0) if end else (new, lengths[e] + 1)
        ids = np.arange(t * num_envs, (t + 1) * num_envs, dtype=np.float32)
        tr = Transition(jnp.asarray(np.stack(obs)), jnp.asarray(ids[:, None]), jnp.asarray(ids),
                        jnp.asarray(np.stack(nxt)), jnp.asarray(np.array(term, np.float32)))
        out.append((tr, jnp.asarray(before, jnp.int32)))
    return out


def _fill(layout, steps, capacity):
    buf = replay_init(layout.example(steps[0][0].obs[0], 1), capacity)
    add = jax.jit(lambda b, tr, before: replay_add(b, layout.encode(tr, before)))
    for tr, before in steps:
        buf = add(buf, tr, before)
    return buf


def _truth(steps):
    return jax.tree_util.tree_map(lambda *x: np.concatenate(x), *[tr for tr, _ in steps])


CASES = [  # num_envs, frames, capacity, iterations, episode ends per env
    (1, 3, 7, 20, [{0, 1, 5, 6, 12}]),
    (2, 3, 9, 15, [{2, 3, 9}, {0, 7}]),  # a capacity that is no multiple of num_envs
    (3, 1, 8, 10, [{1}, {4}, set()]),
    (2, 4, 100, 12, [{4}, {1, 2}]),  # never full
]


@pytest.mark.parametrize("num_envs,frames,capacity,iters,ends", CASES)
def test_every_readable_slot_reads_back_the_stacks_the_env_gave(num_envs, frames, capacity, iters, ends):
    steps = _episodes(num_envs, iters, frames, ends)
    layout = FrameLayout(frames, num_envs)
    buf = _fill(layout, steps, capacity)
    truth = _truth(steps)
    total, size = iters * num_envs, int(buf.size)
    oldest = (int(buf.insert_pos) - size) % capacity
    skip = int(layout.readable_from(buf))
    assert skip == ((frames - 1) * num_envs if total > capacity else 0)
    positions = np.arange(skip, size)
    got = jax.jit(layout.read)(buf, jnp.asarray((oldest + positions) % capacity))
    want = jax.tree_util.tree_map(lambda x: x[total - size + positions], truth)
    jax.tree_util.tree_map(np.testing.assert_array_equal, got, want)
    # two frames a transition where the stacks held 2 x frames
    assert item_bytes(layout.example(truth.obs[0], 1)) == 2 * 2 * 2 * 3 + 4 * 4
    assert item_bytes(TransitionLayout().example(truth.obs[0], 1)) == 2 * 2 * 2 * 3 * frames + 3 * 4


def test_until_the_replay_wraps_it_draws_what_the_stacks_layout_draws():
    """Batches, segments and windows of the frame layout equal the stored stacks' for the same key."""
    steps = _episodes(2, 12, 3, [{4}, {1, 2}])
    frame, stacks = FrameLayout(3, 2), TransitionLayout()

    @jax.jit
    def draws(fb, sb, key):  # one compile for every draw
        return [(layout.batch(b, key, 32), layout.segments(b, key, 256, 3, 2), layout.window(b, 5, 30))
                for layout, b in ((frame, fb), (stacks, sb))]

    got, want = draws(_fill(frame, steps, 64), _fill(stacks, steps, 64), jax.random.PRNGKey(0))
    jax.tree_util.tree_map(np.testing.assert_array_equal, got, want)
    seg_valid = np.asarray(got[1][1])
    assert (seg_valid[:, 2] == 0).any() and (seg_valid[:, 2] == 1).any()  # segments end at the resets


def test_after_it_wraps_every_draw_is_a_transition_the_env_gave():
    """Batches and segments never read a slot whose older frames were overwritten; windows mark those invalid."""
    num_envs, frames = 2, 3
    steps = _episodes(num_envs, 40, frames, [{3, 4, 11, 25}, {0, 17}])
    layout = FrameLayout(frames, num_envs)
    buf = _fill(layout, steps, 11)
    truth = _truth(steps)

    @jax.jit
    def draws(buf, keys):
        batches = jax.vmap(lambda k: layout.batch(buf, k, 64))(keys)
        segments = jax.vmap(lambda k: layout.segments(buf, k, 64, 3, num_envs)[0])(keys)
        return batches, segments, layout.window(buf, 0, 11)[1]

    batches, segments, valid = draws(buf, jax.random.split(jax.random.PRNGKey(0), 4))
    for tr in (batches, segments):
        ids = np.asarray(tr.reward).astype(int).ravel()
        assert ids.min() >= 80 - 11 + (frames - 1) * num_envs  # none of the oldest, unreadable slots
        want = jax.tree_util.tree_map(lambda x: np.asarray(x)[ids].reshape(tr.reward.shape + x.shape[1:]), truth)
        jax.tree_util.tree_map(np.testing.assert_array_equal, tr, want)
    position = (np.arange(11) - int(buf.insert_pos)) % 11
    np.testing.assert_array_equal(np.asarray(valid), position >= (frames - 1) * num_envs)
