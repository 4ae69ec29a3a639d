"""Structured logs: one JSON object per line (time, level, logger, message, request fields), stdlib only.

``log_config`` is a ``logging.config.dictConfig`` dict; ``python -m app`` hands it to uvicorn, so uvicorn's
own lines come out in the same format.
"""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

# Set per request by the request middleware: every line logged while serving a request carries its id.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is a field of the line.
# uvicorn's color_message repeats the message with terminal colours.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (current := request_id.get()) is not None:
            line["request_id"] = current
        line.update((k, v) for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def log_config(log_format: str, access_log: bool = True) -> dict:
    """Everything to stderr at INFO and up, as JSON lines or plain text; the access log only if asked for."""
    formatter = {"()": "app.core.logs.JsonFormatter"} if log_format == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default",
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {"faiss.loader": {"level": "WARNING"},  # which CPU build it tried, at every start
                    "semrec.access": {"level": "INFO" if access_log else "WARNING"}},
    }
