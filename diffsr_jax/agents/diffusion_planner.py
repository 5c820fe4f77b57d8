"""A Diffuser-style decision-time planner: sample candidate trajectories, act on the best by a learned value.

A trajectory diffusion model over x = [s_t, a_t]_{t<H} (B, H, d_s + d_a) is trained on replay segments
(eps-prediction, first state re-imposed during sampling). At EVERY environment step the planner draws
``num_candidates`` trajectories from the current state with the full reverse chain (``denoise_steps`` denoiser
evaluations), scores each by the learned twin critic Q(s_0, a_0) (min of the pair), and executes the best
first action (plus Gaussian exploration noise ``planner_noise`` while training). The critic (and the actor its TD
target needs) is a SAC agent the planner holds, learned exactly as SAC learns, from the planner's own replay data.

This is the per-action cost of sampling-based diffusion control, which Diff-SR's policy (one MLP forward per
action) does not pay.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections

from diffsr_jax.agents import trajectory_model
from diffsr_jax.agents.sac import SAC, SACState
from diffsr_jax.diffusion.sampling import sample_chain
from diffsr_jax.diffusion.trajectory import trajectory_denoising_loss
from diffsr_jax.fields import ConfigGroup, Fields, named, traced_values
from diffsr_jax.optim import Learner, adam


def defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.num_candidates = 64  # sampled trajectories per action
    g.noise = 0.1  # Gaussian exploration noise on the planned action while training
    return g


def validate(config) -> None:
    f = Fields(config.planner, "planner")
    f.integer("num_candidates")
    if config.planner.noise < 0:
        f.fail("noise", f"must be >= 0, got {config.planner.noise}")


PLANNER = ConfigGroup("planner", defaults, validate, "the diffusion planner's own: candidates, exploration noise")


@flax.struct.dataclass
class PlannerState:
    sac: SACState  # the critic (and the actor its TD target needs)
    model: Learner  # trajectory diffusion model


class DiffusionPlanner:
    def __init__(self, config, obs_dim: int, action_dim: int, critic):
        """From ``config.planner``, ``config.trajectory_model`` and SAC's groups (its critic ranks the candidates)."""
        self.model_cfg, self.own = config.trajectory_model, config.planner
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.sac = SAC(config, obs_dim, action_dim, critic)
        self.horizon = int(self.model_cfg.horizon)
        self.x_dim = obs_dim + action_dim
        self.model_net = trajectory_model.denoiser(self.model_cfg)
        self.schedule = trajectory_model.schedule(self.model_cfg)
        self._no_cond = lambda b: jnp.zeros((b, self.horizon, 0))

    def hparams(self) -> dict:
        return {**self.sac.hparams(), "trajectory_model": traced_values(self.model_cfg, ("lr",)),
                "planner": traced_values(self.own, ("noise",))}

    def init(self, key, hp: dict) -> PlannerState:
        k_sac, k_model = jax.random.split(key)
        x = jnp.zeros((1, self.horizon, self.x_dim))
        params = self.model_net.init(k_model, x, self._no_cond(1), jnp.zeros((1,), jnp.int32))
        model = Learner.create(params, adam(named(hp).trajectory_model.lr, self.model_cfg.max_grad_norm))
        return PlannerState(self.sac.init(k_sac, hp), model)

    def candidates(self, state: PlannerState, obs, key):
        """obs (N, d_s) -> (first actions (N, C, d_a) in [-1, 1], their Q (N, C)) of C = num_candidates trajectories
        sampled with the full reverse chain from each state."""
        n, c, ds = obs.shape[0], int(self.own.num_candidates), self.obs_dim
        s0 = jnp.repeat(obs, c, axis=0)  # (N*C, d_s)
        eps_fn = lambda x, k: self.model_net.apply(
            state.model.params, x, self._no_cond(x.shape[0]), jnp.full((x.shape[0],), k))
        condition = lambda x: x.at[:, 0, :ds].set(s0)
        traj = sample_chain(self.schedule, eps_fn, key, (n * c, self.horizon, self.x_dim), condition,
                            clip_x0=float(self.model_cfg.x0_clip))
        a0 = jnp.clip(traj[:, 0, ds:], -1.0, 1.0)
        sac = state.sac
        q = jnp.min(self.sac.critic.q(sac.q_heads.params, sac.critic_state, s0, a0), axis=0)
        return a0.reshape(n, c, -1), q.reshape(n, c)

    def plan(self, state: PlannerState, obs, key):
        """obs (N, d_s) -> (best first action (N, d_a), its Q (N,))."""
        a0, q = self.candidates(state, obs, key)
        best = jnp.argmax(q, axis=1)
        rows = jnp.arange(obs.shape[0])
        return a0[rows, best], q[rows, best]

    def act(self, state: PlannerState, obs, key, deterministic: bool):
        k_plan, k_noise = jax.random.split(key)
        a, _ = self.plan(state, obs, k_plan)
        if deterministic:
            return a
        noise = named(state.sac.hp).planner.noise * jax.random.normal(k_noise, a.shape)
        return jnp.clip(a + noise, -1.0, 1.0)

    def model_loss(self, params, seg, valid, key):
        x0 = jnp.concatenate([seg.obs, seg.action], axis=-1)
        eps_fn = lambda x, cnd, k: self.model_net.apply(params, x, cnd, k)
        return trajectory_denoising_loss(eps_fn, self.schedule, x0, self._no_cond(x0.shape[0]), valid, key)

    def update(self, state: PlannerState, sampler, key, update_idx):
        """SAC step on a uniform batch, then one denoising step of the trajectory model on replay segments."""
        k_sac, k_seg, k_loss = jax.random.split(key, 3)
        sac, info = self.sac.update(state.sac, sampler, k_sac, update_idx)
        seg, valid = sampler.segments(k_seg, int(self.model_cfg.batch), self.horizon)
        loss, grads = jax.value_and_grad(self.model_loss)(state.model.params, seg, valid, k_loss)
        return PlannerState(sac, state.model.apply_gradients(grads)), {**info, "model_loss": loss}

    def diagnostics(self, state: PlannerState, batch, key) -> dict:
        del state, batch, key
        return {}
