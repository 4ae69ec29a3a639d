"""The migrations are the schema: they build every table the models describe, on both stores, and go back down."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.core.config import Settings
from app.store import migrate
from app.store.db import make_engine
from app.store.models import Base


def test_migrations_match_models(client):
    engine = client.app.state.engine
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_upgrade_is_repeatable_and_reversible(tmp_path):
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}", data_dir=tmp_path, _env_file=None))
    migrate.upgrade(engine)
    migrate.upgrade(engine)  # a second start changes nothing
    assert {"users", "items", "interactions", "embeddings", "jobs", "model_versions"} <= set(
        inspect(engine).get_table_names()
    )
    from alembic import command

    command.downgrade(migrate.alembic_config(str(engine.url)), "base")
    assert set(inspect(create_engine(str(engine.url))).get_table_names()) == {"alembic_version"}


def test_indexes_the_queries_need(client):
    insp = inspect(client.app.state.engine)
    interaction_indexes = {tuple(ix["column_names"]) for ix in insp.get_indexes("interactions")}
    assert ("user_id", "ts") in interaction_indexes
    assert ("item_id",) in interaction_indexes
    uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("interactions")}
    uniques |= {tuple(ix["column_names"]) for ix in insp.get_indexes("interactions") if ix["unique"]}
    assert ("event_id",) in uniques
    assert ("recommendation_id",) in interaction_indexes  # the online figures' join
    impression_indexes = {tuple(ix["column_names"]) for ix in insp.get_indexes("impression_answers")}
    assert {("recommendation_id",), ("shown_at",),
            ("experiment_id", "recommendation_id")} <= impression_indexes
    assert ("user_id", "shown_at") not in impression_indexes  # written in bulk, in a table of its own
    by_user = {tuple(ix["column_names"]) for ix in insp.get_indexes("impression_users")}
    assert ("bucket", "user_id", "shown_at") in by_user  # a copy writes into the newest bucket's part only
    assert "impressions" in insp.get_view_names()  # one row per item shown, read by attribution and the figures


def test_sqlite_store_is_private(tmp_path):
    import stat

    db = tmp_path / "data" / "semrec.db"
    make_engine(Settings(data_dir=tmp_path / "data", _env_file=None)).dispose()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_the_per_user_index_is_made_again_in_buckets_and_back(tmp_path):
    """Migration 0013 rebuilds the per-user index from the log: every answer with a user gets its entry in its
    bucket, each bucket its time span, and the mark reaches the last answer; going back restores 0012's index."""
    from alembic import command
    from sqlalchemy import text

    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}", data_dir=tmp_path, _env_file=None))
    config = migrate.alembic_config(str(engine.url))
    command.upgrade(config, "0012")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO impression_answers (id, recommendation_id, user_id, route, shown_at, items) "
                          "VALUES (1, 'r1', 'u1', 'recommendations', '2026-12-01 10:00:00.000000', '[\"a\"]'), "
                          "(2, 'r2', NULL, 'similar', '2026-12-02 10:00:00.000000', '[\"a\"]'), "
                          "(100001, 'r3', 'u2', 'recommendations', '2026-12-03 10:00:00.000000', '[\"a\"]')"))
    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT answer_id, bucket, user_id FROM impression_users ORDER BY answer_id")
                            ).all() == [(1, 0, "u1"), (100001, 1, "u2")]
        assert conn.execute(text("SELECT bucket, first_shown, last_shown FROM impression_buckets ORDER BY bucket")
                            ).all() == [(0, "2026-12-01 10:00:00.000000", "2026-12-01 10:00:00.000000"),
                                        (1, "2026-12-03 10:00:00.000000", "2026-12-03 10:00:00.000000")]
        assert conn.execute(text("SELECT answer_id FROM impression_users_mark")).scalar() == 100001
    command.downgrade(config, "0012")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT answer_id, user_id FROM impression_users ORDER BY answer_id")
                            ).all() == [(1, "u1"), (100001, "u2")]
        assert "impression_buckets" not in inspect(conn).get_table_names()
