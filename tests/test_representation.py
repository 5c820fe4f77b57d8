import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.diffusion import make_schedule
from diffsr_jax.networks.critics import Ensemble, RFFHead
from diffsr_jax.representation import (
    PsiZeta,
    PsiNet,
    ZetaNet,
    factorized_score,
    score_matching_loss,
)

DS, DA, B = 17, 6, 8


def _batch(seed=0):
    k = jax.random.split(jax.random.PRNGKey(seed), 3)
    return (jax.random.normal(k[0], (B, DS)), jax.random.uniform(k[1], (B, DA), minval=-1, maxval=1),
            jax.random.normal(k[2], (B, DS)))


def _count(tree):
    return sum(x.size for x in jax.tree_util.tree_leaves(tree))


def _sac_model(F=256):
    return PsiZeta(PsiNet(F, "mlp", (256,), "elu"), ZetaNet(F, DS, "mlp", (512,), "elu", "alpha_bar"))


def _td3_model(F=512):
    return PsiZeta(
        PsiNet(F, "residual", activation="mish", res_width=512, res_blocks=3),
        ZetaNet(F, DS, "residual", activation="mish", level_input="embedding", res_width=512, res_blocks=3),
    )


@pytest.mark.parametrize("make,F", [(_sac_model, 256), (_td3_model, 512)])
def test_representation_shapes(make, F):
    s, a, sn = _batch()
    model = make(F)
    lvl, ab = jnp.arange(B), jnp.linspace(0.1, 0.9, B)
    params = model.init(jax.random.PRNGKey(0), s, a, sn, lvl, ab)
    pred = model.apply(params, s, a, sn, lvl, ab)
    assert pred.shape == (B, DS)
    psi = model.apply(params, s, a, method=PsiZeta.psi)
    assert psi.shape == (B, F)
    zeta = model.zeta_net.apply({"params": params["params"]["zeta_net"]}, sn, lvl, ab)
    assert zeta.shape == (B, F, DS)
    np.testing.assert_allclose(np.asarray(factorized_score(psi, zeta)), np.asarray(pred), rtol=1e-4, atol=1e-4)


def test_td3_zeta_output_layer_size_matches_spec():
    """Spec section 4: for d_s = 17 the zeta output layer alone is 512 * 512 * 17 = 4.46 M weights."""
    s, a, sn = _batch()
    model = _td3_model()
    params = model.init(jax.random.PRNGKey(0), s, a, sn, jnp.arange(B), jnp.ones(B))
    res = params["params"]["zeta_net"]["ResidualMLP_0"]
    last = max((k for k in res if k.startswith("Dense")), key=lambda k: int(k.split("_")[1]))
    assert res[last]["kernel"].shape == (512, 512 * DS)


def test_factorized_score_is_the_sum_over_features():
    psi = jnp.arange(6.0).reshape(2, 3)
    zeta = jnp.ones((2, 3, 4)) * jnp.array([1.0, 2.0, 3.0])[None, :, None]
    out = factorized_score(psi, zeta)
    np.testing.assert_allclose(np.asarray(out[0]), 0 * 1 + 1 * 2 + 2 * 3)
    np.testing.assert_allclose(np.asarray(out[1]), 3 * 1 + 4 * 2 + 5 * 3)
    with pytest.raises(ValueError, match="feature dim"):
        factorized_score(jnp.ones((2, 4)), zeta)


@pytest.mark.parametrize("parameterization", ["eps", "score"])
def test_vmapped_level_losses_equal_python_loop(parameterization):
    s, a, sn = _batch(1)
    model = _sac_model(32)
    sched = make_schedule("beta_cdf", 1000)
    params = model.init(jax.random.PRNGKey(0), s, a, sn, jnp.zeros(B, jnp.int32), jnp.ones(B))
    levels = jnp.array([0, 100, 500, 999])
    key = jax.random.PRNGKey(7)
    psi, zeta_fn = _psi_and_zeta(model, params, s, a)
    vm = score_matching_loss(psi, zeta_fn, key, sn, sched, parameterization, 0.449, levels=levels)
    keys = jax.random.split(key, 4)
    from diffsr_jax.diffusion import corrupt, denoising_loss

    loop = []
    for k, lvl in zip(keys, levels):
        ab = sched.alpha_bar[lvl]
        x, eps = corrupt(k, sn, jnp.full((B,), ab), 0.449)
        pred = model.apply(params, s, a, x, jnp.full((B,), lvl), jnp.full((B,), ab))
        loop.append(float(jnp.mean(denoising_loss(pred, eps, jnp.full((B,), ab), parameterization, 0.449))))
    np.testing.assert_allclose(np.asarray(vm), np.array(loop), rtol=1e-5)


