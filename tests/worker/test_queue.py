"""The job queue on SQLite and PostgreSQL: claims are exclusive, progress is visible, leases lapse."""

import threading
import time

from app.store import queue
from app.store.models import Job
from app.worker.runner import Worker


def enqueue(sessions, n, kind="probe"):
    with sessions.begin() as s:
        return [queue.enqueue(s, kind, {"n": i}).job_id for i in range(n)]


def test_two_workers_never_run_the_same_job(sessions, settings):
    job_ids = enqueue(sessions, 40)
    ran: list[tuple[str, str]] = []
    lock = threading.Lock()

    def probe(ctx, params):
        with lock:
            ran.append((ctx.job.job_id, ctx.worker.worker_id))
        time.sleep(0.005)
        return {"n": params["n"]}

    workers = [Worker(sessions, settings, {"probe": probe}, worker_id=f"w{i}") for i in range(2)]

    def drain(worker):
        while worker.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(j for j, _ in ran) == sorted(job_ids)  # every job once, none twice
    assert {w for _, w in ran} == {"w0", "w1"}  # and both workers took part
    with sessions() as s:
        assert {s.get(Job, j).status for j in job_ids} == {"succeeded"}


def test_progress_is_visible_while_running(sessions, settings):
    (job_id,) = enqueue(sessions, 1)
    seen = {}

    def step(ctx, params):
        ctx.progress(1, 3)
        with sessions() as s:
            job = s.get(Job, job_id)
            seen.update(status=job.status, done=job.progress_done, total=job.progress_total)
        ctx.progress(3)
        return {}

    Worker(sessions, settings, {"probe": step}).run_once()
    assert seen == {"status": "running", "done": 1, "total": 3}
    with sessions() as s:
        job = s.get(Job, job_id)
        assert (job.status, job.progress_done, job.progress_total) == ("succeeded", 3, 3)
        assert job.result["seconds"] >= 0


def test_lapsed_lease_is_taken_up_again_then_failed(sessions, settings):
    fast = settings.model_copy(update={"job_lease_seconds": 0.2, "job_max_attempts": 2})
    (job_id,) = enqueue(sessions, 1)
    # A worker claims the job and dies without a word (no heartbeat, no finish).
    assert queue.claim(sessions, "dead-1", ("probe",), fast.job_lease_seconds).job_id == job_id
    time.sleep(0.3)
    assert queue.recover_lapsed(sessions, fast.job_max_attempts) == 1
    with sessions() as s:
        assert s.get(Job, job_id).status == "queued"
    # Taken up again, and again the worker dies: after max attempts the job ends failed, not running forever.
    assert queue.claim(sessions, "dead-2", ("probe",), fast.job_lease_seconds).attempts == 2
    time.sleep(0.3)
    queue.recover_lapsed(sessions, fast.job_max_attempts)
    with sessions() as s:
        job = s.get(Job, job_id)
        assert job.status == "failed" and "lease lapsed" in job.error


def test_a_worker_that_lost_its_lease_cannot_finish(sessions, settings):
    (job_id,) = enqueue(sessions, 1)
    queue.claim(sessions, "slow", ("probe",), 0.1)
    time.sleep(0.2)
    queue.recover_lapsed(sessions, 3)
    done = Worker(sessions, settings, {"probe": lambda ctx, p: {"by": "fresh"}}, worker_id="fresh")
    assert done.run_once()
    assert not queue.finish(sessions, job_id, "slow", "failed", error="late")
    with sessions() as s:
        assert s.get(Job, job_id).status == "succeeded"
    try:
        queue.renew(sessions, job_id, "slow", 60)
        raise AssertionError("renew should have raised JobLost")
    except queue.JobLost:
        pass


def test_heartbeat_keeps_a_long_step_alive(sessions, settings):
    fast = settings.model_copy(update={"job_lease_seconds": 0.3})
    (job_id,) = enqueue(sessions, 1)

    def long_step(ctx, params):
        time.sleep(1.0)  # over three lease lengths without calling progress
        assert queue.recover_lapsed(sessions, 3) == 0
        return {}

    Worker(sessions, fast, {"probe": long_step}).run_once()
    with sessions() as s:
        job = s.get(Job, job_id)
        assert job.status == "succeeded" and job.attempts == 1


def test_a_stopping_worker_hands_its_job_back(sessions, settings):
    (job_id,) = enqueue(sessions, 1)
    worker = Worker(sessions, settings, worker_id="leaving")

    def long_job(ctx, params):
        ctx.progress(1, 10)
        worker.stop.set()  # SIGTERM arrives mid-job
        ctx.progress(2, 10)
        raise AssertionError("progress should have interrupted the job")

    worker.handlers = {"probe": long_job}
    worker.run_once()
    with sessions() as s:
        job = s.get(Job, job_id)
        assert (job.status, job.worker_id, job.attempts) == ("queued", None, 0)
    # Another worker takes it up at once, no lease to wait for.
    assert Worker(sessions, settings, {"probe": lambda ctx, p: {"ok": True}}, worker_id="next").run_once()
    with sessions() as s:
        assert s.get(Job, job_id).status == "succeeded"
