"""generated reviews: text written by the generator model for items with few real reviews, kept apart

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "generated_reviews",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(128), sa.ForeignKey("items.item_id", ondelete="CASCADE"), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("model", sa.String(512), nullable=False),
        sa.Column("prompt_version", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_generated_reviews_item_id", "generated_reviews", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_generated_reviews_item_id", table_name="generated_reviews")
    op.drop_table("generated_reviews")
