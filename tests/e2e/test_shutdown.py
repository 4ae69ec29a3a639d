"""Graceful shutdown (SIGTERM): the API finishes a request already in flight; a stopping worker, separate
process or the API's embedded thread, hands its running job back to the queue, where the next worker takes
it up at once (not after its lease lapses), and it neither fails nor stays running."""

import json
import signal
import socket
import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, select

from app.core.config import Settings
from app.store import queue
from app.store.models import Job
from app.worker import runner
from app.worker.runner import Worker
from scripts import chaos
from scripts.lib import service

pytestmark = pytest.mark.e2e


SIGTERM_EXIT = (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    with service.fresh_store(request.param, tmp_path) as url:
        yield url


def test_sigterm_lets_the_request_in_flight_finish(store_url, tmp_path):
    api = service.Api(service.service_env(store_url, tmp_path / "data"), tmp_path / "api.log").wait_ready()
    try:
        run_id = uuid.uuid4().hex[:8]
        events = [{"user_id": f"u{n % 7}", "item_id": f"i{n % 11}", "type": "click", "event_id": f"{run_id}-{n}"}
                  for n in range(500)]
        body = json.dumps({"interactions": events}).encode()
        head = (f"POST /v1/interactions HTTP/1.1\r\nHost: semrec\r\nX-API-Key: {service.WRITE_KEY}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", api.port), timeout=60) as conn:
            conn.sendall(head + body[: len(body) // 2])
            time.sleep(1)  # the server has read the head: the request is in flight, waiting for its body
            api.proc.send_signal(signal.SIGTERM)
            wait_until(lambda: not accepts_connections(api.port))  # shutting down: no new connections
            conn.sendall(body[len(body) // 2:])
            response = read_all(conn)
        status_line, _, payload = response.partition(b"\r\n\r\n")
        assert status_line.startswith(b"HTTP/1.1 200"), response[:500]
        assert json.loads(payload)["accepted"] == 500
        assert api.proc.wait(timeout=60) in SIGTERM_EXIT
        assert len(chaos.stored_event_ids(store_url, f"{run_id}-")) == 500
    finally:
        api.terminate()


def test_worker_process_sigterm_hands_its_job_to_the_next_worker(tmp_path):
    """PostgreSQL: `python -m app.worker` stopped mid-training; the lease is the default 60 s, so only the
    hand-back can put the job in the queue within the test."""
    with service.fresh_store("postgresql", tmp_path) as url:
        env = service.service_env(url, tmp_path / "data", SEMREC_REFRESH_SECONDS="0.5")
        processes = [service.Api(env, tmp_path / "api.log").wait_ready()]
        api = processes[0]
        try:
            processes.append(service.start_worker(env, tmp_path / "worker-1.log"))
            with api.client() as http:
                service.seed_dataset(http)
                timing = service.train(http, epochs=3)
                job_id = http.post("/v1/training/jobs", json=service.catchable_training(timing)).json()["job_id"]
                service.wait_job(http, job_id, until=service.in_epochs)
                assert processes[1].terminate() == 0, processes[1].log_tail()
                job = http.get(f"/v1/jobs/{job_id}").json()
                assert (job["status"], job["attempts"]) == ("queued", 0), job  # handed back, attempt not spent
                assert "handed back to the queue" in processes[1].log_tail()

                processes.append(service.start_worker(env, tmp_path / "worker-2.log"))
                job = service.wait_job(http, job_id)
                assert (job["status"], job["attempts"]) == ("succeeded", 1), job
                active = [m["version"] for m in http.get("/v1/models").json()["models"] if m["active"]]
                assert active == [job["result"]["model_version"]]
        finally:
            for p in processes:
                p.terminate()


def test_api_sigterm_hands_the_embedded_workers_job_back(tmp_path):
    """SQLite: the API process runs the jobs; stopping it mid-training requeues the job, and the restarted
    API runs it to the end."""
    with service.fresh_store("sqlite", tmp_path) as url:
        env = service.service_env(url, tmp_path / "data")
        api = service.Api(env, tmp_path / "api.log").wait_ready()
        try:
            with api.client() as http:
                service.seed_dataset(http)
                timing = service.train(http, epochs=3)
                job_id = http.post("/v1/training/jobs", json=service.catchable_training(timing)).json()["job_id"]
                service.wait_job(http, job_id, until=service.in_epochs)
            assert api.terminate() in SIGTERM_EXIT, api.log_tail()
            assert job_state(url, job_id) == ("queued", 0, None)
            assert "handed back to the queue" in api.log_tail()

            api = service.Api(env, tmp_path / "api.log").wait_ready()
            with api.client() as http:
                job = service.wait_job(http, job_id)
                assert (job["status"], job["attempts"]) == ("succeeded", 1), job
        finally:
            api.terminate()


def test_stopping_worker_hands_back_a_job_stuck_in_one_long_step(sessions, settings, monkeypatch):
    """A handler inside a step that reports no progress: the heartbeat hands the job back after the grace,
    so the next worker need not wait for the lease (60 s here) to lapse."""
    monkeypatch.setattr(runner, "SHUTDOWN_GRACE_S", 0.3)
    with sessions.begin() as s:
        job_id = queue.enqueue(s, "probe", {}).job_id
    inside, resume = threading.Event(), threading.Event()

    def long_step(ctx, params):
        inside.set()
        resume.wait(60)
        ctx.progress(1, 1)  # finds the worker stopping (and the job no longer its own)
        return {"finished": True}

    stopping = Worker(sessions, settings, {"probe": long_step}, worker_id="stopping")
    thread = threading.Thread(target=stopping.run_once)
    thread.start()
    try:
        assert inside.wait(60)
        stopping.stop.set()
        wait_until(lambda: job_status(sessions, job_id) == "queued")
    finally:
        resume.set()
        thread.join(60)
    with sessions() as s:
        job = s.get(Job, job_id)
        assert (job.status, job.attempts, job.worker_id, job.result) == ("queued", 0, None, None)
    assert Worker(sessions, settings, {"probe": lambda ctx, params: {}}, worker_id="next").run_once()
    with sessions() as s:
        assert s.get(Job, job_id).status == "succeeded"


def job_status(sessions, job_id: str) -> str:
    with sessions() as s:
        return s.get(Job, job_id).status


def job_state(database_url: str, job_id: str) -> tuple[str, int, str | None]:
    engine = create_engine(Settings(database_url=database_url, _env_file=None).sqlalchemy_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(Job.status, Job.attempts, Job.worker_id).where(Job.job_id == job_id)).one()
            return tuple(row)
    finally:
        engine.dispose()


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
