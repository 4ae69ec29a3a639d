"""Crash safety with kill -9, on SQLite and PostgreSQL: acknowledged batches survive whole and no batch is
stored in part; a worker killed mid-training leaves the active model serving and its job re-runs; artifacts
are written to a temp name, synced, renamed and the folder synced, so a crash never leaves half a file under
a name serving reads. The process helpers are scripts/lib/service.py's, the kill rounds scripts/chaos.py's (the
script prints the same figures)."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import create_engine, select

from app.core.config import Settings
from app.index.faiss_index import ItemIndex
from app.model import serving, versions
from app.model.factors import Factors
from app.store.models import ModelVersion
from scripts import chaos
from scripts.lib import service

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A store of its own (a fresh PostgreSQL database, dropped after), so that no other test's rows meet ours."""
    with service.fresh_store(request.param, tmp_path) as url:
        yield url


# ---------------------------------------------------------------- (a) kill -9 while batches stream in


def test_kill9_during_ingest_keeps_every_acknowledged_batch_whole(store_url, tmp_path):
    results = chaos.kill_rounds(store_url, tmp_path / "data", rounds=2, threads=4)
    totals = chaos.total(results)
    assert all(r["acknowledged"] > 0 for r in results), results  # the kill came mid-stream
    assert totals["lost_acks"] == 0, results
    assert totals["partial"] == 0, results
    assert totals["found"] >= totals["acknowledged"], results


# ---------------------------------------------------------------- (b) kill -9 the worker mid-training


