#!/usr/bin/env bash
# Install (once) with the dev extras and run the whole test suite on SQLite and PostgreSQL.
# PostgreSQL: SEMREC_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test); a local cluster is
# started if none answers. Extra arguments go to pytest.
EXTRAS=dev,bench
source "$(dirname "$0")/_venv.sh"
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "== starting the local PostgreSQL cluster"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
# The dashboard's browser tests drive Debian's chromium (never a downloaded browser): installed when missing.
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "== installing chromium for the dashboard's browser tests"
  apt-get install -y -qq chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || true
fi
# Two test processes (pytest-xdist), a test file each at a time: most of the suite's time is spent waiting on
# servers it starts and trainings it runs, which a second process overlaps (SEMREC_TEST_WORKERS=0: one process).
exec .venv/bin/python -m pytest -n "${SEMREC_TEST_WORKERS:-2}" --dist loadfile "$@"
