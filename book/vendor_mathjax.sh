#!/usr/bin/env bash
# Vendor MathJax into book/.vendor/static/mathjax (git-ignored) so the built book renders math with no network.
# The shift_book extension adds book/.vendor/static to html_static_path (so it lands in _build/html/_static/) and
# points mathjax_path at it; it is kept out of book/_static because Jupyter Book adds a <script> tag for every .js
# file found there, which would load MathJax's internal files (and MathJax itself) a second time.
# Source: npm's `mathjax` package (pinned version; cached in book/.vendor/node_modules), one self-contained file.
# Debian's libjs-mathjax (MathJax 2.7) is not used: under Sphinx 7 + Jupyter Book 1 it loaded but typeset nothing.
# Idempotent (--force re-vendors); prints what it installed.
set -euo pipefail
BOOK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="$BOOK/.vendor/static/mathjax"
VERSION="${MATHJAX_VERSION:-3.2.2}"
CACHE="$BOOK/.vendor"

if [[ -f "$DEST/tex-svg-full.js" ]] && [[ "${1:-}" != "--force" ]]; then
  echo "vendor_mathjax: already present: $(cat "$DEST/SOURCE" 2>/dev/null || echo "$DEST")"
  exit 0
fi
rm -rf "$DEST"
mkdir -p "$DEST"

from_npm_dir() {  # $1 = a node_modules/mathjax directory (MathJax 3: one self-contained SVG bundle)
  cp "$1/es5/tex-svg-full.js" "$DEST/"
  cp "$1/LICENSE" "$DEST/LICENSE"
  echo "npm mathjax $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$1/package.json") (es5/tex-svg-full.js)" > "$DEST/SOURCE"
}

if [[ -f "$CACHE/node_modules/mathjax/es5/tex-svg-full.js" ]]; then
  from_npm_dir "$CACHE/node_modules/mathjax"
elif command -v npm >/dev/null 2>&1 \
    && npm install --silent --no-save --no-audit --no-fund --prefix "$CACHE" "mathjax@$VERSION" >/dev/null 2>&1; then
  from_npm_dir "$CACHE/node_modules/mathjax"
fi
if [[ ! -f "$DEST/SOURCE" ]]; then
  rm -rf "$DEST"
  echo "vendor_mathjax: cannot fetch mathjax@$VERSION: install npm (Debian: apt-get install npm) and retry" >&2
  exit 1
fi
echo "vendor_mathjax: installed $(cat "$DEST/SOURCE") into $DEST"
