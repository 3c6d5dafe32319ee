#!/usr/bin/env bash
# Creates (or reuses) the Python virtual environment used by the PEFT interop scripts.
# The venv lives OUTSIDE the repository: ${TFJS_OFT_PEFT_VENV:-$HOME/.cache/tfjs-oft/venv-peft}.
# Prints the path of the venv's python on its last line.
# Note: the default Linux torch wheel on PyPI pulls the nvidia-* CUDA runtime packages
# (a few GB); the scripts only use the CPU.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${TFJS_OFT_PEFT_VENV:-$HOME/.cache/tfjs-oft/venv-peft}"
REQ="$HERE/requirements.txt"
STAMP="$VENV/.tfjs-oft-requirements.sha256"
PY="${PYTHON:-python3}"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "setup.sh: reusing $VENV" >&2
else
  echo "setup.sh: creating $VENV from $REQ" >&2
  mkdir -p "$(dirname "$VENV")"
  [[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --upgrade pip >&2
  "$VENV/bin/python" -m pip install -r "$REQ" >&2
  echo "$want" > "$STAMP"
fi
"$VENV/bin/python" -c "import torch, peft; print('torch', torch.__version__, 'peft', peft.__version__)" >&2
echo "$VENV/bin/python"
