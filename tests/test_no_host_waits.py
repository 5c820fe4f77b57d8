"""The compiled learning chunk has no host wait: no ``conditional`` and no while loop whose trip count XLA does not
know (on a GPU each copies its predicate to the host and waits, every iteration). Read from the optimized HLO of the
chunk the launcher runs (vmapped members, the learning iterations, evaluation and diagnostics) by
``benchmarks.hlo_census``, for SAC, TD3, Diff-SR-SAC and Diff-SR-TD3 on gymnax and on Brax MJX with the light physics
(by default SAC's whole chunk on Brax and every agent's part of the iteration on Brax's sizes; the other whole Brax
chunks under ``-m slow``).
MuJoCo's own solver settings (``physics=native``) keep MJX's solver ``while_loop``: the census names it."""

import jax
import jax.numpy as jnp
import pytest

from benchmarks.hlo_census import census
from tests.helpers import preset

ITERS = 4
# the HLO the census reads is the same at any LLVM optimisation level (checked: identical census); level 0 halves the
# CPU compile time of these programs, which are only read, never run
READ_ONLY_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _chunk_census(agent, env, physics="auto", warmup=0, extra=None):
    from diffsr_jax.program import Trainer
    from diffsr_jax.training.devices import over_members

    overrides = {"env.name": env, "env.physics": physics, "run.eval_episodes": 2, "run.total_steps": 64,
                 "run.warmup_steps": 0, "replay.capacity": 64, "env.reset_pool_refill": 2, **(extra or {})}
    trainer = Trainer(preset(agent, "fast", overrides))
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    hp = jax.tree_util.tree_map(lambda v: jnp.stack([v, v]), trainer.default_hparams())
    runner = jax.eval_shape(jax.vmap(trainer.init), keys, hp)
    chunk = over_members(lambda r, t: trainer.chunk(r, t, ITERS, warmup), None, in_axes=(0, None), donate=(0,))
    text = chunk.lower(runner, jnp.int32(0)).compile(compiler_options=READ_ONLY_COMPILE).as_text()
    return census(text, iterations=ITERS)


def _agent_part_census(agent, env, extra=None):
    """Census of the agent's part of a learning iteration on ``env``'s sizes, without the env: the exploring action
    and the learner's updates on the run's replay (``trainer.explore_action``, ``trainer.learn``), seed-vmapped as a
    run maps them. With the env's part (the same for every agent: the SAC chunk on Brax below) it is the whole
    iteration, at a few seconds of compile instead of minutes."""
    from diffsr_jax.program import Trainer
    from diffsr_jax.training.devices import members_map

    overrides = {"env.name": env, "env.physics": "light" if env.startswith("brax/") else "auto", "run.total_steps": 64,
                 "run.warmup_steps": 0, "replay.capacity": 64, **(extra or {})}
    trainer = Trainer(preset(agent, "fast", overrides))
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    hp = jax.tree_util.tree_map(lambda v: jnp.stack([v, v]), trainer.default_hparams())
    runner = jax.eval_shape(jax.vmap(trainer.init), keys, hp)

    def part(r, key, t):
        k_act, k_learn = jax.random.split(key)
        return trainer.explore_action(r, k_act), trainer.learn(r, k_learn, t)

    fn = jax.jit(members_map(part, in_axes=(0, 0, None)))
    text = fn.lower(runner, keys, jnp.int32(0)).compile(compiler_options=READ_ONLY_COMPILE).as_text()
    return census(text), trainer


@pytest.mark.parametrize("agent", ["sac", "td3", "diffsr_sac", "diffsr_td3"])
def test_agent_part_on_brax_sizes_has_no_conditional_and_no_unbounded_loop(agent):
    c, trainer = _agent_part_census(agent, "brax/halfcheetah")
    assert (trainer.env.obs_dim, trainer.env.action_dim) == (17, 6)  # Brax's sizes, not gymnax's
    assert c["conditionals"] == [], _where(c["conditionals"])
    assert c["unbounded_loops"] == [], _where(c["unbounded_loops"])
    assert c["kernels"] > 50  # the update is in the program


def _where(items):
    return [(x["op_name"], x["source"]) for x in items]


def _cases():
    """Every agent on gymnax; on Brax MJX (2-4 minutes of compile each on the 2-core CI machine) SAC by default and
    the others under ``-m slow``: the env's part of the program is the same whatever the agent, and each agent's part
    on Brax's sizes is checked by default below (``_agent_part_census``)."""
    for agent in ("sac", "td3", "diffsr_sac", "diffsr_td3"):
        yield agent, "gymnax/Pendulum-v1"
        yield pytest.param(agent, "brax/halfcheetah", marks=() if agent == "sac" else pytest.mark.slow)


