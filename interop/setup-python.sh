#!/usr/bin/env bash
# Creates (or reuses) the pinned Python virtual environment that provides
# `tensorflowjs_converter` and TensorFlow for tfjs-oft's SavedModel export and interop tests.
#
#   interop/setup-python.sh            # create or reuse, then print the venv path
#   TFJS_OFT_VENV=/some/dir interop/setup-python.sh
#   TFJS_OFT_PYTHON=python3.11 interop/setup-python.sh
#
# The venv lives OUTSIDE the repository: ${TFJS_OFT_VENV:-$HOME/.cache/tfjs-oft/venv-tfjs}.
# It is reused when its stamp file matches interop/requirements.txt + constraints.txt exactly; otherwise it is
# rebuilt from scratch. The last line printed on stdout is the venv directory; the converter is
# then "$VENV/bin/tensorflowjs_converter" (exportSavedModel finds it there by itself).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
req="$here/requirements.txt"
constraints="$here/constraints.txt"
venv="${TFJS_OFT_VENV:-${HOME}/.cache/tfjs-oft/venv-tfjs}"
stamp="$venv/.tfjs-oft-stamp"

# Stamp = the pins plus the interpreter's major.minor, so a change of either rebuilds.
pick_python() {
  if [[ -n "${TFJS_OFT_PYTHON:-}" ]]; then echo "$TFJS_OFT_PYTHON"; return; fi
  # TF 2.16 ships wheels for CPython 3.9-3.12.
  for p in python3.11 python3.10 python3.12 python3.9 python3; do
    if command -v "$p" >/dev/null 2>&1 &&
       "$p" -c 'import sys; sys.exit(0 if (3,9) <= sys.version_info[:2] <= (3,12) else 1)' 2>/dev/null; then
      echo "$p"; return
    fi
  done
  echo "setup-python.sh: no Python 3.9-3.12 found (TensorFlow 2.16 needs one); set TFJS_OFT_PYTHON" >&2
  exit 1
}
py="$(pick_python)"
pyver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
want_stamp="python=$pyver
$(cat "$req" "$constraints" | grep -v '^\s*#' | sed '/^\s*$/d')"

if [[ -f "$stamp" && -x "$venv/bin/tensorflowjs_converter" && "$(cat "$stamp")" == "$want_stamp" ]]; then
  echo "setup-python.sh: reusing $venv" >&2
  echo "$venv"
  exit 0
fi

echo "setup-python.sh: creating $venv with $py ($pyver); this downloads ~1.5 GB once" >&2
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet -r "$req" -c "$constraints" >&2
# Smoke check: the converter imports and TF loads.
export TF_CPP_MIN_LOG_LEVEL=2
"$venv/bin/python" -c 'import tensorflow as tf, tensorflowjs, tf_keras; print("tensorflow", tf.__version__, "tensorflowjs", tensorflowjs.__version__, "tf_keras", tf_keras.__version__)' >&2
"$venv/bin/tensorflowjs_converter" --version >&2
printf '%s' "$want_stamp" > "$stamp"
echo "$venv"
