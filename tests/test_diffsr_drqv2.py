"""Diff-SR on DrQ-v2 (``diffsr_drqv2``, the paper's image-based variant): what each network learns from in one update.

The VAE learns from its negative ELBO alone (on the stack's shifted frames and the next step's newest frame); psi
learns from the critic's TD loss (``psi_critic.grad_to_rep``) on the stacked latents, with the TD target formed once
from the VAE's EMA copy, the EMA psi, the target heads and the actor's clipped-noise action; zeta models one frame's
latent while psi reads three.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.common import replay_of_noise
from diffsr_jax.agents.drqv2 import clipped_noise_action, n_step_targets
from diffsr_jax.data.augment import random_shift
from diffsr_jax.data.sampler import FixedSampler
from diffsr_jax.data.transition import Transition
from diffsr_jax.networks.vae import FrameVAE, elbo_loss, frames_of
from tests.helpers import preset

SMALL = {"env.pixels": 16, "replay.batch_size": 8, "replay.buffer_size": 64, "run.total_steps": 64,
         "actor_critic.actor_hidden": (16, 16), "vae.channels": 4, "vae.latent_dim": 8, "vae.layers": 2,
         "representation.feature_dim": 8, "representation.psi_hidden": (16,), "representation.zeta_hidden": (16,),
         "psi_critic.rff_dim": 16, "psi_critic.rff_hidden": 16}


def _filled(overrides):
    """A trainer of ``diffsr_drqv2`` and its replay filled with random frames, (trainer, state, sampler)."""
    from diffsr_jax.program.trainer import Trainer

    trainer = Trainer(preset("diffsr_drqv2", overrides={**SMALL, **overrides}))
    runner = replay_of_noise(trainer, jax.jit(trainer.init)(jax.random.PRNGKey(0)), jax.random.PRNGKey(1))
    return trainer, runner.agent, trainer.sampler(runner)


def _tree_close(a, b):
    jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, rtol=2e-5, atol=1e-7), a, b)


def _moved(a, b):
    return not all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def test_the_vae_learns_from_its_elbo_alone_and_psi_from_the_critic_on_the_target_formed_once():
    """With the score-matching objective off, psi moves only by the critic's loss: its step must equal one Adam step on
    sum_i mean((Q_i(psi(z, a)) - y)^2), with z the VAE's posterior means of the shifted stack and y recomputed here
    from the VAE's EMA copy and the EMA psi (both perturbed, so that reading an online one would show). The VAE's
    step must equal one Adam step on its ELBO alone."""
    trainer, state, sampler = _filled({"representation.objective": "none"})
    agent, kl_weight = trainer.agent, trainer.config.vae.kl_weight
    assert agent.critic.bootstrap == "target"  # the presets' (rl-rep's image agent's TD target)
    perturbed = jax.tree_util.tree_map(lambda p: p + 0.05, state.encoder.target)
    psi_target = jax.tree_util.tree_map(lambda p: p * 1.1, state.critic_state.target)
    state = state.replace(encoder=state.encoder.replace(target=perturbed),
                          critic_state=state.critic_state.replace(target=psi_target))
    key = jax.random.PRNGKey(3)
    new, info = jax.jit(agent.update)(state, sampler, key, 0)

    def expected(state, sampler, key):
        k_seg, k_aug, k_aug_next, k_critic, _ = jax.random.split(key, 5)
        k_encoder, _ = jax.random.split(jax.random.fold_in(key, 1))
        seg, valid = sampler.segments(k_seg, agent.batch_size, agent.n_step)
        reward, bootstrap, last = n_step_targets(seg, valid, 0.99)
        obs, next_obs = random_shift(k_aug, seg.obs[:, 0], agent.pad), random_shift(k_aug_next, last, agent.pad)
        vae, online = agent.encoder.vae, state.encoder.learner.params

        def latents(params, stack):
            mean, _ = vae.apply(params, frames_of(stack, 3), method=FrameVAE.encode)
            return mean.reshape(mean.shape[0], -1)

        critic, rep = agent.critic, agent.critic.representation
        next_z = latents(state.encoder.target, next_obs)
        next_a = clipped_noise_action(k_critic, agent.actor_net.apply(state.actor.params, next_z), agent.std(state),
                                      0.3)
        next_q = critic.net.apply(state.target_critic["heads"], rep.psi(state.critic_state.target, next_z, next_a))
        y = reward + bootstrap * jnp.min(next_q, axis=0)
        z, a = latents(online, obs), seg.action[:, 0]

        def td(rep_params):
            q = critic.net.apply(state.critic.params["heads"], rep.psi(rep_params, z, a))
            return jnp.sum(jnp.mean((q - y) ** 2, axis=-1))

        psi_step = state.critic_state.learner.apply_gradients(jax.grad(td)(state.critic_state.learner.params))
        images = jnp.concatenate([frames_of(obs, 3).reshape((-1, 16, 16, 3)), seg.next_obs[:, 0, ..., -3:]])
        grads = jax.grad(lambda p: elbo_loss(vae, p, images, k_encoder, kl_weight)[0])(online)
        return psi_step.params, state.encoder.learner.apply_gradients(grads).params, y.mean()

    psi_params, vae_params, y_mean = jax.jit(expected)(state, sampler, key)
    _tree_close(new.critic_state.learner.params, psi_params)
    _tree_close(new.encoder.learner.params, vae_params)
    assert float(info["target_q"]) == pytest.approx(float(y_mean), rel=1e-5, abs=1e-6)
    assert _moved(state.critic_state.learner.params, new.critic_state.learner.params)
    assert _moved(state.encoder.learner.params, new.encoder.learner.params)
    # the copy moved toward the online VAE by tau
    _tree_close(new.encoder.target, jax.tree_util.tree_map(lambda t, o: 0.99 * t + 0.01 * o, perturbed, vae_params))


def test_zeta_models_one_frame_and_the_diagnostics_probe_the_latents():
    """psi reads the 3 stacked latents, zeta outputs F x one latent; the score-matching loss and the probes run on the
    VAE's latents of a replay batch."""
    trainer, state, sampler = _filled({})
    agent = trainer.agent
    assert agent.encoder.critic_dim == 3 * 8 and agent.encoder.next_dim == 8
    assert agent.critic.representation.model.zeta_net.state_dim == 8
    new, info = jax.jit(agent.update)(state, sampler, jax.random.PRNGKey(3), 0)
    for name in ("score_matching_loss", "vae_recon_loss", "vae_kl", "critic_loss", "actor_loss"):
        assert np.isfinite(float(info[name])), name
    diag = jax.jit(agent.diagnostics)(new, sampler.batch(jax.random.PRNGKey(4)), jax.random.PRNGKey(5))
    assert {"probe_r2_dynamics", "probe_r2_reward", "sm_loss_level0", "psi_norm"} <= set(diag)
    assert all(np.isfinite(float(v)) for v in diag.values())


