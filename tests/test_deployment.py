"""No Docker engine runs here: check the Dockerfile and compose file by reading them against the project."""

import re
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
