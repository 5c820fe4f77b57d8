"""benchmarks.program_identity: a run's programs hashed from its config.json. The hashes must catch what changes a
run (a static size: the programs; a traced rate: the inputs) and must not move when nothing does."""

import json
import subprocess
import sys

from benchmarks.program_identity import compare, record
from tests.helpers import preset

TINY = {"env.name": "gymnax/Pendulum-v1", "run.num_seeds": 1, "run.cpu_devices": 1, "run.total_steps": 400,
        "run.warmup_steps": 200, "run.eval_every": 200, "run.eval_episodes": 1, "replay.batch_size": 16}


def _run_dir(tmp_path, name, **overrides):
    logdir = tmp_path / name
    logdir.mkdir()
    cfg = preset("sac", overrides={**TINY, **overrides})
    (logdir / "config.json").write_text(json.dumps(cfg.to_dict(), default=list))
    return str(logdir)


def test_hashes_are_stable_and_catch_a_size_and_a_rate(tmp_path):
    base = record(_run_dir(tmp_path, "base"))["programs"]
    again = record(_run_dir(tmp_path, "again"))["programs"]
    rate = record(_run_dir(tmp_path, "rate", **{"actor_critic.critic_lr": 1e-4}))["programs"]
    size = record(_run_dir(tmp_path, "size", **{"actor_critic.actor_hidden": (32, 32)}))["programs"]

    chunks = [k for k in base if k.startswith("chunk")]
    assert chunks == ["chunk of 200 iterations, 200 of them warm-up", "chunk of 200 iterations, 0 of them warm-up"]
    assert compare(base, again)[1] and base == again
    # a traced rate is an input of the same programs (and part of the first state: Adam keeps its rate in its state)
    assert rate["inputs"] != base["inputs"] and rate["init's state"] != base["init's state"]
    assert all(rate[k] == base[k] for k in chunks + ["init"])
    assert not compare(base, rate)[1]
    # a static size changes the programs and the first state
    assert all(size[k] != base[k] for k in chunks + ["init", "init's state"])


def test_init_text_may_differ_when_its_state_does_not():
    before = {"inputs": "a", "init": "b", "init's state": "c", "chunk": "d"}
    rows, same = compare(before, {**before, "init": "x"})
    assert same and [r[3] for r in rows] == ["same", "differs", "same", "same"]
    assert not compare(before, {**before, "init": "x", "init's state": "y"})[1]
    assert not compare(before, {**before, "chunk": "y"})[1]
    assert not compare(before, {k: v for k, v in before.items() if k != "chunk"})[1]


def test_the_command_compares_two_checkouts_in_child_processes(tmp_path):
    logdir = _run_dir(tmp_path, "run")
    cmd = [sys.executable, "-m", "benchmarks.program_identity", f"--logdir={logdir}", f"--out_dir={tmp_path}",
           "--name=same"]
    p = subprocess.run(cmd + ["--checkouts=.,."], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    saved = json.loads((tmp_path / "same.json").read_text())
    assert saved["same"] and saved["records"][0]["programs"] == saved["records"][1]["programs"]
    assert "the same programs" in (tmp_path / "same.md").read_text()
    p = subprocess.run(cmd + ["--checkouts=."], capture_output=True, text=True)
    assert p.returncode == 1 and p.stderr.strip().splitlines()[-1].startswith("error: --checkouts takes two")
