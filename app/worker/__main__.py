"""``python -m app.worker``: the separate worker process (PostgreSQL deployments run one or more)."""

import logging
import signal

from app.core.config import get_settings
from app.store import migrate
from app.store.db import make_engine, make_sessionmaker
from app.worker.runner import Worker


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    engine = make_engine(settings)
    if settings.migrate_on_start:
        migrate.upgrade(engine)
    worker = Worker(make_sessionmaker(engine), settings)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stop.set())
    worker.run_forever()
    engine.dispose()


if __name__ == "__main__":
    main()
