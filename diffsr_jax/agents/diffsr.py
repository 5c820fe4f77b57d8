"""Diff-SR agents: psi(s, a), zeta trained by denoising score matching, an RFF critic on psi, and SAC or TD3.

``DiffSRMixin`` turns a base actor-critic (SAC, TD3) into its Diff-SR version by replacing the critic with
a twin ``RFFHead`` on psi(s, a) and adding the representation learner to the update. Config fields:

- representation: rep_arch (mlp | residual), feature_dim, psi_hidden, zeta_hidden, rep_activation,
  rep_res_width, rep_res_blocks, rep_enc_hidden, rep_enc_out, level_input (alpha_bar | embedding), level_embed_dim
- diffusion: schedule, num_levels, noise_scale, parameterization (score | eps)
- training: rep_lr, rep_updates_per_step (each on a fresh batch), reward_weight (0 disables the reward head)
- critic: rff_dim, rff_hidden, rff_kind (sin | sincos), critic_input_ln, critic_hidden_ln, critic_activation,
  critic_rep (online | target: an EMA of psi with rate rep_tau), critic_grad_to_rep (critic loss trains psi)

The critic reads psi through ``q_values``; without ``critic_grad_to_rep`` the representation parameters are
wrapped in ``stop_gradient`` (the gradient w.r.t. the *action* still flows through psi, which the actor needs).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from diffsr_jax.agents.common import Learner, adam, soft_update
from diffsr_jax.agents.sac import SAC
from diffsr_jax.agents.td3 import TD3
from diffsr_jax.diffusion import make_schedule
from diffsr_jax.networks.critics import Ensemble, RFFHead
from diffsr_jax.representation import (
    DiffusionRepresentation,
    PsiNet,
    ZetaNet,
    factorized_score,
    per_level_losses,
    representation_loss,
)

DIAGNOSTIC_LEVELS = 4


class DiffSRMixin:
    REP_HPARAMS = ("rep_lr", "reward_weight", "rep_tau")

    def __init__(self, cfg, obs_dim: int, action_dim: int):
        self.cfg = c = cfg  # needed by make_critic_net, which the base __init__ calls
        self.rep_model = DiffusionRepresentation(
            PsiNet(c.feature_dim, c.rep_arch, tuple(c.psi_hidden), c.rep_activation, c.rep_enc_hidden,
                   c.rep_enc_out, c.rep_res_width, c.rep_res_blocks),
            ZetaNet(c.feature_dim, obs_dim, c.rep_arch, tuple(c.zeta_hidden), c.rep_activation, c.level_input,
                    c.level_embed_dim, c.rep_enc_hidden, c.rep_enc_out, c.rep_res_width, c.rep_res_blocks),
        )
        self.schedule = make_schedule(c.schedule, c.num_levels)
        self.use_reward_head = c.reward_weight > 0
        self.reward_head = self._rff_head()
        super().__init__(cfg, obs_dim, action_dim)

    def _rff_head(self) -> RFFHead:
        """One critic head; the reward head has the same shape."""
        c = self.cfg
        return RFFHead(c.rff_dim, c.rff_hidden, c.rff_kind, c.critic_input_ln, c.critic_hidden_ln, c.critic_activation)

    # --- critic on psi -------------------------------------------------------------------------
    def make_critic_net(self):
        return Ensemble(self._rff_head(), 2)

    def features(self, rep_params, obs, action):
        """psi(s, a) : (B, F)."""
        return self.rep_model.apply(rep_params["model"], obs, action, method=DiffusionRepresentation.features)

    def critic_init(self, key, obs, action, rep_params):
        return self.critic_net.init(key, self.features(rep_params, obs, action))

    def critic_rep_params(self, state):
        return state.target_rep if self.cfg.critic_rep == "target" else state.rep.params

    def q_values(self, critic_params, rep_params, obs, action):
        if not self.cfg.critic_grad_to_rep:
            rep_params = jax.lax.stop_gradient(rep_params)
        return self.critic_net.apply(critic_params, self.features(rep_params, obs, action))

    # --- state -----------------------------------------------------------------------------------
    @classmethod
    def hparam_names(cls) -> tuple:
        return super().hparam_names() + cls.REP_HPARAMS

    def init(self, key, hp: dict):
        k_model, k_reward, k_base = jax.random.split(key, 3)
        b = 2
        obs, action = jnp.zeros((b, self.obs_dim)), jnp.zeros((b, self.action_dim))
        params = {"model": self.rep_model.init(k_model, obs, action, obs, jnp.zeros(b, jnp.int32), jnp.ones(b))}
        if self.use_reward_head:
            params["reward"] = self.reward_head.init(k_reward, jnp.zeros((b, self.cfg.feature_dim)))
        rep = Learner.create(params, adam(hp["rep_lr"]))
        target_rep = params if self.cfg.critic_rep == "target" else None
        return super().init(k_base, hp, rep, target_rep)

    # --- representation learning ---------------------------------------------------------------
    def _diffusion_apply(self, model_params, obs, action, x_noisy, level, alpha_bar):
        return self.rep_model.apply(model_params, obs, action, x_noisy, level, alpha_bar)

    def rep_loss(self, rep_params, state, batch, key):
        k_diff, k_critic = jax.random.split(key)
        c = self.cfg
        psi = self.features(rep_params, batch.obs, batch.action)  # computed once, shared by both heads

        def predict(model_params, obs, action, x_noisy, level, alpha_bar):
            zeta = self.rep_model.apply(model_params, x_noisy, level, alpha_bar, method=DiffusionRepresentation.zeta)
            return factorized_score(psi, zeta)

        sm = representation_loss(predict, rep_params["model"], k_diff, batch.obs, batch.action,
                                 batch.next_obs, self.schedule, c.parameterization, c.noise_scale)
        total, info = sm, {"score_matching_loss": sm}
        if self.use_reward_head:
            r_hat = self.reward_head.apply(rep_params["reward"], psi)
            r_loss = jnp.mean((r_hat - batch.reward) ** 2)
            total = total + state.hp["reward_weight"] * r_loss
            info["reward_loss"] = r_loss
        if c.critic_grad_to_rep:
            c_loss, _ = self.critic_loss(state.critic.params, state.replace(rep=state.rep.replace(params=rep_params)),
                                         batch, k_critic)
            total = total + c_loss
        return total, info

    def update(self, state, sample_fn, key, update_idx):
        """``rep_updates_per_step`` representation steps on fresh batches, then one actor-critic step."""
        k_rep, k_batch, k_ac = jax.random.split(key, 3)

        def rep_step(state, k):
            kb, kl = jax.random.split(k)
            (_, info), grads = jax.value_and_grad(self.rep_loss, has_aux=True)(
                state.rep.params, state, sample_fn(kb), kl)
            return state.replace(rep=state.rep.apply_gradients(grads)), info

        state, rep_info = jax.lax.scan(rep_step, state, jax.random.split(k_rep, self.cfg.rep_updates_per_step))
        if self.cfg.critic_rep == "target":
            state = state.replace(target_rep=soft_update(state.target_rep, state.rep.params, state.hp["rep_tau"]))
        state, ac_info = self.update_actor_critic(state, sample_fn(k_batch), k_ac, update_idx)
        return state, {**jax.tree_util.tree_map(jnp.mean, rep_info), **ac_info}

    # --- diagnostics (host-side, at evaluation time) -----------------------------------------------
    def diagnostics(self, state, batch, key) -> dict:
        """Score-matching loss at a few noise levels, reward-head loss, feature norms: scalars."""
        c = self.cfg
        levels = np.linspace(0, self.schedule.num_levels - 1, DIAGNOSTIC_LEVELS).astype(np.int32)
        per_level = per_level_losses(self._diffusion_apply, state.rep.params["model"], key, batch.obs, batch.action,
                                     batch.next_obs, self.schedule, levels, c.parameterization, c.noise_scale)
        out = {f"sm_loss_level{int(lv)}": per_level[i] for i, lv in enumerate(levels.tolist())}
        psi = self.features(state.rep.params, batch.obs, batch.action)
        out["psi_norm"] = jnp.mean(jnp.linalg.norm(psi, axis=-1))
        if self.use_reward_head:
            r_hat = self.reward_head.apply(state.rep.params["reward"], psi)
            out["reward_loss"] = jnp.mean((r_hat - batch.reward) ** 2)
        return out


class DiffSRSAC(DiffSRMixin, SAC):
    """Diff-SR on SAC (spec section 3)."""


class DiffSRTD3(DiffSRMixin, TD3):
    """Diff-SR on TD3 (spec section 4)."""
