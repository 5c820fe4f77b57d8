"""Members (seeds) laid over several devices give the same run as on one device: 2 simulated CPU devices
(``run.cpu_devices=2``, i.e. ``jax_num_cpu_devices``) through the launcher, for SAC and Diff-SR-SAC, including a
checkpoint written from sharded state and resumed on 2 devices, and on 1. Four seeds, two per device: a LAPACK solve in the
chunk deadlocked exactly this layout (two seeds, one per device, did not show it), and so did a LAPACK QR in the
orthogonal initialisation of rl-rep's actor (``networks.init``), which the runs here use.

Bitwise equality is not expected (a member computed alone on a device vs batched with another rounds differently
in the last bit, as for vmapped seeds, see tests/test_vmap_seeds.py): the warm-up rows are identical, and after 200
updates the losses agree within rtol 1e-3 (atol 2e-3) and the returns within 2e-2 (measured: 5e-5 and 3e-3), while another
seed is far further off.
"""

import os
import shutil
import subprocess
import sys

import chex
import pytest

from tests.helpers import checkpoint_steps, run_rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMON = ["--num_seeds=4", "--eval_every=200", "--config.run.warmup_steps=400", "--config.run.eval_episodes=2",
          "--config.actor_critic.actor_init=orthogonal", "--tensorboard=false"]


def _launch(agent, logdir, devices, *extra):
    p = subprocess.run([sys.executable, "-m", "experiments.train", f"--agent={agent}", f"--logdir={logdir}",
                        f"--config.run.cpu_devices={devices}", *COMMON, *extra], cwd=ROOT, capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=ROOT), timeout=900)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    return p.stdout.splitlines()[0]


def _assert_same_run(one, two):
    assert [(r["frames"], r["seed"]) for r in one] == [(r["frames"], r["seed"]) for r in two]
    def part(row, keep):
        return {k: v for k, v in row.items() if keep(k)}

    for a, b in zip(one, two):
        chex.assert_trees_all_equal_structs(b, a)  # the same metric names in every row
        if a["frames"] <= 400:  # warm-up: random actions, the initial policy's evaluation: identical
            assert part(a, lambda k: not k.startswith("diag/")) == part(b, lambda k: not k.startswith("diag/"))
            # psi's diagnostics: batched vs alone matmuls round differently in the last bits
            chex.assert_trees_all_close(part(b, lambda k: k.startswith("diag/")),
                                        part(a, lambda k: k.startswith("diag/")), rtol=1e-4)
            continue
        updates = lambda k: k.startswith("train/") and "return" not in k  # noqa: E731
        chex.assert_trees_all_close(part(b, updates), part(a, updates), rtol=1e-3, atol=2e-3)  # atol: entropy ~ 0
        chex.assert_trees_all_close(b["eval/return"], a["eval/return"], rtol=2e-2)
    # the tolerance means something: the two seeds differ by far more than it
    last = [r for r in one if r["frames"] == 600]
    assert abs(last[0]["train/critic_loss"] - last[1]["train/critic_loss"]) > 1e-2 * abs(last[0]["train/critic_loss"])


@pytest.mark.parametrize("agent", [pytest.param("sac", marks=pytest.mark.slow), "diffsr_sac"])  # sac: -m slow
def test_members_sharded_over_two_devices_match_one_device(agent, tmp_path):
    first = _launch(agent, tmp_path / "one", 1, "--total_steps=600")
    assert "x 4 seed(s) x 1 setting(s) on 1 device (cpu)" in first, first
    # checkpoints of the sharded state at 400 and 600 frames; the run resumed from the first, on 2 devices
    # (diffsr_sac) or on 1 (sac: a checkpoint written over 2 devices read back into a process with one)
    first = _launch(agent, tmp_path / "two", 2, "--total_steps=600", "--config.run.checkpoint_every=400")
    assert checkpoint_steps(tmp_path / "two") == [400, 600]
    shutil.rmtree(tmp_path / "two" / "checkpoints" / "600")
    resumed = _launch(agent, tmp_path / "two", 1 if agent == "sac" else 2, "--resume")
    assert f"on {1 if agent == 'sac' else 2} device" in resumed, resumed
    assert "x 4 seed(s) x 1 setting(s) on 2 devices (cpu)" in first, first
    _assert_same_run(run_rows(tmp_path / "one"), run_rows(tmp_path / "two"))
