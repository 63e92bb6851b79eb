#!/usr/bin/env bash
# bench/gpu_loop.py on a GPU machine without network: Hydra and OmegaConf (with PyYAML and
# packaging where missing) from the wheelhouse build/gpu-wheels, mlcore and the rendered example
# build/gpu-example from the tree. `bench/gpu_loop.sh --prepare` makes both folders, here.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ "${1:-}" = "--prepare" ]; then
  rm -rf build/gpu-example build/gpu-wheels
  .venv/bin/python examples/scaffold.py digits-classifier build/gpu-example
  (cd build/gpu-example && PYTHONPATH=src ../../.venv/bin/python -m digits_classifier.data)
  mkdir -p build/gpu-wheels
  .venv/bin/pip download --quiet --only-binary=:all: --python-version 3.12 --no-deps \
    --dest build/gpu-wheels hydra-core==1.3.8 omegaconf==2.3.1 packaging==26.4
  .venv/bin/pip download --quiet --only-binary=:all: --python-version 3.12 --no-deps \
    --platform manylinux2014_x86_64 --dest build/gpu-wheels PyYAML==6.0.4
  .venv/bin/pip wheel --quiet --no-deps --wheel-dir build/gpu-wheels antlr4-python3-runtime==4.9.3
  exit 0
fi

missing=$("$PYTHON" - <<'PY'
import importlib.util
print(" ".join(n for n, m in [("hydra-core", "hydra"), ("omegaconf", "omegaconf"),
                              ("PyYAML", "yaml")] if importlib.util.find_spec(m) is None))
PY
)
if [ -n "$missing" ]; then
  install=("$PYTHON" -m pip install --quiet --no-index --find-links build/gpu-wheels)
  # shellcheck disable=SC2086  # one argument per package name
  "${install[@]}" $missing 2>/dev/null || "${install[@]}" --break-system-packages $missing \
    || "${install[@]}" --user $missing
fi
export PYTHONPATH="$PWD:$PWD/build/gpu-example/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" bench/gpu_loop.py --project build/gpu-example --out "${OUT:-build/gpu-out}" --smoke "$@"
