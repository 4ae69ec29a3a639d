"""Logs a serving process's full garbage collections (``scripts.measure_gc_pauses``): put on the server's
PYTHONPATH with SEMREC_GC_LOG_DIR set, each process writes ``<pid>.json`` there every second: the wall time
of each full collection, the objects it freed and the objects its generation held after it."""

import gc
import json
import os
import threading
import time

_DIR = os.environ.get("SEMREC_GC_LOG_DIR")
_started: list[float] = []
_full: list[list[float]] = []  # [time, ms, freed, objects left in the oldest generation]


def _timed(phase: str, info: dict) -> None:
    if phase == "start":
        _started[:] = [time.perf_counter()]
    elif info["generation"] == 2 and _started:
        ms = (time.perf_counter() - _started[0]) * 1000
        _full.append([time.time(), round(ms, 2), info["collected"], len(gc.get_objects(2))])


def _write_every_second() -> None:
    while True:
        time.sleep(1)
        with open(os.path.join(_DIR, f"{os.getpid()}.json"), "w") as f:
            json.dump({"full": _full, "frozen": gc.get_freeze_count()}, f)


def _start() -> None:
    threading.Thread(target=_write_every_second, name="gc-log", daemon=True).start()


if _DIR:
    gc.callbacks.append(_timed)
    _start()
    os.register_at_fork(after_in_child=_start)  # uvicorn's workers are forked (or spawned: they start above)
