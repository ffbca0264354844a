#!/usr/bin/env bash
# Create .venv and install distant with its test and transformer extras.
#
# PyTorch: on a machine without an NVIDIA GPU the CPU build (torch 2.13.0) is installed first, so that
# resolving the package's `torch>=2.4` installs nothing more; set DISTANT_TORCH_INDEX to a CPU wheel index
# where the default index serves only CUDA builds. With a GPU (nvidia-smi answers), pip's default CUDA
# build is installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  "${pip[@]}" "torch>=2.4"
else
  "${pip[@]}" "torch==2.13.0" ${DISTANT_TORCH_INDEX:+--index-url "$DISTANT_TORCH_INDEX"}
fi
"${pip[@]}" -e ".[dev]"
.venv/bin/python -c "import torch, distant; print('distant', distant.__version__, '| torch', torch.__version__, '| cuda' if torch.cuda.is_available() else '| cpu')"