def _psi_and_zeta(model, params, s, a):
    psi = model.apply(params, s, a, method=PsiZeta.psi)
    return psi, lambda x, level, ab: model.apply(params, x, level, ab, method=PsiZeta.zeta)


def test_training_loss_draws_one_uniform_level_per_row():
    """levels=None: one level per row from the key's first half, the noise from its second, the batch mean of the
    per-row loss of the full model psi^T zeta: checked against that computation written out."""
    from diffsr_jax.diffusion import corrupt, denoising_loss

    s, a, sn = _batch(2)
    model = _td3_model(64)
    sched = make_schedule("vp", 50)
    params = model.init(jax.random.PRNGKey(0), s, a, sn, jnp.zeros(B, jnp.int32), jnp.ones(B))
    psi, zeta_fn = _psi_and_zeta(model, params, s, a)
    key = jax.random.PRNGKey(3)
    loss = score_matching_loss(psi, zeta_fn, key, sn, sched, "eps")
    k_level, k_noise = jax.random.split(key)
    level = jax.random.randint(k_level, (B,), 0, 50)
    ab = sched.alpha_bar[level]
    x, eps = corrupt(k_noise, sn, ab)
    expected = jnp.mean(denoising_loss(model.apply(params, s, a, x, level, ab), eps, ab, "eps"))
    assert loss.shape == ()
    np.testing.assert_allclose(float(loss), float(expected), rtol=1e-5)
    assert len(set(np.asarray(level).tolist())) > 1  # the rows really use different levels


@pytest.mark.parametrize(
    "head,rff_params",
    [(RFFHead(256, 256, "sin"), 256 * 256 + 256), (RFFHead(512, 512, "sincos", True, True), 512 * 512 + 512)],
)
def test_twin_rff_critic(head, rff_params):
    F = 256 if head.rff_dim == 256 else 512
    psi = jax.random.normal(jax.random.PRNGKey(0), (B, F))
    twin = Ensemble(head, 2)
    params = twin.init(jax.random.PRNGKey(1), psi)
    q = twin.apply(params, psi)
    assert q.shape == (2, B)
    assert not np.allclose(np.asarray(q[0]), np.asarray(q[1])), "the two heads must be initialised independently"
    rff = params["params"]["head"]["LearnedRFF_0"]["Dense_0"]
    assert rff["kernel"].shape == (2, F, head.rff_dim)
    assert rff["kernel"][0].size + rff["bias"][0].size == rff_params


def test_a_next_state_smaller_than_the_state_is_modelled_at_its_own_size():
    """psi reads a stack (3 frames' latents of 4) while zeta models the next frame's latent (4), as the image
    variant does: the psi_critic component builds, updates and probes it, and the dynamics probe reads the change
    from the newest frame."""
    from diffsr_jax.agents.critics import psi_critic
    from diffsr_jax.data.transition import Transition
    from diffsr_jax.representation.probes import transition_probes
    from tests.helpers import preset

    cfg = preset("diffsr_sac")
    stack, frame, b = 12, 4, 64
    critic = psi_critic(cfg, stack, DA, 2, next_dim=frame)
    hp = critic.hparams()
    heads, state = critic.init(jax.random.PRNGKey(0), stack, DA, hp)
    zeta = state.learner.params["model"]["params"]["zeta_net"]
    assert zeta["MLP_0"]["Dense_1"]["kernel"].shape[-1] == cfg.representation.feature_dim * frame
    k = jax.random.split(jax.random.PRNGKey(1), 3)
    obs = jax.random.normal(k[0], (b, stack))
    newest_change = jax.random.normal(k[1], (b, frame))
    batch = Transition(obs=obs, action=jax.random.uniform(k[2], (b, DA), minval=-1, maxval=1),
                       reward=jnp.zeros(b), next_obs=obs[:, -frame:] + newest_change, terminated=jnp.zeros(b))

    class Fixed:  # hands the same batch to every draw
        def batch(self, key):
            return batch

    new_state, info = critic.update_critic_state(state, Fixed(), jax.random.PRNGKey(2), hp, None)
    assert np.isfinite(float(info["score_matching_loss"]))
    assert not np.allclose(new_state.learner.params["model"]["params"]["zeta_net"]["MLP_0"]["Dense_1"]["kernel"],
                           zeta["MLP_0"]["Dense_1"]["kernel"])
    assert critic.q(heads, new_state, obs, batch.action).shape == (2, b)
    # psi = the newest change itself: the probe explains it exactly, so it reads next_obs - obs[:, -frame:]
    feats = jnp.concatenate([newest_change, jnp.zeros((b, 4))], axis=1)
    r2 = transition_probes(feats, batch)
    assert float(r2["dynamics"]) > 0.99, r2
