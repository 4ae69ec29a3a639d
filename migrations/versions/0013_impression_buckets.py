"""impression buckets: the per-user index of the impressions ordered by bucket (a run of 100,000 answer ids)
before the user, so each copy writes into the newest bucket's part of it (app.store.impression_users), with
each bucket's time span in impression_buckets; the index is derived from the log, so it is made again from it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMP = sa.DateTime(timezone=True)
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BUCKET_ANSWERS = 100_000  # app.store.impression_users.BUCKET_ANSWERS when this was written


def upgrade() -> None:
    op.drop_index("ix_impression_users_user_shown", "impression_users")
    op.drop_table("impression_users")
    op.create_table(
        "impression_users",
        sa.Column("answer_id", BigIntPK, primary_key=True, autoincrement=False),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("shown_at", STAMP, nullable=False),
    )
    op.create_index("ix_impression_users_bucket_user", "impression_users", ["bucket", "user_id", "shown_at"])
    op.create_table(
        "impression_buckets",
        sa.Column("bucket", BigIntPK, primary_key=True, autoincrement=False),
        sa.Column("first_shown", STAMP, nullable=False),
        sa.Column("last_shown", STAMP, nullable=False),
    )
    op.execute(f"INSERT INTO impression_users (answer_id, bucket, user_id, shown_at) "
               f"SELECT id, id / {BUCKET_ANSWERS}, user_id, shown_at FROM impression_answers "
               f"WHERE user_id IS NOT NULL ORDER BY id / {BUCKET_ANSWERS}, user_id, shown_at")
    op.execute("INSERT INTO impression_buckets (bucket, first_shown, last_shown) "
               "SELECT bucket, MIN(shown_at), MAX(shown_at) FROM impression_users GROUP BY bucket")
    _mark_every_answer()


def downgrade() -> None:
    op.drop_table("impression_buckets")
    op.drop_index("ix_impression_users_bucket_user", "impression_users")
    op.drop_table("impression_users")
    op.create_table(
        "impression_users",
        sa.Column("answer_id", BigIntPK, primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("shown_at", STAMP, nullable=False),
    )
    op.create_index("ix_impression_users_user_shown", "impression_users", ["user_id", "shown_at"])
    op.execute("INSERT INTO impression_users (answer_id, user_id, shown_at) SELECT id, user_id, shown_at "
               "FROM impression_answers WHERE user_id IS NOT NULL ORDER BY user_id, shown_at")
    _mark_every_answer()


def _mark_every_answer() -> None:
    """The index made again holds every answer: the mark goes to the last."""
    op.execute("UPDATE impression_users_mark SET answer_id = (SELECT COALESCE(MAX(id), 0) FROM impression_answers)")
