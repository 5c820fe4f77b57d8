import jax
import jax.numpy as jnp
import numpy as np

from diffsr_jax.data.normalizer import normalize, stats_init, stats_update
from diffsr_jax.data.replay import replay_add, replay_init, replay_sample, replay_window


def test_replay_wraps_and_keeps_the_latest_items():
    buf = replay_init({"x": jnp.zeros(2), "r": jnp.zeros(())}, capacity=5)
    for i in range(3):  # 3 batches of 2 -> 6 items into 5 slots
        items = {"x": jnp.full((2, 2), float(2 * i)) + jnp.arange(2.0)[:, None], "r": jnp.arange(2.0) + 2 * i}
        buf = replay_add(buf, items)
    assert int(buf.size) == 5 and int(buf.insert_pos) == 1
    assert sorted(np.asarray(buf.data["r"]).tolist()) == [1.0, 2.0, 3.0, 4.0, 5.0]  # item 0 overwritten


def test_replay_samples_uniformly_from_filled_part_only():
    buf = replay_init(jnp.zeros(()), capacity=100)
    buf = replay_add(buf, jnp.arange(10.0))
    s = np.asarray(replay_sample(buf, jax.random.PRNGKey(0), 50_000))
    assert s.min() == 0 and s.max() == 9  # never an empty slot
    counts = np.bincount(s.astype(int), minlength=10)
    assert np.all(np.abs(counts / 50_000 - 0.1) < 0.01)


def test_replay_window_reads_consecutive_slots_and_marks_the_unfilled():
    buf = replay_add(replay_init(jnp.zeros(2), 8), jnp.arange(10.0).reshape(5, 2))  # 5 of 8 slots filled
    items, valid = jax.jit(replay_window, static_argnums=2)(buf, jnp.int32(3), 4)
    np.testing.assert_array_equal(valid, [True, True, False, False])
    np.testing.assert_array_equal(items[:2], [[6.0, 7.0], [8.0, 9.0]])
    items, valid = replay_window(buf, jnp.int32(6), 4)  # past the capacity: the last slot, invalid
    assert items.shape == (4, 2) and not bool(valid.any())


def test_running_stats_match_numpy():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(300, 4)).astype(np.float32)
    st = stats_init(4)
    for chunk in np.split(x, [1, 7, 150]):
        st = stats_update(st, jnp.asarray(chunk))
    np.testing.assert_allclose(np.asarray(st.mean), x.mean(0), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(st.var), x.var(0), rtol=1e-3)
    z = np.asarray(normalize(st, jnp.asarray(x)))
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-3)
    np.testing.assert_allclose(z.std(0), 1.0, atol=1e-3)
    np.testing.assert_allclose(np.asarray(normalize(stats_init(4), jnp.asarray(x))), x)  # identity before data
