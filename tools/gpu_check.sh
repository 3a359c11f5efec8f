#!/usr/bin/env bash
# Marquee on one NVIDIA GPU, offline, in a few minutes: training (each strategy, mixed
# precision), CUDA vs CPU probabilities, predict, serve, the app's worker, torchrun on two
# GPUs; images/s per phase and a one-line verdict. See docs/gpu-check.md.
#
#   tools/gpu_check.sh            # on the GPU machine
#   tools/gpu_check.sh --dry-run  # anywhere: every phase that needs no GPU
#
# Set-up as the README says: `python3 dev.py` builds .venv (that needs PyPI once). With no
# network, reuse an existing environment: MARQUEE_PYTHON=/path/to/python tools/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${MARQUEE_PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
    if [[ -x .venv/bin/python ]]; then
        PYTHON=.venv/bin/python
    else
        echo "gpu_check: no .venv; setting it up as the README says (python3 dev.py)..." >&2
        python3 -c 'import dev; dev.setup("dev")' \
            || { echo "gpu_check: set-up failed (offline?); set MARQUEE_PYTHON" >&2; exit 2; }
        PYTHON=.venv/bin/python
    fi
fi
export QT_QPA_PLATFORM=offscreen PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec timeout 300 "$PYTHON" tools/gpu_check.py "$@"
