#!/usr/bin/env bash
# Build the book offline: vendor MathJax if needed, then Jupyter Book 1 with warnings as errors.
# Usage: bash book/build.sh [extra jupyter-book args]     (data root: $SHIFT_DATA_DIR, default <repo>/data)
set -euo pipefail
BOOK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$BOOK")"
JB="${JUPYTER_BOOK:-$REPO/.venv/bin/jupyter-book}"
[[ -x "$JB" ]] || JB="$(command -v jupyter-book || true)"
[[ -n "$JB" ]] || { echo "build.sh: jupyter-book not found: run 'make venv' (it installs jupyter-book==1.0.4)" >&2; exit 1; }
bash "$BOOK/vendor_mathjax.sh"
start=$(date +%s.%N)
"$JB" build "$BOOK" -W -n --keep-going "$@"
echo "build.sh: book built in $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "$(date +%s.%N)") s -> $BOOK/_build/html/index.html"
