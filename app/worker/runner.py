"""The worker loop: claim a job, run its handler with a context that reports progress and keeps the lease."""

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.store import queue
from app.store.models import Job

log = logging.getLogger("semrec.worker")

# A stopping worker gives its handler this long to hand the job back at its next progress report; after that
# the heartbeat hands it back itself (one long step must not make another worker wait for the lease to lapse).
SHUTDOWN_GRACE_S = 5.0

Handler = Callable[["JobContext", dict[str, Any]], dict[str, Any]]


class Interrupted(RuntimeError):
    """The worker was asked to stop (SIGTERM): hand the job back rather than finish it."""


class JobContext:
    """What a handler gets: the store, the settings, shared models, and ``progress(done, total)``."""

    def __init__(self, worker: "Worker", job: Job) -> None:
        self.worker = worker
        self.job = job
        self.sessions = worker.sessions
        self.settings = worker.settings

    def progress(self, done: int, total: int | None = None, result: dict[str, Any] | None = None) -> None:
        """Record progress (and a partial result) and renew the lease; raises JobLost if the job was handed
        on meanwhile, and Interrupted if the worker is shutting down (the job goes back to the queue)."""
        if self.worker.stop.is_set():
            raise Interrupted(self.job.job_id)
        queue.renew(self.sessions, self.job.job_id, self.worker.worker_id, self.settings.job_lease_seconds,
                    done=done, total=total, result=result)

    def encoder(self):
        return self.worker.encoder()


def default_handlers() -> dict[str, Handler]:
    # here: torch, transformers and the trainer load when a worker starts, not when the API imports this module
    from app.encoder.pipeline import run_embedding_job
    from app.generator.job import run_reviews_job
    from app.trainer.job import run_training_job

    return {"embedding": run_embedding_job, "training": run_training_job, "reviews": run_reviews_job}


class Worker:
    """Runs queued jobs one at a time. Several workers (threads or processes) may share one store.

    Parameters
    ----------
    sessions : session factory of the store.
    settings : lease length, attempts, poll interval, encoder settings.
    handlers : job kind -> function(context, params) -> result dict. Default: the service's job kinds.
    encoder : an already loaded encoder to use; default: load the configured one on first use.
    """

    def __init__(self, sessions: sessionmaker[Session], settings: Settings,
                 handlers: dict[str, Handler] | None = None, worker_id: str | None = None, encoder=None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.handlers = handlers if handlers is not None else default_handlers()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 10_000}"
        self.stop = threading.Event()
        self._encoder = encoder
        self._encoder_lock = threading.Lock()

    def encoder(self):
        """The encoder, loaded on first use and kept: loading is seconds, a forward pass is milliseconds."""
        with self._encoder_lock:
            if self._encoder is None:
                from app.encoder.model import Encoder  # here: torch and transformers, on first use

                s = self.settings
                self._encoder = Encoder(s.encoder_model, s.device, s.encoder_max_tokens, s.encoder_batch_size)
            return self._encoder

    def run_once(self) -> bool:
        """Recover lapsed jobs, then run one queued job if there is one; returns whether one ran."""
        queue.recover_lapsed(self.sessions, self.settings.job_max_attempts)
        job = queue.claim(self.sessions, self.worker_id, tuple(self.handlers), self.settings.job_lease_seconds)
        if job is None:
            return False
        self._run(job)
        return True

    def run_forever(self) -> None:
        log.info("worker %s polling for %s", self.worker_id, ", ".join(self.handlers))
        while not self.stop.is_set():
            try:
                if not self.run_once():
                    self.stop.wait(self.settings.job_poll_seconds)
            except Exception:  # the store may be briefly unreachable: keep the worker alive
                log.exception("worker loop error")
                self.stop.wait(self.settings.job_poll_seconds)

    def _run(self, job: Job) -> None:
        log.info("job %s (%s) started, attempt %d", job.job_id, job.kind, job.attempts)
        context = JobContext(self, job)
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job.job_id, done), daemon=True)
        beat.start()
        started = time.perf_counter()
        try:
            result = self.handlers[job.kind](context, job.params or {})
            result = {**result, "seconds": round(time.perf_counter() - started, 3)}
            if queue.finish(self.sessions, job.job_id, self.worker_id, "succeeded", result=result):
                log.info("job %s succeeded in %.1fs", job.job_id, result["seconds"])
            else:
                log.warning("job %s ended here after it was handed on; its result is dropped", job.job_id)
        except queue.JobLost:
            log.warning("job %s was handed on (lease lapsed); dropping it here", job.job_id)
        except Interrupted:
            queue.release(self.sessions, job.job_id, self.worker_id)
            log.info("job %s handed back to the queue: this worker is stopping", job.job_id)
        except Exception as exc:
            log.error("job %s failed: %s", job.job_id, traceback.format_exc())
            queue.finish(self.sessions, job.job_id, self.worker_id, "failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            done.set()
            beat.join()

    def _heartbeat(self, job_id: str, done: threading.Event) -> None:
        """Renew the lease while the handler works, even through one long step. Once the worker is stopping
        and the handler has not handed the job back within SHUTDOWN_GRACE_S, hand it back from here: the
        handler then finds it lost at its next report, and a training job never activates its model."""
        interval = self.settings.job_lease_seconds / 3
        renew_at = time.monotonic() + interval
        release_at = None
        while not done.wait(min(interval, 0.2)):
            now = time.monotonic()
            if self.stop.is_set():
                release_at = release_at or now + SHUTDOWN_GRACE_S
                if now >= release_at:
                    try:
                        queue.release(self.sessions, job_id, self.worker_id)
                        log.info("job %s handed back to the queue mid-step: this worker is stopping", job_id)
                    except Exception:  # the store is unreachable: the lease lapses instead
                        log.exception("could not hand job %s back", job_id)
                    return
            if now < renew_at:
                continue
            renew_at = now + interval
            try:
                queue.renew(self.sessions, job_id, self.worker_id, self.settings.job_lease_seconds)
            except queue.JobLost:
                return
            except Exception:
                log.exception("heartbeat for job %s failed", job_id)


def start_in_thread(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run_forever, name="semrec-worker", daemon=True)
    thread.start()
    return thread
