"""The checkpoint format stores any run-state pytree: zero-size, integer, boolean and key leaves, empty sub-trees;
a mismatching state is refused naming the leaf; a failed write is one line and keeps the previous checkpoint."""

import glob
import os

import chex
import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
import pytest

from diffsr_jax.training.checkpoint import Checkpointer, CheckpointMismatchError, CheckpointWriteError
from diffsr_jax.training.disk import DiskFullError


def _state(scale=1.0):
    return {
        "empty_2d": jnp.zeros((0, 3)),  # what Brax MJX states hold (pipeline_state.act)
        "empty_int": jnp.zeros((4, 0), jnp.int8),
        "ints": jnp.arange(5, dtype=jnp.int32) * int(scale),
        "flags": jnp.array([True, False, True]),
        "none": None, "empty_dict": {}, "empty_tuple": (),
        "typed_key": jax.random.key(3), "typed_keys": jax.random.split(jax.random.key(1), 4),
        "raw_key": jax.random.PRNGKey(7),
        "scalar": jnp.float32(2.5 * scale),
        "nested": [jnp.ones((2, 2)) * scale, {"deep": jnp.full((3,), scale, jnp.bfloat16)}],
    }


def test_any_pytree_round_trips(tmp_path):
    state = _state()
    ck = Checkpointer(str(tmp_path))
    ck.save(5, state, {"note": "x"})
    step, out, meta = ck.restore_latest(jax.eval_shape(lambda: state))
    assert step == 5 and meta["note"] == "x"
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(state)
    # every leaf: the same shape and dtype (bfloat16 and key dtypes included), and the same values (key leaves: the
    # same implementation and key data)
    chex.assert_trees_all_equal_shapes_and_dtypes(state, out)
    chex.assert_trees_all_equal(state, out, strict=True)


def test_a_state_of_another_shape_is_refused_naming_the_leaf(tmp_path):
    ck = Checkpointer(str(tmp_path))
    ck.save(1, _state(), {})
    other = dict(_state(), ints=jnp.arange(6, dtype=jnp.int32))
    with pytest.raises(CheckpointMismatchError, match=r"\['ints'\] is int32\[6\] in this run but int32\[5\]"):
        ck.restore(1, jax.eval_shape(lambda: other))


@pytest.mark.parametrize("error, raised, says", [
    (OSError(28, "No space left on device"), DiskFullError, "the disk is full"),  # ENOSPC
    (PermissionError(13, "Permission denied"), CheckpointWriteError, "Permission denied"),
])
def test_failed_write_is_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch, error, raised, says):
    ck = Checkpointer(str(tmp_path))
    ck.save(1, _state(1.0), {"n": 1})

    def failing_save(self, step, *args, **kwargs):  # a write that fails part-way
        partial = tmp_path / f"{step}.orbax-checkpoint-tmp-1234"
        partial.mkdir()
        (partial / "half_written").write_bytes(b"\0" * 100)
        raise error

    monkeypatch.setattr(ocp.CheckpointManager, "save", failing_save)
    with pytest.raises(raised) as e:
        ck.save(2, _state(2.0), {"n": 2})
    msg = str(e.value)
    assert "\n" not in msg and os.path.join(str(tmp_path), "2") in msg and says in msg
    monkeypatch.undo()
    assert not glob.glob(os.path.join(str(tmp_path), "*tmp*"))  # the partial write is cleaned up
    again = Checkpointer(str(tmp_path))
    assert again.steps() == [1]
    step, out, meta = again.restore_latest(jax.eval_shape(lambda: _state()))
    assert step == 1 and meta["n"] == 1
    chex.assert_trees_all_equal_shapes_and_dtypes(_state(1.0), out)  # structure, shapes and dtypes
    chex.assert_trees_all_equal(_state(1.0), out, strict=True)  # and values
