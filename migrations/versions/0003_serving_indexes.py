"""indexes for serving refreshes: items and embeddings changed since a time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_items_updated_at", "items", ["updated_at"])
    op.create_index("ix_embeddings_created_at", "embeddings", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_embeddings_created_at", "embeddings")
    op.drop_index("ix_items_updated_at", "items")
