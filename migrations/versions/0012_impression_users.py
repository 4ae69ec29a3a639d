"""impression users: the impressions by user in a table of their own, written in bulk (app.store.impression_users)
instead of an index written with each answer; impression ids never reused on SQLite (AUTOINCREMENT), since the
index's mark is an id

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMP = sa.DateTime(timezone=True)
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# As migration 0010 made it (SQLite's): the view is made again around the table's rebuild.
SQLITE_VIEW = ("CREATE VIEW impressions AS SELECT a.recommendation_id AS recommendation_id, j.key + 1 AS position, "
               "j.value AS item_id, a.user_id AS user_id, a.session_id AS session_id, "
               "a.model_version AS model_version, a.route AS route, "
               "COALESCE(json_extract(a.teams, '$[' || j.key || ']'), a.variant) AS variant, "
               "a.experiment_id AS experiment_id, a.shown_at AS shown_at "
               "FROM impression_answers AS a, json_each(a.items) AS j")
SQLITE_INDEXES = (  # the table's indexes that stay, made again after its rebuild
    ("ix_impression_answers_recommendation_id", ["recommendation_id"], None),
    ("ix_impression_answers_shown_at", ["shown_at"], None),
    ("ix_impression_answers_experiment", ["experiment_id", "recommendation_id"], "experiment_id IS NOT NULL"),
)


def upgrade() -> None:
    op.drop_index("ix_impression_answers_user_shown", "impression_answers")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_answers(autoincrement=True)
    op.create_table(
        "impression_users",
        sa.Column("answer_id", BigIntPK, primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("shown_at", STAMP, nullable=False),
    )
    op.create_index("ix_impression_users_user_shown", "impression_users", ["user_id", "shown_at"])
    op.create_table(
        "impression_users_mark",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("answer_id", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO impression_users (answer_id, user_id, shown_at) SELECT id, user_id, shown_at "
               "FROM impression_answers WHERE user_id IS NOT NULL ORDER BY user_id, shown_at")
    op.execute("INSERT INTO impression_users_mark (id, answer_id) SELECT 1, COALESCE(MAX(id), 0) "
               "FROM impression_answers")


def downgrade() -> None:
    op.drop_table("impression_users_mark")
    op.drop_index("ix_impression_users_user_shown", "impression_users")
    op.drop_table("impression_users")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_answers(autoincrement=False)
    op.create_index("ix_impression_answers_user_shown", "impression_answers", ["user_id", "shown_at"],
                    sqlite_where=sa.text("user_id IS NOT NULL"), postgresql_where=sa.text("user_id IS NOT NULL"))


def _rebuild_sqlite_answers(autoincrement: bool) -> None:
    """SQLite sets AUTOINCREMENT only when a table is made: the table is made again, with its view and indexes."""
    op.execute("DROP VIEW impressions")
    for name, _, _ in SQLITE_INDEXES:
        op.drop_index(name, "impression_answers")
    with op.batch_alter_table("impression_answers", recreate="always",
                              table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass
    for name, columns, where in SQLITE_INDEXES:
        op.create_index(name, "impression_answers", columns, sqlite_where=sa.text(where) if where else None)
    op.execute(SQLITE_VIEW)
