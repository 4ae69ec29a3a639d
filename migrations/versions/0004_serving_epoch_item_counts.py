"""serving epoch and per-item event counts: read-your-writes on every API process, popularity kept up
incrementally instead of rescanning the events

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "serving_epoch",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("epoch", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO serving_epoch (id, epoch) VALUES (1, 0)")
    op.create_table(
        "item_counts",
        sa.Column("item_id", sa.String(128), sa.ForeignKey("items.item_id"), primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_item_counts_updated_at", "item_counts", ["updated_at"])
    bind = op.get_bind()
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":  # the store keeps naive UTC text there (app.store.models.UTCDateTime)
        now = now.replace(tzinfo=None)
    backfill = sa.text("INSERT INTO item_counts (item_id, events, updated_at) "
                       "SELECT item_id, count(*), :now FROM interactions GROUP BY item_id")
    bind.execute(backfill.bindparams(sa.bindparam("now", type_=sa.DateTime(timezone=True))), {"now": now})


def downgrade() -> None:
    op.drop_index("ix_item_counts_updated_at", "item_counts")
    op.drop_table("item_counts")
    op.drop_table("serving_epoch")