@pytest.mark.parametrize("overrides,message", [
    ({"representation.steps_per_update": 4}, r"representation.steps_per_update=4: diffsr_drqv2 trains psi and zeta "
                                             r"once an update"),
    ({"vae.layers": 9}, r"config.vae.layers=9 leaves no feature map of a 16x16 frame"),
    ({"env.pixels": 0}, r"diffsr_drqv2 reads pixel observations: set --config.env.pixels"),
    ({"optimism.enabled": True}, r"optimism"),
    ({"vae.pretrain_steps": 2, "vae.pretrain_vae_only": 3}, r"config.vae.pretrain_vae_only=3 is more than "
                                                            r"pretrain_steps=2"),
    ({"vae.pretrain_steps": 2, "vae.pretrain_vae_only": 1, "run.warmup_steps": 0},
     r"config.vae.pretrain_steps=2 trains on the warm-up's replay"),
])
def test_bad_settings_are_named_before_anything_compiles(overrides, message):
    from diffsr_jax.config import ConfigError, validate_config

    with pytest.raises(ConfigError, match=message):
        validate_config(preset("diffsr_drqv2", overrides={**SMALL, **overrides}))


def _unchanged_but_the_encoder_and_psi(before, after):
    for name in ("critic", "target_critic", "actor", "updates"):
        assert not _moved(getattr(before, name), getattr(after, name)), name


