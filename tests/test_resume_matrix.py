"""SIGKILL + --resume equals an uninterrupted run, on every env family and backend, for SAC and Diff-SR-SAC.

For each (env, agent): an uninterrupted reference run; a run killed with SIGKILL right after its first checkpoint
(mid-way through the next chunk); then ``--resume``. The resumed metrics.jsonl must equal the reference's (timing
columns aside). Brax MJX and Playground states carry zero-size leaves, integer and boolean leaves; the reset pool
is part of the state. Runs are tiny (32-wide nets, 600 frames); the three runs of one (env, agent) share a
persistent compilation cache, so the killed and resumed runs reuse the reference's compiled programs. Each
(env, agent) is its own test, so pytest-xdist spreads them over the cores.

By default a covering set runs: every env family and backend, and every agent, at least once: gymnax and Playground x
Diff-SR-SAC (its state holds more than SAC's), Brax MJX and Brax positional x SAC (Brax MJX x Diff-SR-SAC, 290 s, moved
to -m slow when the pixel case came); Diff-SR-SAC with the optimism bonus on gymnax; and Diff-SR-DrQ-v2 on pixel
observations (Playground, 16 x 16 frames: DrQ-v2's loop with the VAE, its EMA copy, psi and zeta in the state), whose
case also renders the rollout GIF of what the agent saw. The other eight pairs run with -m slow, DrQ-v2 itself among
them (its update, with the convolutional encoder, runs by default in tests/test_pixels.py). Each case then evaluates a
checkpoint the resumed run wrote with experiments.evaluate (the same episodes as its logged evaluation), so the
evaluate command restores on every env family by default (tests/test_evaluate.py trains its own runs for rendering
and bad input: gymnax by default, the other families with -m slow).
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import checkpoint_steps as _ckpt_steps
from tests.helpers import run_rows as _rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENVS = {  # id -> flags
    "gymnax": ["--env=gymnax/Pendulum-v1"],
    "brax_mjx": ["--env=brax/inverted_pendulum", "--config.env.backend=mjx"],
    "brax_positional": ["--env=brax/inverted_pendulum", "--config.env.backend=positional"],
    "playground": ["--env=playground/CartpoleSwingup"],
    # pixel observations (envs.pixels): uint8 frame stacks in the replay, the pool and the env state
    "playground_pixels": ["--env=playground/CartpoleBalance", "--config.env.pixels=16", "--config.env.action_repeat=1",
                          "--config.env.num_envs=1"],
}
SMALL_PSI = ["--config.actor_critic.actor_hidden=32,32", "--config.representation.feature_dim=16",
             "--config.representation.psi_hidden=32", "--config.representation.zeta_hidden=32",
             "--config.psi_critic.rff_dim=32", "--config.psi_critic.rff_hidden=32"]
AGENTS = {  # case id -> (agent, flags)
    "sac": ("sac", ["--config.actor_critic.actor_hidden=32,32", "--config.mlp_critic.hidden=32,32"]),
    "diffsr_sac": ("diffsr_sac", SMALL_PSI),
    # the optimism bonus's state (the sweep's sums of psi psi^T, the factor Z of Sigma^-1) is checkpointed with the critic's
    "diffsr_sac_optimism": ("diffsr_sac", [*SMALL_PSI, "--config.optimism.enabled=true"]),
    "drqv2": ("drqv2", ["--config.actor_critic.actor_hidden=32,32", "--config.mlp_critic.hidden=32,32",
                        "--config.drqv2.channels=4", "--config.drqv2.conv_layers=2", "--config.drqv2.feature_dim=8"]),
    # the VAE, its EMA copy, psi and zeta are checkpointed beside DrQ-v2's actor and critic; the pre-training runs in
    # the first chunk, before the kill, and not again on resume
    "diffsr_drqv2": ("diffsr_drqv2", ["--config.actor_critic.actor_hidden=32,32", "--config.drqv2.feature_dim=8",
                                      "--config.vae.channels=4", "--config.vae.layers=2", "--config.vae.latent_dim=8",
                                      "--config.vae.pretrain_steps=20", "--config.vae.pretrain_vae_only=10",
                                      *SMALL_PSI[1:]]),
}
PIXEL_AGENTS = {"drqv2", "diffsr_drqv2"}  # they run on the pixel env, the others on every other env
TOTAL, CHUNK = 600, 100
EVAL_AT = 2 * CHUNK  # a checkpoint written after the resume


def _args(env, agent, logdir, cache):
    name, flags = AGENTS[agent]
    return [f"--agent={name}", *ENVS[env], *flags, f"--total_steps={TOTAL}", f"--eval_every={CHUNK}",
            "--config.run.warmup_steps=100", f"--config.run.checkpoint_every={CHUNK}", "--config.run.keep_checkpoints=10",
            "--config.env.episode_length=30", "--config.run.eval_episodes=1", "--config.replay.batch_size=16",
            "--config.env.reset_pool_size=4", "--config.env.reset_pool_refill=50", "--tensorboard=false",
            f"--compile_cache={cache}", f"--logdir={logdir}"]


def _cmd(args):
    return [sys.executable, "-m", "experiments.train", *args]


def _env():
    return dict(os.environ, PYTHONPATH=ROOT)


def _pipeline(env, agent, root, cache):
    """Reference, SIGKILLed and resumed runs of one (env, agent). Returns what the test checks."""
    out = {}
    ref = os.path.join(root, f"{env}-{agent}-ref")
    p = subprocess.run(_cmd(_args(env, agent, ref, cache)), cwd=ROOT, env=_env(), capture_output=True, text=True,
                       timeout=900)
    out["ref_rc"], out["ref_err"] = p.returncode, p.stderr[-3000:]
    if p.returncode != 0:
        return out
    out["ref_rows"] = _rows(ref)
    run = os.path.join(root, f"{env}-{agent}-run")
    proc = subprocess.Popen(_cmd(_args(env, agent, run, cache)), cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not _ckpt_steps(run) and proc.poll() is None and time.time() - t0 < 600:
        time.sleep(0.02)
    out["alive_at_kill"] = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    out["kill_rc"] = proc.returncode
    out["killed_at"] = _ckpt_steps(run)[-1] if _ckpt_steps(run) else None
    p = subprocess.run(_cmd([*_args(env, agent, run, cache), "--resume"]), cwd=ROOT, env=_env(), capture_output=True,
                       text=True, timeout=900)
    out["resume_rc"], out["resume_out"], out["resume_err"] = p.returncode, p.stdout, p.stderr[-3000:]
    if p.returncode != 0:
        return out
    out["rows"] = _rows(run)
    # experiments.evaluate on a checkpoint the resumed run wrote: the episodes it logged there, evaluated again
    render = AGENTS[agent][0] in PIXEL_AGENTS  # --render also writes the rollout GIF of what the agent saw
    p = subprocess.run([sys.executable, "-m", "experiments.evaluate", f"--logdir={run}", f"--step={EVAL_AT}",
                        *(["--render"] if render else []), f"--compile_cache={cache}"], cwd=ROOT, env=_env(),
                       capture_output=True, text=True, timeout=900)
    out["eval_rc"], out["eval_err"] = p.returncode, p.stderr[-3000:]
    if render:
        out["gif"] = os.path.join(run, f"rollout-{EVAL_AT}.gif")
    if p.returncode == 0:
        with open(os.path.join(run, f"eval-{EVAL_AT}.json")) as f:
            members = json.load(f)["members"]
        out["evaluated"] = {m["seed"]: m["mean"] for m in members}
        out["rollout_length"] = members[0]["lengths"][0]  # the rollout is the first member's episode 0
    return out


SLOW = {("brax_mjx", "diffsr_sac"), ("playground", "sac"), ("brax_positional", "diffsr_sac"), ("gymnax", "sac"),
        *((e, "diffsr_sac_optimism") for e in ENVS if e != "gymnax"), ("playground_pixels", "drqv2")}


@pytest.mark.parametrize("env,agent", [pytest.param(e, a, marks=pytest.mark.slow) if (e, a) in SLOW else (e, a)
                                       for e in ENVS for a in AGENTS
                                       if (e == "playground_pixels") == (AGENTS[a][0] in PIXEL_AGENTS)])
def test_sigkill_then_resume_equals_uninterrupted(env, agent, tmp_path):
    r = _pipeline(env, agent, str(tmp_path), str(tmp_path / "xla_cache"))
    assert r["ref_rc"] == 0, r["ref_err"]
    assert [row["frames"] for row in r["ref_rows"]] == list(range(CHUNK, TOTAL + 1, CHUNK))
    assert r["alive_at_kill"], "the run ended before it could be killed"
    assert r["kill_rc"] == -signal.SIGKILL
    assert r["killed_at"] is not None and r["killed_at"] < TOTAL  # one frame per iteration here
    assert r["resume_rc"] == 0, r["resume_err"]
    assert f"resuming from env frame {r['killed_at']:,}" in r["resume_out"]
    assert r["rows"] == r["ref_rows"]
    assert r["eval_rc"] == 0, r["eval_err"]
    logged = {row["seed"]: row["eval/return"] for row in r["rows"] if row["frames"] == EVAL_AT}
    assert r["evaluated"].keys() == logged.keys()
    for seed, ret in logged.items():
        assert r["evaluated"][seed] == pytest.approx(ret, rel=1e-4, abs=1e-3), (seed, r["evaluated"], logged)
    if "gif" in r:  # what the agent saw: 16 x 16 frames drawn 4 times larger, the reset's and one a decision
        from PIL import Image

        with Image.open(r["gif"]) as gif:
            assert gif.size == (64, 64)
            durations = []
            for i in range(gif.n_frames):  # GIF merges identical consecutive frames (a pole held still at 16 px)
                gif.seek(i)                # and adds their durations: the total counts every frame written
                durations.append(gif.info["duration"])
        # 20 ms a frame: the writer's floor (CartpoleBalance decides every 10 ms at action_repeat 1)
        assert sum(durations) == 20 * (r["rollout_length"] + 1), (durations, r["rollout_length"])
