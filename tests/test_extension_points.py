"""The how-tos of WORKSPACE.md ("how to add a base algorithm / a noise schedule / an env family"), done: each
extension is one registration that the config, the validator and the training program then pick up."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.config import ConfigError, validate_config
from diffsr_jax.envs.base import Env
from diffsr_jax.envs.registry import ENV_FAMILIES, EnvFamily
from diffsr_jax.training import make_train
from tests.helpers import preset

TINY = {"run.total_steps": 240, "run.warmup_steps": 120, "run.eval_every": 120, "run.eval_episodes": 2,
        "replay.batch_size": 16}


class PointMass(Env):
    """A 1-D point mass pushed by the action: obs (position, velocity), reward -position^2, 40 frames."""

    def __init__(self, max_steps=None):
        self.name, self.obs_dim, self.action_dim = "toy/point", 2, 1
        self.max_episode_steps = int(max_steps or 40)
        self.action_low, self.action_high = np.array([-1.0], np.float32), np.array([1.0], np.float32)

    def _reset(self, key):
        x = jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0)
        return x, x

    def _step(self, inner, action, key):
        pos, vel = inner[0], inner[1]
        vel = 0.9 * vel + 0.1 * action[0]
        pos = pos + 0.1 * vel
        nxt = jnp.stack([pos, vel])
        return nxt, nxt, -pos**2, jnp.zeros((), bool)


@pytest.fixture
def toy_family(monkeypatch):
    monkeypatch.setitem(ENV_FAMILIES, "toy", EnvFamily(
        names=lambda: ("point",), build=lambda name, backend, max_steps, et: PointMass(max_steps),
        pomdp_supported=lambda name: True, velocity_indices=lambda env, name: np.array([1])))


def test_an_env_family_is_one_table_entry(toy_family):
    cfg = preset("diffsr_sac", overrides={**TINY, "env.name": "toy/point", "env.pomdp": True, "env.pomdp_history": 2})
    validate_config(cfg)  # the validator reads the same table: names, POMDP layout
    train = make_train(cfg)
    assert train.trainer.env.name == "toy/point[pomdp,L=2]" and train.trainer.env.obs_dim == 2  # velocity dropped
    _, m = jax.jit(train)(jax.random.PRNGKey(0))
    assert np.asarray(m["eval/return"]).shape == (2,) and np.isfinite(np.asarray(m["eval/return"])).all()
    assert np.isfinite(float(m["train/score_matching_loss"][-1]))
    with pytest.raises(ConfigError, match="unknown toy env 'line'; choose one of: point"):
        validate_config(preset("sac", overrides={"env.name": "toy/line"}))


def test_a_noise_schedule_is_one_entry_in_schedules_py():
    """sigmoid was added by the how-to: a builder and one line in the schedule table; the config accepts it and
    the representation trains with its levels."""
    cfg = preset("diffsr_sac", overrides={**TINY, "representation.schedule": "sigmoid", "representation.num_levels": 64})
    validate_config(cfg)
    train = make_train(cfg)
    schedule = train.trainer.agent.critic.representation.schedule
    assert schedule.kind == "sigmoid" and schedule.num_levels == 64
    _, m = jax.jit(train)(jax.random.PRNGKey(0))
    assert np.isfinite(float(m["train/score_matching_loss"][-1]))
    assert {"diag/sm_loss_level0", "diag/sm_loss_level63"} <= set(m)


def test_a_base_algorithm_is_one_file():
    """DDPG (agents/ddpg.py) is registered once in BASES; ddpg and diffsr_ddpg both exist, built from it."""
    from diffsr_jax.agents.critics import MLPCritic, RepresentationCritic
    from diffsr_jax.agents.ddpg import DDPG
    from diffsr_jax.agents.registry import AGENTS, BASES, make_agent

    assert BASES["ddpg"] is DDPG and {"ddpg", "diffsr_ddpg"} <= set(AGENTS)
    plain, diffsr = make_agent(preset("ddpg"), 3, 1), make_agent(preset("diffsr_ddpg"), 3, 1)
    assert type(plain) is DDPG and type(diffsr) is DDPG
    assert isinstance(plain.critic, MLPCritic) and isinstance(diffsr.critic, RepresentationCritic)
    assert set(diffsr.hparams()) == {"actor_critic", "representation"} and set(plain.hparams()) == {"actor_critic"}
