"""Build the FastAPI app: settings -> store (migrated) -> keys -> routes, with docs served offline."""

import gc
import logging
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from threadpoolctl import threadpool_limits

from app import __version__, dashboard
from app.api.main import api_router
from app.core import errors
from app.core.config import Settings, get_settings
from app.core.metrics import Metrics
from app.core.middleware import RequestMiddleware
from app.core.security import KeyStore, RateLimiter
from app.measure.impressions import ImpressionLog
from app.recommender.carousels import Carousels
from app.recommender.service import Recommender
from app.store import migrate, queue
from app.store.db import make_engine, make_sessionmaker, one_writer
from app.worker.runner import SHUTDOWN_GRACE_S, Worker, start_in_thread

log = logging.getLogger("semrec")

DESCRIPTION = """Personalized product recommendations for storefront backends.

Every `/v1` route needs an `X-API-Key` header (use **Authorize**). Keys have the role `read`
(recommendation routes) or `write` (everything). Errors are JSON with a `detail` that names the field or id.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Requests run side by side in threads and processes: numpy's BLAS threads would only fight them for the
        # cores (a fold-in over 100k items: 13-20 ms on one thread, 60-200 ms on two). Torch keeps its own.
        threadpool_limits(1, user_api="blas")
        engine = make_engine(settings)
        if settings.migrate_on_start:
            migrate.upgrade(engine)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        app.state.schema_head = migrate.head_revision()
        app.state.keys = KeyStore.from_settings(settings)
        # What each answer showed, written by a thread of its own (app.measure.impressions).
        app.state.impressions = ImpressionLog(
            app.state.sessions, capacity=settings.impressions_buffer, flush_seconds=settings.impressions_flush_seconds,
            retention_days=settings.impressions_days, enabled=settings.impressions,
            write_lock=one_writer(settings)).start()
        # SQLite answers are read on the event loop: give them a pool of their own, so they never wait for a
        # connection that a write in the thread pool is holding.
        reads = make_engine(settings) if settings.is_sqlite else engine
        app.state.recommender = Recommender(app.state.sessions, settings, reads=reads)
        app.state.carousels = Carousels(app.state.recommender.served, reads, app.state.sessions)
        stop = threading.Event()
        refresher = threading.Thread(target=_keep_fresh, args=(app.state.recommender, app.state.carousels,
                                                               settings, stop),
                                     name="semrec-refresh", daemon=True)
        refresher.start()
        worker_thread = None
        if settings.runs_embedded_worker:  # embedded mode: this process also runs the jobs
            app.state.worker = Worker(app.state.sessions, settings)
            worker_thread = start_in_thread(app.state.worker)
        log.info("semrec %s ready on %s", __version__, engine.url.render_as_string(hide_password=True))
        # What startup built lives as long as the process: out of every full collection's walk (the garbage
        # collected first, or frozen cycles would never be freed).
        gc.collect()
        gc.freeze()
        yield
        if worker_thread is not None:
            app.state.worker.stop.set()  # first: the running job goes back to the queue for another worker
        stop.set()
        refresher.join(timeout=10)
        if worker_thread is not None:
            worker_thread.join(timeout=SHUTDOWN_GRACE_S + 2)
        app.state.impressions.close()  # the answers recorded since the last flush: nothing shown is lost
        reads.dispose()
        engine.dispose()

    app = FastAPIOffline(
        title="semrec",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,  # 413 before a too-large body is read whole
    )
    app.state.metrics = Metrics(app.state, queue.figures)
    app.state.rate_limiter = (RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
                              if settings.rate_limit_per_second > 0 else None)
    errors.install(app)
    app.include_router(api_router)
    dashboard.install(app)
    if settings.cors_origin_list:  # no CORS middleware at all unless origins are configured
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origin_list,
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["X-API-Key", "Content-Type", "X-Request-ID"],
                           expose_headers=["X-Request-ID", "Retry-After"])
    build_stack = app.build_middleware_stack
    # Outside even the framework's own layers, so its 413s and the 500s of unhandled errors get the headers,
    # a request id, a log line and a count too.
    app.build_middleware_stack = lambda: RequestMiddleware(build_stack(), app.state.metrics)
    return app


def _keep_fresh(recommender: Recommender, carousels: Carousels, settings: Settings, stop: threading.Event) -> None:
    """Serving state follows the store: a newly active model version, catalog changes, new item vectors, the
    counts of bought together and trending. The query encoder loads here too, once a model is being served:
    never on the request path."""
    while True:
        try:
            state = recommender.refresh()
            carousels.refresh()
            if state.model is not None and state.model.factors.item_map is not None:
                recommender.query_encoder()
        except Exception:
            log.exception("serving refresh failed; keeping the current state")
        if stop.wait(settings.refresh_seconds):
            return


app = create_app()
