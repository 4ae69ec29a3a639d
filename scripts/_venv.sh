# Sourced by run.sh and test.sh: make ./.venv and install the project (with EXTRAS) when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS:-}
stamp=".venv/.semrec-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) ${EXTRAS}"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== installing semrec into .venv (first run takes a few minutes)"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch is pinned (torch==2.13.0) in pyproject.toml: pip takes the CPU wheel where one is provided locally.
  .venv/bin/python -m pip install --quiet --editable ".${EXTRAS:+[$EXTRAS]}"
  echo "$want" > "$stamp"
fi
