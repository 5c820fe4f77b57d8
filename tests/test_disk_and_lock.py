"""A full disk is named as such and loses no checkpoint; checkpoints that cannot fit are refused before compiling;
a run directory has one writer.

The disk cases run the launcher on a small tmpfs mounted in a private mount namespace (``unshare -rm``: no root
needed where user namespaces are allowed, and the mount vanishes with the shell); they are skipped, with the reason,
where no such filesystem can be made."""

import errno
import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from diffsr_jax.training.disk import DiskSpaceError, check_checkpoint_space, is_disk_full
from diffsr_jax.training.logdir import check_logdir
from diffsr_jax.training.run_lock import LOCK_NAME, RunLock, RunLockedError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# SAC on Pendulum, 1 seed, a checkpoint every 1000 frames, one kept: ~0.9 MB per checkpoint, a few seconds a chunk
TRAIN = f"{sys.executable} -m experiments.train --tensorboard=false --compile_cache="
RUN = (f"{TRAIN} --agent=sac --num_seeds=1 --eval_every=1000 --config.run.checkpoint_every=1000 "
       "--config.run.keep_checkpoints=1 --config.run.eval_episodes=1")


def _can_mount() -> str | None:
    if shutil.which("unshare") is None:
        return "no unshare command"
    p = subprocess.run(["unshare", "-rm", "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs $d"],
                       capture_output=True, text=True)
    return None if p.returncode == 0 else f"cannot mount a tmpfs here ({p.stderr.strip()[:100]})"


NO_MOUNT = _can_mount()


def _on_tmpfs(script: str, size: str, tmp_path) -> subprocess.CompletedProcess:
    """Run ``script`` (bash; ``$MNT`` is a fresh tmpfs of ``size``, ``$OUT`` a folder on the normal disk) in a
    private mount namespace."""
    full = f"set -u\nMNT=$(mktemp -d)\nmount -t tmpfs -o size={size} tmpfs \"$MNT\"\nOUT={tmp_path}\ncd {ROOT}\n"
    return subprocess.run(["unshare", "-rm", "bash", "-c", full + textwrap.dedent(script)], capture_output=True,
                          text=True, timeout=900, env=dict(os.environ, PYTHONPATH=ROOT))


@pytest.mark.skipif(NO_MOUNT is not None, reason=str(NO_MOUNT))
def test_a_full_disk_at_a_checkpoint_stops_in_one_line_keeps_the_last_checkpoint_and_resume_finishes(tmp_path):
    p = _on_tmpfs(f"""
        {RUN} --total_steps=4000 --logdir=$MNT/run > $OUT/first.out 2> $OUT/first.err &
        pid=$!
        while [ ! -d $MNT/run/checkpoints/1000 ] && kill -0 $pid 2>/dev/null; do sleep 0.2; done
        dd if=/dev/zero of=$MNT/fill bs=64k 2>/dev/null   # the disk fills while the run trains
        wait $pid; echo "first exit $?"
        ls $MNT/run/checkpoints
        rm $MNT/fill
        {TRAIN} --resume --logdir=$MNT/run > $OUT/second.out 2> $OUT/second.err
        echo "second exit $?"
        grep -c '"frames": 4000' $MNT/run/metrics.jsonl
        """, "3m", tmp_path)
    lines = p.stdout.split("\n")
    err = (tmp_path / "first.err").read_text()
    assert "first exit 3" in lines, (p.stdout, p.stderr, err[-2000:])
    msg = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(msg) == 1 and "the disk is full" in msg[0] and "out of memory" not in msg[0], err[-2000:]
    assert "the checkpoint at env frame 1,000 is intact: free space, then --resume" in msg[0]
    assert "Traceback" not in err  # from no thread
    assert "1000" in lines  # the checkpoint the message names is there
    assert "second exit 0" in lines, (tmp_path / "second.err").read_text()[-2000:]
    assert lines[lines.index("second exit 0") + 1] == "1"  # the resumed run reached its last evaluation


@pytest.mark.skipif(NO_MOUNT is not None, reason=str(NO_MOUNT))
def test_checkpoints_that_cannot_fit_are_refused_before_compiling(tmp_path):
    p = _on_tmpfs(f"""
        {RUN} --total_steps=4000 --logdir=$MNT/run > $OUT/out 2> $OUT/err
        echo "exit $?"
        ls $MNT/run/checkpoints 2>/dev/null | wc -l
        """, "1m", tmp_path)
    err = (tmp_path / "err").read_text()
    assert "exit 2" in p.stdout.split("\n"), (p.stdout, err[-2000:])
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert "checkpoints need" in line and "is free there" in line and "keep_checkpoints" in line
    assert "Traceback" not in err
    assert p.stdout.split("\n")[1] == "0"  # nothing written


def test_the_space_check_counts_the_checkpoint_being_written_and_what_is_held(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    assert "up to 3 on disk" in check_checkpoint_space(str(tmp_path), free // 4, keep=2)  # 3 x free/4 fits
    with pytest.raises(DiskSpaceError, match="3 kept \\+ 1 being written"):
        check_checkpoint_space(str(tmp_path), free // 3, keep=3)  # 4 x free/3 does not


def test_a_full_disk_is_recognised_through_the_exception_chain():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise ValueError("could not write") from inner
    except ValueError as e:
        assert is_disk_full(e)
    assert is_disk_full(ValueError("RESOURCE_EXHAUSTED: Error writing local file /x/ocdbt.process_0/d/abc"))
    assert not is_disk_full(RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 123 bytes"))


def _holder(logdir) -> subprocess.Popen:
    code = (f"from diffsr_jax.training.run_lock import RunLock; RunLock({str(logdir)!r}).acquire(); print('held', "
            "flush=True); import time; time.sleep(600)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert p.stdout.readline().strip() == "held"
    return p


def test_a_second_writer_is_refused_while_the_first_lives_and_allowed_once_it_is_killed(tmp_path):
    logdir = tmp_path / "run"
    holder = _holder(logdir)
    try:
        with pytest.raises(RunLockedError, match=f"being written by pid {holder.pid} on host "):
            RunLock(str(logdir)).acquire()
        # the launcher: one line, exit 2, before it compiles or touches the directory
        t0 = time.time()
        p = subprocess.run([sys.executable, "-m", "experiments.train", "--agent=sac", "--total_steps=2000",
                            f"--logdir={logdir}"], capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert p.returncode == 2, p.stderr[-2000:]
        assert p.stderr.strip().splitlines()[-1].startswith(f"error: log dir '{logdir}' is being written by pid "
                                                            f"{holder.pid}")
        assert "Traceback" not in p.stderr and time.time() - t0 < 120
        assert os.listdir(logdir) == [LOCK_NAME]
    finally:
        holder.kill()
        holder.wait()
    with RunLock(str(logdir)):  # a killed writer leaves no lock behind
        pass


def test_the_lock_file_does_not_make_a_log_dir_a_run(tmp_path):
    logdir = tmp_path / "run"
    with RunLock(str(logdir)):
        check_logdir(str(logdir))  # empty but for the lock: a new run may start in it
        (logdir / "metrics.jsonl").write_text("{}\n")
        check_logdir(str(logdir), overwrite=True)  # replaces the run, keeps the lock
        assert os.listdir(logdir) == [LOCK_NAME]
