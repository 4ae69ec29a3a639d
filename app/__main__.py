"""``python -m app`` / ``semrec``: upgrade the schema, make sure an API key exists, serve with uvicorn."""

import argparse

import uvicorn

from app.core.config import get_settings
from app.core.security import load_keys
from app.store import migrate
from app.store.db import make_engine


def main() -> None:
    parser = argparse.ArgumentParser(prog="semrec", description="Run the semrec API service.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    settings = get_settings()
    engine = make_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    load_keys(settings.api_keys, settings.data_dir)  # generates and prints the first key, once
    uvicorn.run("app.main:app", host=args.host, port=args.port, workers=args.workers,
                log_level="info", proxy_headers=True)


if __name__ == "__main__":
    main()
