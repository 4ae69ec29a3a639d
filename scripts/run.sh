#!/usr/bin/env bash
# Install (once) and start semrec on the embedded defaults: SQLite in ./var, the packaged offline encoder.
# Any SEMREC_* variable (see README) overrides a default. Extra arguments go to `python -m app`.
source "$(dirname "$0")/_venv.sh"
exec .venv/bin/python -m app --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" "$@"
