"""Every script module (launchers, benchmarks) can be imported beside every other in one process: their absl flags are
defined only when run as a script. (CI once failed because a test imported two modules that both defined --num_seeds.)"""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _script_modules():
    mods = []
    for folder in ("experiments", "benchmarks", "benchmarks/gpu"):
        for path in sorted((ROOT / folder).glob("*.py")):
            if path.name != "__init__.py" and "flags" in path.read_text():
                mods.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return mods


def test_script_modules_define_no_flags_at_import():
    mods = _script_modules()
    assert {"experiments.train", "experiments.suite", "benchmarks.iteration_profile"} <= set(mods), mods
    code = ("import importlib, sys\nfrom absl import flags\n"
            f"for m in {mods!r}:\n"
            "    importlib.import_module(m)\n"
            "names = sorted(n for n in flags.FLAGS if not n.startswith('config'))\n"
            "print('FLAGS', names)\n")
    # train.py reads the --config preset from argv at import: give it the default
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    defined = eval(out.stdout.split("FLAGS", 1)[1])
    for name in ("num_seeds", "agent", "env", "suite", "reps"):
        assert name not in defined, f"--{name} is defined at import time"
