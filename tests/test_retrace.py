"""The compiled chunk is traced once per shape: ``chex.assert_max_traces`` guards (``training.retrace.trace_guard``).

``Trainer.chunk`` is traced at most once per (num_iters, warmup_iters) for its Trainer: the launcher jits it once per
chunk shape (``host_loop``) and runs every chunk of that shape with that one program. Forcing a retrace on identical
shapes (t0 a weakly typed Python int where it was an int32) raises chex's AssertionError. Every Trainer, and every
trace of ``make_train``'s ``train``, counts its own traces.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.program import Trainer, make_train
from diffsr_jax.training.devices import over_members
from diffsr_jax.program.retrace import trace_guard
from tests.helpers import preset

# gymnax Pendulum, two chunks of 40 iterations of one shape (no warm-up: the replay has data after the first step)
TINY = {"run.total_steps": 80, "run.warmup_steps": 0, "run.eval_every": 40, "run.eval_episodes": 2,
        "env.episode_length": 20, "replay.batch_size": 16}
RETRACED = "traced > 1 times"


def _trainer():
    trainer = Trainer(preset("sac", overrides=TINY))
    assert trainer.env.name.startswith("gymnax/Pendulum")
    return trainer


def _members(trainer, num: int = 2, shapes: bool = False):
    keys = jax.random.split(jax.random.PRNGKey(0), num)
    hp = jax.tree_util.tree_map(lambda v: jnp.stack([v] * num), trainer.default_hparams())
    init = jax.vmap(trainer.init)
    return jax.eval_shape(init, keys, hp) if shapes else jax.jit(init)(keys, hp)


def test_the_launchers_chunk_is_traced_once_per_shape_and_a_retrace_raises():
    trainer = _trainer()
    n = trainer.num_iters // 2
    assert trainer.chunk_groups([n, n]) == [(0, n, 0, False, 2)]  # two chunks of one shape
    chunk = over_members(functools.partial(trainer.chunk, num_iters=n, warmup_iters=0), None, in_axes=(0, None),
                         donate=(0,))  # as host_loop builds it
    runner = _members(trainer)
    for t0 in (0, n):
        runner, m = chunk(runner, np.int32(t0))
    assert np.asarray(m["eval/return"]).shape == (2,) and np.isfinite(np.asarray(m["eval/return"])).all()
    assert chunk._cache_size() == 1  # one trace, one program, two chunks
    with pytest.raises(AssertionError, match=RETRACED):  # identical shapes, t0 weakly typed: a second trace
        chunk(runner, 2 * n)
    # another chunk shape is another program: one trace allowed, a second program of that shape is not
    shorter = jax.vmap(functools.partial(trainer.chunk, num_iters=n // 2, warmup_iters=0), in_axes=(0, None))
    jax.eval_shape(shorter, runner, np.int32(0))
    with pytest.raises(AssertionError, match=RETRACED):
        jax.eval_shape(jax.vmap(functools.partial(trainer.chunk, num_iters=n // 2, warmup_iters=0), in_axes=(0, None)),
                       runner, np.int32(0))


def test_every_trainer_counts_its_own_traces():
    """chex counts traces per footprint (call stack, source and name of the wrapped function): without the serial
    number ``trace_guard`` puts in the name, the second Trainer built here, the same way, would share the first's
    count and raise."""
    for _ in range(2):
        trainer = _trainer()
        runner = jax.eval_shape(trainer.init, jax.random.PRNGKey(0), trainer.default_hparams())
        jax.eval_shape(functools.partial(trainer.chunk, num_iters=4, warmup_iters=0), runner, np.int32(0))


def test_each_trace_of_train_has_its_own_guards():
    """``jax.vmap(train)`` and ``train`` alone are two programs of the same run (test_vmap_seeds compiles both): each
    traces every chunk shape once, under guards of its own."""
    train = make_train(preset("sac", overrides={**TINY, "run.warmup_steps": 40}))
    assert train.trainer.chunk_groups(train.chunk_lengths) == [(0, 40, 40, False, 1), (40, 40, 0, False, 1)]
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    _, m_v = jax.eval_shape(jax.vmap(train), keys)
    _, m_1 = jax.eval_shape(train, keys[0])
    assert m_v["eval/return"].shape == (2, 2) and m_1["eval/return"].shape == (2,)


def test_trace_guard_fires_on_the_second_trace_of_one_wrapper():
    add = trace_guard(lambda x: x + 1.0, "add")
    assert float(jax.jit(add)(jnp.float32(1.0))) == 2.0
    assert float(add(jnp.float32(1.0))) == 2.0  # a call outside any trace is not counted
    with pytest.raises(AssertionError, match=RETRACED):  # a program that unrolls it: traced again
        jax.jit(lambda x: add(add(x)))(jnp.float32(1.0))
    for double in [trace_guard(lambda x: 2.0 * x, "double") for _ in range(2)]:  # made on one line, counted apart
        assert float(jax.jit(double)(jnp.float32(1.0))) == 2.0
