"""A seed run inside a vmapped batch of seeds gives the same result as that seed run alone.

Everything random (env resets, exploration, replay indices, noise levels) is keyed by the seed alone, so the
warm-up actions are bitwise identical. Computed quantities agree to float32 rounding: XLA on CPU fuses and
reduces batched arrays differently (a vmapped ``mean`` differs in the last bit), and RL training amplifies
last-bit differences over hundreds of updates, so the comparison is made after 50 updates with a tolerance
far below any real difference between seeds (the test measures both).
"""

import chex
import jax
import numpy as np
import pytest

from diffsr_jax.program import make_train
from tests.helpers import preset


# td3 and diffsr_sac by default (both bases, with and without Diff-SR); sac and diffsr_td3 with -m slow
@pytest.mark.parametrize("agent", [pytest.param("sac", marks=pytest.mark.slow), "td3", "diffsr_sac",
                                   pytest.param("diffsr_td3", marks=pytest.mark.slow)])
def test_vmapped_seed_equals_seed_alone(agent):
    cfg = preset(agent, overrides={"run.total_steps": 150, "run.warmup_steps": 100, "run.eval_every": 150,
                                   "run.eval_episodes": 3, "env.episode_length": 40, "replay.batch_size": 32})
    train = make_train(cfg)
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    runner_v, m_v = jax.jit(jax.vmap(train))(keys)
    runner_1, m_1 = jax.jit(train)(keys[1])
    warm_v = jax.tree_util.tree_map(lambda x: np.asarray(x)[1, :100], runner_v.buffer.data)
    warm_1 = jax.tree_util.tree_map(lambda x: np.asarray(x)[:100], runner_1.buffer.data)
    # the member's run state is the seed alone's: the same leaves (by path), shapes and dtypes (by path: the static
    # parts, e.g. each optimizer's functions, are other objects in each program)
    by_path = lambda t: {jax.tree_util.keystr(p): x for p, x in jax.tree_util.tree_flatten_with_path(t)[0]}  # noqa: E731
    chex.assert_trees_all_equal_shapes_and_dtypes(by_path(jax.tree_util.tree_map(lambda x: x[1], runner_v)),
                                                  by_path(runner_1))
    chex.assert_trees_all_equal(warm_v.action, warm_1.action)
    chex.assert_trees_all_close(warm_v, warm_1, rtol=1e-5, atol=1e-6)  # (chex compares the structures first)
    m_v1 = jax.tree_util.tree_map(lambda x: np.asarray(x)[1], m_v)
    chex.assert_trees_all_equal_structs(m_v1, m_1)  # the same metric names
    others = lambda m: {k: v for k, v in m.items() if k != "eval/return"}  # noqa: E731
    chex.assert_trees_all_close(others(m_v1), others(m_1), rtol=1e-3, atol=1e-5)
    # a closed-loop pendulum episode amplifies rounding-level policy differences, hence 5% on returns
    chex.assert_trees_all_close(m_v1["eval/return"], m_1["eval/return"], rtol=5e-2, atol=1e-5)
    # the learned policy: same actions on the same states (individual Adam-updated weights can differ by one
    # step size where a gradient is at rounding level, so the comparison is made on what the weights compute)
    agent = train.trainer.agent
    states = warm_1.obs
    act_v = agent.act(jax.tree_util.tree_map(lambda x: x[1], runner_v.agent), states, None, True)
    act_1 = agent.act(runner_1.agent, states, None, True)
    same_seed = np.abs(np.asarray(act_v) - np.asarray(act_1)).max()
    # the tolerance is meaningful: different seeds differ by far more than it
    assert np.abs(np.asarray(m_v["train/critic_loss"])[0] - np.asarray(m_v["train/critic_loss"])[1]).max() > 1e-2
    act_0 = agent.act(jax.tree_util.tree_map(lambda x: x[0], runner_v.agent), states, None, True)
    other_seed = np.abs(np.asarray(act_0) - np.asarray(act_1)).max()
    assert same_seed < 0.05 * other_seed, (same_seed, other_seed)
