#!/bin/bash
# On the lent GPU machine: install the carried wheels (once per machine, into /tmp/site), then run the plan.
#   bash benchmarks/gpu/run.sh --stage=profile --out=$OUT --keep_from=benchmarks/results/gpu
# Here (CPU, no install): bash benchmarks/gpu/run.sh --dry_run --stage=all --out=/tmp/gpu_dry
cd "$(dirname "$0")/../.." || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
# the plan never renders; an inherited MUJOCO_GL=egl makes `import mujoco` fail where PyOpenGL finds no EGL
export MUJOCO_GL=disable
PY=${PYTHON:-python3}  # the interpreter (the tests pass their own)
if ! $PY -c "import brax, gymnax, ml_collections, tensorboardX, rliable" 2>/dev/null; then
  ls benchmarks/gpu/wheels/*.whl > /dev/null 2>&1 || { echo "error: no wheels: run python -m benchmarks.gpu.prepare here and carry benchmarks/gpu/wheels"; exit 2; }
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    benchmarks/gpu/wheels/*.whl || exit 2
fi
exec $PY -m benchmarks.gpu.plan "$@"
