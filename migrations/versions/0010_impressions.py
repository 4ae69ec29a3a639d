"""impressions: every item each answer showed (off the request path, app.measure), events attributed to them,
and each activation of a model version (the online curves mark them)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMP = sa.DateTime(timezone=True)
# BIGINT autoincrement on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "impressions",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("recommendation_id", sa.String(64), nullable=False),
        sa.Column("position", sa.SmallInteger, nullable=False),
        sa.Column("item_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=True),
        sa.Column("session_id", sa.String(128), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("route", sa.String(32), nullable=False),
        sa.Column("variant", sa.String(64), nullable=True),
        sa.Column("experiment_id", sa.String(128), nullable=True),
        sa.Column("shown_at", STAMP, nullable=False),
    )
    op.create_index("ix_impressions_recommendation_id", "impressions", ["recommendation_id"])
    op.create_index("ix_impressions_user_item_shown", "impressions", ["user_id", "item_id", "shown_at"],
                    sqlite_where=sa.text("user_id IS NOT NULL"), postgresql_where=sa.text("user_id IS NOT NULL"))
    op.create_index("ix_impressions_shown_at", "impressions", ["shown_at"])
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("recommendation_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("attributed_by", sa.String(32), nullable=True))
        batch.create_index("ix_interactions_recommendation_id", ["recommendation_id"])
    op.create_table(
        "model_activations",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("at", STAMP, nullable=False),
    )
    op.create_index("ix_model_activations_at", "model_activations", ["at"])
    # The version active now was activated when it was made, as far as the store can tell.
    op.execute("INSERT INTO model_activations (version, at) SELECT version, created_at FROM model_versions "
               "WHERE active = true")


def downgrade() -> None:
    op.drop_index("ix_model_activations_at", "model_activations")
    op.drop_table("model_activations")
    with op.batch_alter_table("interactions") as batch:
        batch.drop_index("ix_interactions_recommendation_id")
        batch.drop_column("attributed_by")
        batch.drop_column("recommendation_id")
    op.drop_index("ix_impressions_shown_at", "impressions")
    op.drop_index("ix_impressions_user_item_shown", "impressions")
    op.drop_index("ix_impressions_recommendation_id", "impressions")
    op.drop_table("impressions")