def test_pretraining_trains_the_vae_alone_first_then_also_psi_by_score_matching_without_the_critic():
    """rl-rep's pre-training at the warm-up's end: with every step the VAE's alone, psi and zeta stay as they were and
    the VAE takes one Adam step on its ELBO per step; with the VAE-only part 0, psi's step equals the representation's
    own step on the update's latents with no extra (TD) loss. The heads, the actor, their targets and the noise
    schedule's clock are untouched either way."""
    key = jax.random.PRNGKey(7)
    trainer, state, sampler = _filled({"vae.pretrain_steps": 2, "vae.pretrain_vae_only": 2})
    agent, kl_weight = trainer.agent, trainer.config.vae.kl_weight
    assert trainer.pretrain_steps == 2
    new = jax.jit(agent.pretrain)(state, sampler, key)
    _unchanged_but_the_encoder_and_psi(state, new)
    assert not _moved(state.critic_state, new.critic_state)

    def elbo_steps(learner, keys):
        for k in keys:
            k_seg, k_aug, k_encoder, _ = jax.random.split(k, 4)
            seg, _ = sampler.segments(k_seg, agent.batch_size, 1)
            obs = random_shift(k_aug, seg.obs[:, 0], agent.pad)
            images = jnp.concatenate([frames_of(obs, 3).reshape((-1, 16, 16, 3)), seg.next_obs[:, 0, ..., -3:]])
            learner = learner.apply_gradients(
                jax.grad(lambda p: elbo_loss(agent.encoder.vae, p, images, k_encoder, kl_weight)[0])(learner.params))
        return learner.params

    k_vae, _ = jax.random.split(key)
    _tree_close(new.encoder.learner.params, jax.jit(elbo_steps)(state.encoder.learner, jax.random.split(k_vae, 2)))

    trainer, state, sampler = _filled({"vae.pretrain_steps": 1, "vae.pretrain_vae_only": 0})
    agent = trainer.agent
    assert agent.critic.grad_to_rep  # the update's psi step adds the TD loss; the pre-training's must not
    new = jax.jit(agent.pretrain)(state, sampler, key)
    _unchanged_but_the_encoder_and_psi(state, new)

    def score_step(state):
        k_seg, k_aug, _, k_features = jax.random.split(jax.random.split(jax.random.split(key)[1], 1)[0], 4)
        seg, _ = sampler.segments(k_seg, agent.batch_size, 1)
        params = state.encoder.learner.params
        z = agent.encoder.features(params, random_shift(k_aug, seg.obs[:, 0], agent.pad))
        batch = Transition(z, seg.action[:, 0], seg.reward[:, 0], agent.encoder.next_features(params, seg.next_obs[:, 0]),
                           seg.terminated[:, 0])
        return agent.critic.representation.update(state.critic_state, FixedSampler(batch), k_features, state.hp,
                                                  None)[0]

    expected = jax.jit(score_step)(state)
    _tree_close(new.critic_state.learner.params, expected.learner.params)
    assert _moved(state.critic_state.learner.params, new.critic_state.learner.params)


def test_the_pretraining_runs_once_in_the_chunk_where_the_warmup_ends():
    """Static, as the warm-up: the chunk holding the warm-up's last iteration pre-trains; a run resumed after it, and
    an agent without pre-training (DrQ-v2), never do."""
    from diffsr_jax.program.trainer import Trainer

    over = {**SMALL, "env.num_envs": 1, "env.action_repeat": 1, "run.warmup_steps": 40, "vae.pretrain_steps": 3,
            "vae.pretrain_vae_only": 1}
    trainer = Trainer(preset("diffsr_drqv2", overrides=over))
    assert trainer.warmup_iters == 40
    assert trainer.chunk_groups([16] * 4) == [(0, 16, 16, False, 2), (32, 16, 8, True, 1), (48, 16, 0, False, 1)]
    assert trainer.chunk_groups([20, 20, 20]) == [(0, 20, 20, False, 1), (20, 20, 20, True, 1), (40, 20, 0, False, 1)]
    assert not trainer.pretrain_in(48, 16)
    drqv2 = Trainer(preset("drqv2", overrides={k: v for k, v in over.items() if not k.startswith(("vae", "repr", "psi"))}))
    assert drqv2.pretrain_steps == 0 and not drqv2.pretrain_in(32, 16)