def test_kill9_mid_training_keeps_the_active_model_and_reruns_the_job(store_url, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    on_sqlite = store_url.startswith("sqlite")
    env = service.service_env(store_url, data_dir, SEMREC_JOB_LEASE_SECONDS="3", SEMREC_REFRESH_SECONDS="0.5")
    processes: list[service.Process] = []

    def start_api(**extra) -> service.Api:
        processes.append(service.Api(env | extra, tmp_path / "api.log").wait_ready())
        return processes[-1]

    def start_worker() -> service.Process:
        processes.append(service.start_worker(env, tmp_path / "worker.log"))
        return processes[-1]

    try:
        api = start_api()
        worker = None if on_sqlite else start_worker()  # on SQLite the API process runs the jobs
        with api.client() as http:
            service.seed_dataset(http)
            trained = service.train(http, epochs=5)
            assert trained["status"] == "succeeded", trained
            first = http.get("/v1/models").json()["models"][0]
            assert first["active"]
            assert served_version(http) == first["version"]

            job_id = http.post("/v1/training/jobs", json=service.catchable_training(trained)).json()["job_id"]
            service.wait_job(http, job_id, until=service.in_epochs)
            (api if on_sqlite else worker).kill9()
        # Debris as a crash mid-write would leave it: serving must never read a temp file.
        debris = data_dir / "models" / f".{first['version']}.npz.crash.tmp"
        debris.write_bytes(b"PK\x03\x04 half a zip")

        if on_sqlite:  # back up serving only, so that nothing re-runs the job before we have looked
            api = start_api(SEMREC_EMBEDDED_WORKER="false")
        with api.client() as http:
            assert http.get(f"/v1/jobs/{job_id}").json()["status"] == "running"  # nobody has taken it up yet
            assert served_version(http) == first["version"]
            check_artifacts(store_url, data_dir, active=first["version"])

            # A worker comes back: the lapsed lease puts the job back in the queue and it runs to the end.
            if on_sqlite:
                api.terminate()
                api = start_api()
            else:
                start_worker()
        with api.client() as http:
            job = service.wait_job(http, job_id)
            assert (job["status"], job["attempts"]) == ("succeeded", 2), job
            second = job["result"]["model_version"]
            assert second != first["version"]
            assert served_version(http, until=second) == second
            check_artifacts(store_url, data_dir, active=second)
        assert debris.exists()  # left alone: nothing names it
    finally:
        for p in processes:
            p.terminate()


def served_version(http: httpx.Client, until: str | None = None, timeout: float = 60) -> str:
    """The model version recommendations come from, once serving has loaded one (or ``until`` one)."""
    deadline = time.monotonic() + timeout
    while True:
        r = http.get("/v1/users/u1/recommendations")
        assert r.status_code == 200, r.text
        version = r.json()["model_version"]
        if version is not None and until in (None, version):
            return version
        assert time.monotonic() < deadline, r.json()
        time.sleep(0.2)


def check_artifacts(database_url: str, data_dir: Path, active: str) -> None:
    """Every recorded version names a final file (no temp name) that loads whole, with both its indexes."""
    engine = create_engine(Settings(database_url=database_url, _env_file=None).sqlalchemy_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(ModelVersion.version, ModelVersion.artifact_path, ModelVersion.active)).all()
    finally:
        engine.dispose()
    assert [v for v, _, is_active in rows if is_active] == [active]
    for version, artifact, _ in rows:
        path = Path(artifact)
        assert path.parent == data_dir / "models" and not path.name.startswith(".") and path.suffix == ".npz"
        assert all(p.exists() for p in serving.index_paths(path)), version
        model = serving.load(version, path, exact_max=50_000)
        assert len(model.index) == model.n_items == len(model.trained.item_ids)


# ---------------------------------------------------------------- atomic artifact writes


def _trained(n_items: int = 5, seed: int = 0) -> versions.Trained:
    rng = np.random.default_rng(seed)
    factors = Factors(objective="ranking", mu=0.0, history=[], user_factors=rng.random((3, 4), dtype=np.float32),
                      user_bias=np.zeros(3, np.float32), item_factors=rng.random((n_items, 4), dtype=np.float32),
                      item_bias=np.zeros(n_items, np.float32), item_map=None, item_text_mean=None, user_map=None,
                      user_text_mean=None)
    return versions.Trained(factors, ["u0", "u1", "u2"], [f"i{n}" for n in range(n_items)], "test-encoder")


def test_artifact_writes_sync_the_file_then_rename_then_sync_the_folder(tmp_path, monkeypatch):
    """The order that makes a write survive a crash or power cut: fsync(temp) < rename < fsync(folder)."""
    steps: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        steps.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        steps.append(("rename", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    folder = tmp_path / "models"
    versions.save(folder / "v1.npz", _trained())
    ItemIndex.build(np.eye(4, dtype=np.float32)).save(folder / "v1.faiss")
    for name in ("v1.npz", "v1.faiss"):
        file_sync = next(n for n, (kind, target) in enumerate(steps)
                         if kind == "fsync" and Path(target).name.startswith(f".{name}."))
        rename = steps.index(("rename", str(folder / name)))
        assert file_sync < rename and ("fsync", str(folder)) in steps[rename + 1:], steps
    assert sorted(p.name for p in folder.iterdir()) == ["v1.faiss", "v1.npz"]


CRASH_BEFORE_RENAME = """
import os, signal, sys
import numpy as np
sys.path.insert(0, {root!r})
from pathlib import Path
from app.index.faiss_index import ItemIndex
from tests.e2e.test_crash import _trained
from app.model import versions

os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # die with the new bytes written, not renamed
if sys.argv[1] == "npz":
    versions.save(Path(sys.argv[2]), _trained(n_items=9, seed=1))
else:
    ItemIndex.build(np.ones((9, 4), np.float32)).save(Path(sys.argv[2]))
"""


@pytest.mark.parametrize("kind", ["npz", "faiss"])
def test_kill9_while_writing_an_artifact_leaves_the_old_file_whole(kind, tmp_path):
    path = tmp_path / "models" / f"v1.{kind}"
    if kind == "npz":
        versions.save(path, _trained())
    else:
        ItemIndex.build(np.eye(5, 4, dtype=np.float32)).save(path)
    before = path.read_bytes()
    crash = subprocess.run([sys.executable, "-c", textwrap.dedent(CRASH_BEFORE_RENAME.format(root=str(ROOT))),
                            kind, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert crash.returncode == -9, crash.stderr
    assert path.read_bytes() == before  # the name serving reads still holds the old, whole file
    assert [p.name for p in path.parent.glob(".*.tmp")], "the crash left its temp file (and nothing else)"
    if kind == "npz":
        assert versions.load(path).item_ids == [f"i{n}" for n in range(5)]
    else:
        assert len(ItemIndex.load(path)) == 5
