"""No Docker engine runs here: check the Dockerfile and compose file by reading them against the project."""

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from app.core.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_compose_services_and_health():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"api", "worker", "postgres"} <= set(services)
    assert services["worker"]["command"] == ["python", "-m", "app.worker"]
    assert (ROOT / "app" / "worker" / "__main__.py").exists()
    assert "healthcheck" in services["postgres"]
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["api"]["command"][:3] == ["python", "-m", "app"]
    assert (ROOT / "app" / "__main__.py").exists()
    # Migrations run once, in the API; workers start when it is healthy and do not migrate themselves.
    assert services["worker"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert services["worker"]["environment"]["SEMREC_MIGRATE_ON_START"] == "false"
    assert "HEALTHCHECK" in (ROOT / "Dockerfile").read_text()
    for volume in services["postgres"]["volumes"] + services["api"]["volumes"]:
        assert volume.split(":")[0] in compose["volumes"]


def test_compose_variables_are_settings():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    fields = {f"SEMREC_{name.upper()}" for name in Settings.model_fields}
    for service in ("api", "worker"):
        names = set(compose["services"][service]["environment"])
        assert names <= fields, names - fields
    assert compose["services"]["worker"]["environment"]["SEMREC_DATABASE_URL"] == \
        compose["services"]["api"]["environment"]["SEMREC_DATABASE_URL"]
    env = compose["services"]["api"]["environment"]
    url = env["SEMREC_DATABASE_URL"]
    pg = compose["services"]["postgres"]["environment"]
    assert url == (f"postgresql+psycopg://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}"
                   f"@postgres:5432/{pg['POSTGRES_DB']}")
    example = (ROOT / ".env.example").read_text()
    assert "SEMREC_API_KEYS=" in example


def test_dockerfile_copies_what_exists_and_runs_unprivileged():
    text = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", text, flags=re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
    assert re.search(r"^USER (?!root)\S+", text, flags=re.M)
    assert "torch==2.13.0" in text and "torch==2.13.0" in (ROOT / "pyproject.toml").read_text()
    assert "HF_HUB_OFFLINE=1" in text
    cmd = re.search(r'^CMD \["python", "-m", "(\w+)"', text, flags=re.M)
    assert cmd and (ROOT / cmd.group(1) / "__main__.py").exists()


def test_the_built_wheel_carries_its_migrations_and_migrates_a_fresh_store(tmp_path):
    """``pip install .`` then ``python -m app``: the wheel holds the migrations (``app/store/migrations`` links to
    ``migrations/``), and a store is migrated from the installed package alone, away from the source tree. Its
    build warns of no deprecated metadata (setuptools deprecated the ``project.license`` table)."""
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "wheel")], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "Deprecat" not in built.stdout + built.stderr
    installed = tmp_path / "site"
    zipfile.ZipFile(next((tmp_path / "wheel").glob("semrec-*.whl"))).extractall(installed)
    assert (installed / "app/store/migrations/versions/0001_initial_schema.py").is_file()
    script = ("import sqlalchemy as sa; from app.store import migrate; "
              "e = sa.create_engine('sqlite:///' + __import__('sys').argv[1]); migrate.upgrade(e); "
              "print(migrate.MIGRATIONS_DIR); print(sorted(sa.inspect(e).get_table_names()))")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "fresh.db")], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(installed)}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    where, tables = done.stdout.splitlines()[-2:]
    assert where.startswith(str(installed))  # the installed package's migrations, not the source tree's
    assert "'items'" in tables and "'interactions'" in tables and "'alembic_version'" in tables
