"""Agents learn: every agent's ``fast`` preset reaches a mean final evaluation return above -300 on
gymnax/Pendulum-v1 over 2 seeds within 20k env steps (random policy: about -1200; a broken learner stays
below -900). Diff-SR-SAC's runs in every test run; the others are marked slow (a few minutes each on 2 CPU cores,
PolyGRAD about half an hour) and run with ``python -m pytest -m slow``."""

import jax
import numpy as np
import pytest

from diffsr_jax.program import make_train
from tests.helpers import preset


@pytest.mark.parametrize("agent", [
    "diffsr_sac",  # the default job: runs in every test run (CI included)
    pytest.param("sac", marks=pytest.mark.slow),
    pytest.param("td3", marks=pytest.mark.slow),
    pytest.param("diffsr_td3", marks=pytest.mark.slow),
    pytest.param("ddpg", marks=pytest.mark.slow),  # the third base: added in one file, no Diff-SR code in it
    pytest.param("diffsr_ddpg", marks=pytest.mark.slow),
    pytest.param("polygrad", marks=pytest.mark.slow),  # the sampling-based baseline: ~30 min on 2 CPU cores
])
def test_agent_learns_pendulum(agent):
    cfg = preset(agent)
    assert cfg.env.name == "gymnax/Pendulum-v1" and cfg.run.total_steps <= 20_000
    train = make_train(cfg)
    _, m = jax.jit(jax.vmap(train))(jax.random.split(jax.random.PRNGKey(0), 2))
    curve = np.asarray(m["eval/return"])  # (seeds, evals): mean over eval_episodes
    first, final = curve[:, 0].mean(), curve[:, -1].mean()
    assert first < -900, f"the first evaluation should be near random, got {first:.0f}"
    assert final > -300, f"{agent}: mean final eval return {final:.0f} over 2 seeds; curve {curve.round(0)}"


@pytest.mark.slow
def test_drqv2_learns_cartpole_balance_from_pixels():
    """DrQ-v2's ``fast`` preset from 32 x 32 frames of playground/CartpoleBalance (action repeat 4, 40k frames, 2
    seeds; about 40 min on 2 CPU cores beside other work): the untrained policy's first evaluation scores about 135
    and uniform random actions about 210 (the warm-up's episodes); a learner that works passes a mean final
    evaluation of 270 (docs/pixels.md, "DrQ-v2 learning": final means 381 with this preset, 330 with one env)."""
    cfg = preset("drqv2")
    assert cfg.env.pixels == 32 and cfg.run.total_steps == 40_000
    train = make_train(cfg)
    _, m = jax.jit(jax.vmap(train))(jax.random.split(jax.random.PRNGKey(0), 2))
    curve = np.asarray(m["eval/return"])
    first, final = curve[:, 0].mean(), curve[:, -1].mean()
    assert first < 250, f"the first evaluation should be near the untrained policy's, got {first:.0f}"
    assert final > 270, f"drqv2: mean final eval return {final:.0f} over 2 seeds; curve {curve.round(0)}"