@pytest.mark.parametrize("agent,env", list(_cases()))
def test_learning_chunk_has_no_conditional_and_no_unbounded_loop(agent, env):
    c = _chunk_census(agent, env, physics="light" if env.startswith("brax/") else "auto")
    assert c["conditionals"] == [], _where(c["conditionals"])
    assert c["unbounded_loops"] == [], _where(c["unbounded_loops"])
    # the census sees the iterations: the refill blocks (2 iterations each) nest the step's scan in a scan of 2
    trips = sorted(lp["trip_count"] for lp in c["while_loops"])
    assert ITERS // 2 in trips and 2 in trips and c["kernels_per_iteration"] > 10


def test_optimism_bonus_adds_no_conditional_and_no_loop_of_unknown_length(monkeypatch):
    """The bonus's inverse is tracked by a fixed number of Newton-Schulz steps from a scaled start (a select), never
    a solve that loops to a tolerance; the same update with the factor solved to a tolerance is caught."""
    from diffsr_jax.agents import optimism

    c, _ = _agent_part_census("diffsr_sac", "gymnax/Pendulum-v1", {"optimism.enabled": True})
    assert c["conditionals"] == [] and c["unbounded_loops"] == [], (_where(c["conditionals"]),
                                                                    _where(c["unbounded_loops"]))

    def to_tolerance(sigma_matrix, previous, iters):  # what the census must catch: Newton-Schulz until converged
        del iters
        eye = jnp.eye(sigma_matrix.shape[0])
        z0 = eye / jnp.sqrt(jnp.trace(sigma_matrix))

        def residual(z):
            return jnp.max(jnp.abs(optimism.whitened(sigma_matrix, z) - eye))

        def step(z):
            return z @ (1.5 * eye - 0.5 * optimism.whitened(sigma_matrix, z))

        return jax.lax.while_loop(lambda z: residual(z) > 1e-5, step, z0 + 0.0 * previous)

    monkeypatch.setattr(optimism, "track_root", to_tolerance)
    c, _ = _agent_part_census("diffsr_sac", "gymnax/Pendulum-v1", {"optimism.enabled": True})
    assert any("test_no_host_waits.py" in (lp["source"] or "") for lp in c["unbounded_loops"]), \
        _where(c["unbounded_loops"])


def test_warmup_chunk_has_no_conditional():
    c = _chunk_census("sac", "gymnax/Pendulum-v1", warmup=ITERS // 2)
    assert c["conditionals"] == [] and c["unbounded_loops"] == []


def test_native_mjx_physics_keeps_the_solver_loop_and_the_census_names_it():
    c = _chunk_census("sac", "brax/halfcheetah", physics="native")
    assert c["conditionals"] == []
    assert c["unbounded_loops"], "MuJoCo's default solver is a while loop that stops on a tolerance"
    assert all("solver.py" in (lp["source"] or "") and "solve/while" in lp["op_name"] for lp in c["unbounded_loops"]), \
        _where(c["unbounded_loops"])


def test_the_pretraining_has_no_conditional_and_no_unbounded_loop():
    """``diffsr_drqv2``'s pre-training (a static phase of the chunk where the warm-up ends) is two scans of fixed
    length, seed-vmapped as a run maps it: no branch, no loop that waits on a predicate."""
    from diffsr_jax.program import Trainer
    from diffsr_jax.training.devices import members_map

    small = {"env.pixels": 16, "replay.batch_size": 8, "replay.capacity": 64, "run.total_steps": 64,
             "actor_critic.actor_hidden": (16, 16), "vae.channels": 4, "vae.latent_dim": 8, "vae.layers": 2,
             "representation.feature_dim": 8, "representation.psi_hidden": (16,),
             "representation.zeta_hidden": (16,), "psi_critic.rff_dim": 16, "psi_critic.rff_hidden": 16,
             "vae.pretrain_steps": 3, "vae.pretrain_vae_only": 1}
    trainer = Trainer(preset("diffsr_drqv2", "fast", small))
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    hp = jax.tree_util.tree_map(lambda v: jnp.stack([v, v]), trainer.default_hparams())
    runner = jax.eval_shape(jax.vmap(trainer.init), keys, hp)
    fn = jax.jit(members_map(lambda r, k: trainer.agent.pretrain(r.agent, trainer.sampler(r), k), in_axes=(0, 0)))
    c = census(fn.lower(runner, keys).compile(compiler_options=READ_ONLY_COMPILE).as_text())
    assert c["conditionals"] == [] and c["unbounded_loops"] == [], _where(c["conditionals"] + c["unbounded_loops"])
