"""The Diff-SR representation as a learner: psi, zeta (and an optional reward head on psi) trained by their objective
(denoising score matching, or flow matching), with their own optimizer, update and diagnostics. It knows nothing about the actor-critic that
reads psi; ``critics.RepresentationCritic`` puts a Q head on it.

State (``RepresentationState``): ``learner`` holds params {"model": psi and zeta, ["reward": RFF head]} and their
Adam state; ``target`` is an EMA copy of the params (rate ``tau``) when one is kept, else None; ``initial`` the
model's params at initialisation, the random-feature baseline of the probes.
Traced hyperparameters (``hp["representation"]``): lr, reward_weight, tau.

``objective`` (plus the reward head's loss when there is one): "score_matching" (Diff-SR: psi^T zeta is the score of
the noised s'), "flow_matching" (psi^T zeta is the velocity of the straight path from noise to s'), or "none" (the
ablations: psi frozen at its initialisation, or, with an ``extra_loss`` such as the critic's TD loss, trained only by
that).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from diffsr_jax.fields import named, traced_values
from diffsr_jax.optim import Learner, adam, soft_update
from diffsr_jax.diffusion import NoiseSchedule
from diffsr_jax.representation.networks import PsiZeta
from diffsr_jax.representation.flow import flow_matching_loss
from diffsr_jax.representation.objective import score_matching_loss
from diffsr_jax.representation.probes import transition_probes

DIAGNOSTIC_LEVELS = 4
OBJECTIVES = ("score_matching", "flow_matching", "none")

ExtraLoss = Callable[[Any, Any, jax.Array], jnp.ndarray]
"""(rep params, Transition batch, key) -> scalar added to the representation loss (e.g. the critic's TD loss)."""


@flax.struct.dataclass
class RepresentationState:
    learner: Learner
    target: Any  # EMA of learner.params, or None
    initial: Any  # params["model"] at initialisation (the probes' random-feature baseline)


class DiffSRRepresentation:
    """psi(s, a) in R^F and zeta(x_noisy, level) in R^{F x d_s}, trained so that psi^T zeta is the score of the
    noised next state. ``steps_per_update`` steps per learner update, each on a fresh batch."""

    hparam_names = ("lr", "reward_weight", "tau")

    def __init__(self, model: PsiZeta, schedule: NoiseSchedule, *, parameterization: str,
                 noise_scale: float, feature_dim: int, traced: dict, reward_head: nn.Module | None = None,
                 steps_per_update: int = 1, keep_target: bool = False, objective: str = "score_matching",
                 sigma_power: int = 2):
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown representation objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
        self.model, self.schedule = model, schedule
        self.objective = objective
        self.parameterization, self.noise_scale = parameterization, float(noise_scale)
        self.sigma_power = int(sigma_power)  # the score parameterisation's weighting (diffusion.denoising_loss)
        self.feature_dim = int(feature_dim)
        self.reward_head = reward_head
        self.steps_per_update = int(steps_per_update)
        self.keep_target = keep_target
        self.traced = {k: traced[k] for k in self.hparam_names}  # start values of the traced hyperparameters

    def hparams(self) -> dict:
        return {"representation": traced_values(self.traced, self.hparam_names)}

    def init(self, key, obs_dim: int, action_dim: int, hp: dict) -> RepresentationState:
        k_model, k_reward = jax.random.split(key)
        b = 2
        obs, action = jnp.zeros((b, obs_dim)), jnp.zeros((b, action_dim))
        next_obs = jnp.zeros((b, self.model.zeta_net.state_dim))  # zeta's next state: obs_dim, or its own size
        params = {"model": self.model.init(k_model, obs, action, next_obs, jnp.zeros(b, jnp.int32), jnp.ones(b))}
        if self.reward_head is not None:
            params["reward"] = self.reward_head.init(k_reward, jnp.zeros((b, self.feature_dim)))
        return RepresentationState(Learner.create(params, adam(named(hp).representation.lr)),
                                   params if self.keep_target else None, params["model"])

    def psi(self, params, obs, action):
        """psi(s, a): (B, d_s), (B, d_a) -> (B, F)."""
        return self.model.apply(params["model"], obs, action, method=PsiZeta.psi)

    def _zeta_fn(self, params):
        return lambda x, level, ab: self.model.apply(params["model"], x, level, ab, method=PsiZeta.zeta)

    def objective_loss(self, psi, params, key, next_obs, at=None):
        """The objective of psi^T zeta on ``next_obs`` (B, d_s): score matching (zeta read at a noise level) or flow
        matching (at a time of the noise-to-s' path). ``at``: None for the training loss (a scalar), or the diagnostic
        levels (L,) ints, for flow matching the times level / (num_levels - 1): the loss at each, (L,)."""
        zeta_fn = self._zeta_fn(params)
        if self.objective == "flow_matching":
            times = None if at is None else jnp.asarray(at, jnp.float32) / (self.schedule.num_levels - 1)
            return flow_matching_loss(psi, zeta_fn, key, next_obs, self.schedule.num_levels, self.noise_scale, times)
        return score_matching_loss(psi, zeta_fn, key, next_obs, self.schedule, self.parameterization,
                                   self.noise_scale, levels=at, sigma_power=self.sigma_power)

    def loss(self, params, batch, key, hp: dict, extra_loss: ExtraLoss | None = None):
        """The representation's own objective (score or flow matching + reward_weight x reward-head MSE; nothing with
        objective "none") + ``extra_loss``, on one batch -> (scalar, info)."""
        k_sm, k_extra = jax.random.split(key)
        psi = self.psi(params, batch.obs, batch.action)  # computed once, shared by both heads
        total, info = jnp.zeros(()), {}
        if self.objective != "none":
            own = self.objective_loss(psi, params, k_sm, batch.next_obs)
            total, info = own, {f"{self.objective}_loss": own}
            if self.reward_head is not None:
                r_loss = jnp.mean((self.reward_head.apply(params["reward"], psi) - batch.reward) ** 2)
                total = total + named(hp).representation.reward_weight * r_loss
                info["reward_loss"] = r_loss
        if extra_loss is not None:
            total = total + extra_loss(params, batch, k_extra)
        return total, info

    def update(self, state: RepresentationState, sampler, key, hp: dict, extra_loss: ExtraLoss | None = None):
        """``steps_per_update`` steps on fresh batches from ``sampler``, then the EMA target. -> (state, info).
        With nothing to train (objective "none" and no ``extra_loss``) psi stays as it is, at no cost."""
        if self.objective == "none" and extra_loss is None:
            return state, {}

        def step(learner, k):
            k_batch, k_loss = jax.random.split(k)
            (_, info), grads = jax.value_and_grad(self.loss, has_aux=True)(
                learner.params, sampler.batch(k_batch), k_loss, hp, extra_loss)
            return learner.apply_gradients(grads), info

        learner, info = jax.lax.scan(step, state.learner, self._step_keys(key))
        target = soft_update(state.target, learner.params, named(hp).representation.tau) if self.keep_target else None
        return state.replace(learner=learner, target=target), jax.tree_util.tree_map(jnp.mean, info)

    def _step_keys(self, key):
        """(steps_per_update,) keys of ``update``'s steps; step i draws its batch with ``split(keys[i])[0]``."""
        return jax.random.split(key, self.steps_per_update)

    def last_batch_key(self, key, trained_by_critic: bool = False):
        """The key with which ``update(..., key)`` drew its last batch; None where it draws none (objective "none"
        and psi not trained through the critic)."""
        if self.objective == "none" and not trained_by_critic:
            return None
        return jax.random.split(self._step_keys(key)[-1])[0]

    def diagnostics(self, state: RepresentationState, batch, key) -> dict:
        """Scalars: the objective's loss at a few noise levels k of ``num_levels`` (``sm_loss_level<k>``, score matching
        at level k; ``fm_loss_level<k>``, flow matching at time t = k / (num_levels - 1): the name keeps the level's
        index, its time is that fraction), ``psi_norm``, ``reward_loss``, and the
        linear probes (``probes.transition_probes``: ridge R^2 of s' - s and of r, fitted on one half of ``batch``,
        scored on the other) of the current psi (``probe_r2_dynamics``, ``probe_r2_reward``) and of psi at its
        initialisation (``probe_r2_dynamics_init``, ``probe_r2_reward_init``)."""
        params = state.learner.params
        levels = np.linspace(0, self.schedule.num_levels - 1, DIAGNOSTIC_LEVELS).astype(np.int32)
        psi = self.psi(params, batch.obs, batch.action)
        if self.objective == "flow_matching":
            per_level, prefix = self.objective_loss(psi, params, key, batch.next_obs, at=levels), "fm_loss_level"
        else:  # score matching, or none (psi frozen or trained by the critic: its score loss is still worth seeing)
            per_level = score_matching_loss(psi, self._zeta_fn(params), key, batch.next_obs, self.schedule,
                                            self.parameterization, self.noise_scale, levels=levels,
                                            sigma_power=self.sigma_power)
            prefix = "sm_loss_level"
        out = {f"{prefix}{int(lv)}": per_level[i] for i, lv in enumerate(levels.tolist())}
        out["psi_norm"] = jnp.mean(jnp.linalg.norm(psi, axis=-1))
        psi_init = self.psi({"model": state.initial}, batch.obs, batch.action)
        for suffix, feats in (("", psi), ("_init", psi_init)):
            for name, r2 in transition_probes(feats, batch).items():
                out[f"probe_r2_{name}{suffix}"] = r2
        if self.reward_head is not None:
            out["reward_loss"] = jnp.mean((self.reward_head.apply(params["reward"], psi) - batch.reward) ** 2)
        return out
