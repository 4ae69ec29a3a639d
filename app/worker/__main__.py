"""``python -m app.worker``: the separate worker process (PostgreSQL deployments run one or more).

SIGTERM or SIGINT: take no new job and hand the running one back to the queue, so that another worker takes
it up at once instead of waiting for its lease to lapse; then exit, even if the handler is inside a long step.
"""

import logging
import logging.config
import signal

from app.core.config import get_settings
from app.core.logs import log_config
from app.store import migrate
from app.store.db import make_engine, make_sessionmaker
from app.worker.runner import SHUTDOWN_GRACE_S, Worker, start_in_thread


def main() -> None:
    settings = get_settings()
    logging.config.dictConfig(log_config(settings.log_format))  # the same JSON lines as the API's
    engine = make_engine(settings)
    if settings.migrate_on_start:
        migrate.upgrade(engine)
    worker = Worker(make_sessionmaker(engine), settings)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stop.set())
    thread = start_in_thread(worker)
    while thread.is_alive() and not worker.stop.wait(0.5):  # the main thread stays free to take signals
        pass
    # The handler hands its job back at its next progress report, or the heartbeat does after the grace.
    thread.join(timeout=SHUTDOWN_GRACE_S + 2)
    if thread.is_alive():
        logging.getLogger("semrec.worker").warning("exiting while a handler is still inside a long step")
    engine.dispose()


if __name__ == "__main__":
    main()
