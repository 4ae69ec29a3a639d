"""One settings object, read from ``SEMREC_*`` environment variables (and an optional ``.env`` file)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEMREC_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("./var"), description="Model versions, indexes and the SQLite file live here.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means a SQLite file in data_dir.")
    api_keys: str = Field("", description="Comma-separated key:role pairs, role read or write.")
    encoder_model: str = Field("", description="Model name or local folder; empty means the packaged model.")
    device: Literal["auto", "cpu", "cuda"] = "auto"

    migrate_on_start: bool = Field(True, description="Upgrade the schema to head when the service starts.")
    max_body_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Larger request bodies get 413.")
    max_batch: int = Field(10_000, ge=1, description="Most records in one batch request.")
    db_pool_size: int = Field(8, ge=1)

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, url: str) -> str:
        """Accept the URLs operators paste (postgres://, postgresql://) and pin the psycopg 3 driver."""
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'semrec.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
