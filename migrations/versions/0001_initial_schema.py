"""initial schema: users, items, interactions, embeddings, jobs, model versions

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("profile_text", sa.Text()),
        sa.Column("attributes", JSON, nullable=False),
        ts("created_at"),
        ts("updated_at"),
    )
    op.create_table(
        "items",
        sa.Column("item_id", sa.String(128), primary_key=True),
        sa.Column("title", sa.Text()),
        sa.Column("description", sa.Text()),
        sa.Column("category", sa.String(256)),
        sa.Column("price", sa.Float()),
        sa.Column("attributes", JSON, nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        ts("deleted_at", nullable=True),
        ts("created_at"),
        ts("updated_at"),
    )
    op.create_index("ix_items_category", "items", ["category"])
    op.create_table(
        "interactions",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(128), sa.ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
        sa.Column("item_id", sa.String(128), sa.ForeignKey("items.item_id"), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("value", sa.Float()),
        sa.Column("text", sa.Text()),
        ts("ts"),
        sa.Column("event_id", sa.String(128), unique=True),
        ts("received_at"),
    )
    op.create_index("ix_interactions_user_ts", "interactions", ["user_id", "ts"])
    op.create_index("ix_interactions_item", "interactions", ["item_id"])
    op.create_table(
        "embeddings",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("owner_kind", sa.String(8), nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("model", sa.String(512), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        ts("created_at"),
    )
    op.create_index("ux_embeddings_owner_model", "embeddings", ["owner_kind", "owner_id", "model"], unique=True)
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("result", JSON),
        sa.Column("error", sa.Text()),
        sa.Column("worker_id", sa.String(128)),
        ts("lease_expires_at", nullable=True),
        ts("created_at"),
        ts("started_at", nullable=True),
        ts("finished_at", nullable=True),
    )
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"])
    op.create_table(
        "model_versions",
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("job_id", sa.String(36)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("artifact_path", sa.Text()),
        ts("created_at"),
    )
    op.create_index("ix_model_versions_active", "model_versions", ["active"])


def downgrade() -> None:
    for table in ("model_versions", "jobs", "embeddings", "interactions", "items", "users"):
        op.drop_table(table)
