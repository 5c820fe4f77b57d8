"""The how-tos of WORKSPACE.md ("how to add a base algorithm / a noise schedule / an env family"), done: each
extension is one registration that the config, the validator and the training program then pick up."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.config import ConfigError, validate_config
from diffsr_jax.envs.families import ENV_FAMILIES, EnvFamily
from diffsr_jax.program import make_train
from tests.helpers import PointMass, preset

TINY = {"run.total_steps": 240, "run.warmup_steps": 120, "run.eval_every": 120, "run.eval_episodes": 2,
        "replay.batch_size": 16}


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


def test_a_base_algorithm_is_one_file_and_one_registry_line():
    """DDPG is ``agents/ddpg.py`` (its config group and its builder) and one line in ``BASES``: ddpg and diffsr_ddpg
    exist, ``config.ddpg`` exists and is validated for both, and no other file of the library names it."""
    import pathlib

    from diffsr_jax.agents import ddpg
    from diffsr_jax.agents.critics import MLPCritic, RepresentationCritic
    from diffsr_jax.agents.deterministic import DeterministicActorCritic
    from diffsr_jax.agents.protocol import Agent
    from diffsr_jax.agents.registry import AGENTS, BASES, make_agent
    from diffsr_jax.config import GROUPS, default_config

    assert BASES["ddpg"].build is ddpg.DDPG and BASES["ddpg"].config is ddpg.DDPG_CONFIG
    assert {"ddpg", "diffsr_ddpg"} <= set(AGENTS) and GROUPS["ddpg"] is ddpg.DDPG_CONFIG and "ddpg" in default_config()
    assert {"actor_critic", "ddpg"} <= set(AGENTS["diffsr_ddpg"].groups)
    plain, diffsr = make_agent(preset("ddpg"), 3, 1), make_agent(preset("diffsr_ddpg"), 3, 1)
    assert isinstance(plain, DeterministicActorCritic) and isinstance(plain, Agent) and isinstance(diffsr, Agent)
    assert isinstance(plain.critic, MLPCritic) and isinstance(diffsr.critic, RepresentationCritic)
    assert set(diffsr.hparams()) == {"actor_critic", "ddpg", "representation"}
    assert set(plain.hparams()) == {"actor_critic", "ddpg"}
    with pytest.raises(ConfigError, match="config.ddpg.expl_noise must be >= 0"):
        validate_config(preset("diffsr_ddpg", overrides={"ddpg.expl_noise": -1.0}))
    library = pathlib.Path(__file__).resolve().parents[1] / "diffsr_jax"
    naming = sorted(str(p.relative_to(library)) for p in library.rglob("*.py") if _code_names(p, "ddpg"))
    assert naming == ["agents/ddpg.py", "agents/registry.py"], naming


def _code_names(path, word: str) -> bool:
    """Whether the code of ``path`` (not its docstrings or comments) names ``word``: an import, a name, an attribute
    or a string."""
    import ast

    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(
        n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body and isinstance(n.body[0], ast.Expr)}
    for n in ast.walk(tree):
        text = (n.module if isinstance(n, ast.ImportFrom) else n.id if isinstance(n, ast.Name) else
                n.attr if isinstance(n, ast.Attribute) else n.value if isinstance(n, ast.Constant) and
                isinstance(n.value, str) and id(n) not in docstrings else
                " ".join(a.name for a in n.names) if isinstance(n, (ast.Import, ast.ImportFrom)) else "")
        if word in (text or "").lower().split(".") or f"{word}." in (text or "").lower() or text == word:
            return True
        if isinstance(n, ast.ImportFrom) and any(a.name == word for a in n.names):
            return True
    return False