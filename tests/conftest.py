"""Fixtures: every store test runs on SQLite and on PostgreSQL, through the real ASGI app."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Test processes side by side (scripts/test.sh runs two): one thread each for OpenMP (torch, FAISS) and BLAS,
    # here and in the servers the tests spawn (they inherit the environment). Threads of two processes that
    # each take every core wait on one another, and a training runs several times slower than on one thread.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.core.config import Settings
from app.encoder.model import Encoder
from app.main import create_app

# A server with trust auth on 127.0.0.1 (CI starts it); each test session makes and drops its own database.
PG_ADMIN_URL = os.environ.get("SEMREC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
WRITE_KEY, READ_KEY = "test-write-key", "test-read-key"
TABLES = ("impression_users", "impression_buckets", "impression_answers", "model_activations", "conversation_turns",
          "conversations", "generated_reviews", "interactions", "embeddings", "jobs",
          "item_pairs", "item_hours", "model_versions", "item_counts", "items", "users", "rules", "experiments")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    name = f"semrec_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'semrec.db'}"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        api_keys=f"{WRITE_KEY}:write,{READ_KEY}:read",
        _env_file=None,
    )


def clean_store(database_url: str) -> None:
    """Empty what earlier tests left in a store (the session's PostgreSQL database is shared by all of them),
    for a test that starts its own server on it."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            present = set(inspect(conn).get_table_names())
            for table in TABLES:
                if table in present:
                    conn.execute(text(f"DELETE FROM {table}"))
            if "serving_epoch" in present:
                conn.execute(text("UPDATE serving_epoch SET epoch = epoch + 1"))
    finally:
        engine.dispose()


@contextmanager
def open_client(settings: Settings) -> Iterator[TestClient]:
    """The real app (lifespan, migrations, middleware) on a clean store, with a write key."""
    app = create_app(settings)
    with TestClient(app, headers={"X-API-Key": WRITE_KEY}) as c:
        with app.state.engine.begin() as conn:
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(text("UPDATE serving_epoch SET epoch = epoch + 1"))
        # Serving read the store at start-up, before the cleaning: it forgets what it read (rows deleted outright
        # are not seen by its incremental reads) and reads the clean store afresh.
        app.state.recommender.served.state = None
        app.state.carousels.counts = None
        yield c


@pytest.fixture
def client(settings) -> Iterator[TestClient]:
    with open_client(settings) as c:
        yield c


@pytest.fixture
def sessions(client):
    return client.app.state.sessions

@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory) -> str:
    """A 2-layer GPT-2 with a byte-level BPE tokenizer trained here, saved and loaded by folder path."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    corpus = [
        "trail running shoes with a grippy sole", "sneakers for jogging on mountain paths",
        "espresso machine with a milk frother", "waterproof hiking jacket", "a gift card for any occasion",
    ] * 20
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=300, min_frequency=1, special_tokens=["<|endoftext|>"])
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                  unk_token="<|endoftext|>")
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)  # with an LM head: the encoder must not use it
    return str(folder)


@pytest.fixture(scope="session")
def packaged_encoder() -> Encoder:
    return Encoder(device="cpu")
