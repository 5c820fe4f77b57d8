import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# The tests compile many small programs on a 2-core CPU and check properties (equalities between runs, analytic
# answers, learning thresholds), never speed: XLA's CPU backend at optimisation level 0 compiles them faster (a
# 600-frame Diff-SR-SAC run on Brax MJX through the launcher: 318 s -> 219 s, WORKSPACE.md "Test suite"). Set before JAX
# starts; the launchers the tests start as subprocesses inherit it. Runs outside the tests keep XLA's default.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
