"""diffsr_jax.program.threefry: runs hash random numbers with the unrolled chain on the CPU, the same bits as JAX's
CPU loop, with no loop left in the program."""

import jax
import numpy as np
import pytest
from diffsr_jax.program.threefry import threefry_lowering, use_threefry_lowering


def _draws(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return (jax.random.normal(k1, (64, 3)), jax.random.uniform(k2, (17,)), jax.random.randint(k3, (9,), 0, 1000),
            jax.random.split(k3, 4), jax.random.bits(jax.random.fold_in(key, 7), (5,)))


def _compiled(kind):
    with threefry_lowering(kind):
        return jax.jit(lambda k: _draws(k)).lower(jax.random.PRNGKey(3)).compile()


def test_both_lowerings_draw_the_same_bits_and_only_the_loop_has_a_while():
    loop, unrolled = _compiled("loop"), _compiled("unrolled")
    assert " while(" in loop.as_text()  # JAX's own CPU lowering is a loop; if not, the module docstring is stale
    assert " while(" not in unrolled.as_text()
    for key in (jax.random.PRNGKey(3), jax.random.PRNGKey(2**31 + 5)):
        for a, b in zip(loop(key), unrolled(key)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_trainer_selects_the_unrolled_lowering():
    from diffsr_jax.program import Trainer
    from tests.helpers import preset

    def hlo():
        return jax.jit(lambda k: jax.random.normal(k, (8,))).lower(jax.random.PRNGKey(0)).compile().as_text()

    use_threefry_lowering("loop")
    assert " while(" in hlo()
    Trainer(preset("sac", overrides={"env.name": "gymnax/Pendulum-v1"}))
    assert " while(" not in hlo()


def test_an_unknown_lowering_is_refused():
    with pytest.raises(ValueError, match="none of unrolled, loop"):
        use_threefry_lowering("rolled")
