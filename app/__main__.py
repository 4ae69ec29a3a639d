"""``python -m app`` / ``semrec``: upgrade the schema, make sure an API key exists, serve with uvicorn."""

import argparse
import logging.config
import multiprocessing

import uvicorn

from app.core.config import get_settings
from app.core.logs import log_config
from app.core.security import KeyStore
from app.store import migrate
from app.store.db import make_engine


def main() -> None:
    parser = argparse.ArgumentParser(prog="semrec", description="Run the semrec API service.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    settings = get_settings()
    logging.config.dictConfig(log_config(settings.log_format, settings.access_log))
    engine = make_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    KeyStore.from_settings(settings)  # bad keys stop the start here; the first key is generated and printed once
    if args.workers > 1 and settings.preload:
        _fork_workers_after_preload(settings, args.workers)
    # Our access log (app.core.middleware) replaces uvicorn's: route templates, request ids, no query strings.
    # SIGTERM: in-flight requests finish, within a 30 s stop window.
    uvicorn.run("app.main:app", host=args.host, port=args.port, workers=args.workers, log_level="info",
                log_config=log_config(settings.log_format, settings.access_log), access_log=False,
                proxy_headers=True, timeout_graceful_shutdown=20)


def _fork_workers_after_preload(settings, workers: int) -> None:
    """Several workers share one copy of the served version: it is loaded here, then uvicorn's supervisor
    forks the workers (instead of spawning fresh interpreters that would each load their own). uvicorn has no
    option for this; its supervisor takes its process context from ``uvicorn._subprocess.spawn``."""
    from uvicorn import _subprocess

    from app.recommender import state  # here: numpy, FAISS and the store load only to preload

    log = logging.getLogger("semrec")
    try:
        preloaded = state.preload(settings)
    except Exception:  # an unreadable version must not stop the service: each worker loads (or reports) it
        log.exception("preloading the served version failed; the workers load it each")
        return
    if preloaded is not None:
        _subprocess.spawn = multiprocessing.get_context("fork")
        version = preloaded.model.version if preloaded.model else None
        log.info("preloaded model version %s for %d forked workers", version, workers)


if __name__ == "__main__":
    main()
