"""experiments: online A/B and interleaving experiments between variants of the lists (app.experiments); their
figures are read from the impressions they made, never stored

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMP = sa.DateTime(timezone=True)
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.String(128), primary_key=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("routes", JSONType, nullable=False),
        sa.Column("variants", JSONType, nullable=False),
        sa.Column("min_lift", sa.Float, nullable=False),
        sa.Column("base_rate", sa.Float, nullable=True),
        sa.Column("planned", sa.Integer, nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("starts_at", STAMP, nullable=True),
        sa.Column("ends_at", STAMP, nullable=True),
        sa.Column("stopped_at", STAMP, nullable=True),
    )
    # The figures of one experiment: its impressions, by answer.
    op.create_index("ix_impression_answers_experiment", "impression_answers",
                    ["experiment_id", "recommendation_id"],
                    sqlite_where=sa.text("experiment_id IS NOT NULL"),
                    postgresql_where=sa.text("experiment_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_impression_answers_experiment", "impression_answers")
    op.drop_table("experiments")
