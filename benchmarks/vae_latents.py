"""Do the image variant's VAE latents carry the state? (issue 42, docs/pixels.md "the falling Q")

The per-frame VAE (``networks.vae.FrameVAE``) at a preset's sizes, trained by its negative ELBO alone (as
``diffsr_drqv2`` trains it) on frames of random play, once per KL weight. At every quarter of the steps, on held-out
frames: the KL term (nats, an upper bound on what the latents hold about a frame), the reconstruction error, the
posterior means' spread (std over frames, averaged over latent dimensions) and a linear probe's R^2 of each of the
env's own observation dimensions from the posterior means (ridge 1e-3, fitted on 80% of the frames, scored on the
rest). A VAE whose latents stayed at the prior shows KL near 0, a spread near 0 and probes no better than at
initialisation.

    python -m benchmarks.vae_latents
    python -m benchmarks.vae_latents --kl_weights=1.0,0.1 --steps=600 --preset=fast

Frames: ``--envs`` x ``--rollout`` decisions of uniform random actions from ``make_env(env, pixels=..., action_repeat
=...)`` (the preset's), each frame the newest of the stack, shuffled before the split. Batches of ``--batch`` frames
(256: ``diffsr_drqv2``'s 4 frames of each of 64 transitions in the fast preset), Adam at the preset's ``vae.lr``.
"""

from __future__ import annotations

import os
import sys
import time

from absl import flags

FLAGS = flags.FLAGS


def collect(env, num_envs: int, decisions: int, seed: int):
    """(frames (n, N, N, 3) uint8, observations (n, d)): the newest frame and the wrapped env's own observation after
    each of ``decisions`` random decisions in ``num_envs`` envs."""
    import jax
    import numpy as np

    def roll(key):
        state = jax.vmap(env.reset)(jax.random.split(key, num_envs))

        def body(state, k):
            action = jax.random.uniform(k, (num_envs, env.action_dim), minval=-1.0, maxval=1.0)
            state, _ = jax.vmap(env.step)(state, action)
            return state, (state.obs[..., -3:], state.inner.obs)

        _, (frames, obs) = jax.lax.scan(body, state, jax.random.split(jax.random.fold_in(key, 1), decisions))
        return frames.reshape((-1,) + frames.shape[2:]), obs.reshape((num_envs * decisions, -1))

    frames, obs = jax.jit(roll)(jax.random.PRNGKey(seed))
    return np.asarray(frames), np.asarray(obs)


def probe_r2(z, y, train):
    """Per output dimension, R^2 on the held-out rows of a ridge regression of ``y`` on ``z`` fitted on ``train``."""
    import numpy as np

    x = np.concatenate([z, np.ones((len(z), 1))], axis=1).astype(np.float64)
    w = np.linalg.solve(x[train].T @ x[train] + 1e-3 * np.eye(x.shape[1]), x[train].T @ y[train])
    test = ~train
    return 1.0 - ((x[test] @ w - y[test]) ** 2).mean(0) / y[test].var(0)


def run_one(cfg, frames, obs, train, kl_weight: float) -> list[dict]:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from diffsr_jax.networks.vae import FrameVAE, elbo_loss

    g = cfg.vae
    vae = FrameVAE(frames.shape[1], int(g.latent_dim), int(g.channels), int(g.layers))
    params = vae.init(jax.random.PRNGKey(FLAGS.seed), jnp.asarray(frames[:2]))
    opt = optax.adam(float(g.lr))
    opt_state = opt.init(params)
    train_frames = jnp.asarray(frames[train])
    held_frames = jnp.asarray(frames[~train])

    @jax.jit
    def step(params, opt_state, key):
        k_batch, k_sample = jax.random.split(key)
        batch = train_frames[jax.random.randint(k_batch, (FLAGS.batch,), 0, train_frames.shape[0])]
        grads = jax.grad(lambda p: elbo_loss(vae, p, batch, k_sample, kl_weight)[0])(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    @jax.jit
    def measure(params):
        mean, _ = vae.apply(params, jnp.asarray(frames), method=FrameVAE.encode)
        _, info = elbo_loss(vae, params, held_frames, jax.random.PRNGKey(1), kl_weight)
        return mean, info

    rows, t0 = [], time.time()
    checkpoints = {round(FLAGS.steps * q / 4) for q in range(5)}
    for i in range(FLAGS.steps + 1):
        if i in checkpoints:
            mean, info = measure(params)
            mean = np.asarray(mean)
            r2 = probe_r2(mean, obs, train)
            rows.append({"kl_weight": kl_weight, "step": i, "seconds": round(time.time() - t0, 1),
                         "held_out_kl": float(info["vae_kl"]), "held_out_recon": float(info["vae_recon_loss"]),
                         "latent_spread": float(mean[~train].std(0).mean()), "probe_r2": [float(v) for v in r2]})
            print(rows[-1], flush=True)
        if i < FLAGS.steps:
            params, opt_state = step(params, opt_state, jax.random.PRNGKey(1000 + i))
    return rows


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments: {' '.join(argv[1:])}")
    import numpy as np

    from benchmarks.common import machine, write_results
    from diffsr_jax.envs import make_env
    from experiments.configs import load_preset

    cfg = load_preset("diffsr_drqv2", FLAGS.preset)
    e = cfg.env
    env = make_env(e.name, pixels=int(e.pixels), action_repeat=int(e.action_repeat), camera=int(e.camera))
    frames, obs = collect(env, FLAGS.envs, FLAGS.rollout, FLAGS.seed)
    order = np.random.default_rng(FLAGS.seed).permutation(len(frames))
    frames, obs = frames[order], obs[order]
    train = np.arange(len(frames)) < int(0.8 * len(frames))
    rows = []
    for kl in map(float, FLAGS.kl_weights):
        rows += run_one(cfg, frames, obs, train, kl)
    table = [[r["kl_weight"], r["step"], f"{r['held_out_kl']:.2f}", f"{r['held_out_recon']:.1f}",
              f"{r['latent_spread']:.3f}", ", ".join(f"{v:.2f}" for v in r["probe_r2"])] for r in rows]
    md = write_results(FLAGS.name, {"machine": machine(), "command": " ".join(sys.argv),
                                    "load_at_start": os.getloadavg(), "env": e.name, "pixels": int(e.pixels),
                                    "frames": len(frames), "vae": cfg.vae.to_dict(), "results": rows}, table,
                       ["KL weight", "ELBO steps", "KL (nats)", "recon", "latent spread",
                        "probe R^2 per observation dim (held out)"], FLAGS.out)
    print(md)


def define_flags():
    flags.DEFINE_string("preset", "fast", "diffsr_drqv2's preset: its env, frame size and VAE sizes")
    flags.DEFINE_list("kl_weights", ["1.0", "0.1"], "the ELBO's KL weights to compare")
    flags.DEFINE_integer("steps", 600, "Adam steps per KL weight")
    flags.DEFINE_integer("batch", 256, "frames per step")
    flags.DEFINE_integer("envs", 16, "envs of random play")
    flags.DEFINE_integer("rollout", 250, "decisions per env")
    flags.DEFINE_integer("seed", 0, "the frames', the split's and the VAE's initialisation")
    flags.DEFINE_string("name", "vae_latents_fast", "results file name")
    flags.DEFINE_string("out", "benchmarks/results", "results directory")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
