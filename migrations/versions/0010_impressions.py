"""impressions: every answer shown with its items (off the request path, app.measure; read per item through the
view ``impressions``), events attributed to them, and each activation of a model version (the online curves
mark them)

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
# Each answer's items, one row per item at its 1-based position, the item's team (interleaving) as its variant.
IMPRESSIONS_VIEW = {
    "sqlite": "CREATE VIEW impressions AS SELECT a.recommendation_id AS recommendation_id, j.key + 1 AS position, "
              "j.value AS item_id, a.user_id AS user_id, a.session_id AS session_id, "
              "a.model_version AS model_version, a.route AS route, "
              "COALESCE(json_extract(a.teams, '$[' || j.key || ']'), a.variant) AS variant, "
              "a.experiment_id AS experiment_id, a.shown_at AS shown_at "
              "FROM impression_answers AS a, json_each(a.items) AS j",
    "postgresql": "CREATE VIEW impressions AS SELECT a.recommendation_id, CAST(t.n AS SMALLINT) AS position, "
                  "t.item AS item_id, a.user_id, a.session_id, a.model_version, a.route, "
                  "COALESCE(CAST(a.teams AS JSON) ->> CAST(t.n - 1 AS INTEGER), a.variant) AS variant, "
                  "a.experiment_id, a.shown_at FROM impression_answers AS a "
                  "CROSS JOIN LATERAL json_array_elements_text(CAST(a.items AS JSON)) WITH ORDINALITY AS t(item, n)",
}


def upgrade() -> None:
    op.create_table(
        "impression_answers",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("recommendation_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=True),
        sa.Column("session_id", sa.String(128), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("route", sa.String(32), nullable=False),
        sa.Column("variant", sa.String(64), nullable=True),
        sa.Column("experiment_id", sa.String(128), nullable=True),
        sa.Column("shown_at", STAMP, nullable=False),
        sa.Column("items", sa.Text, nullable=False),
        sa.Column("teams", sa.Text, nullable=True),
    )
    op.create_index("ix_impression_answers_recommendation_id", "impression_answers", ["recommendation_id"])
    op.create_index("ix_impression_answers_user_shown", "impression_answers", ["user_id", "shown_at"],
                    sqlite_where=sa.text("user_id IS NOT NULL"), postgresql_where=sa.text("user_id IS NOT NULL"))
    op.create_index("ix_impression_answers_shown_at", "impression_answers", ["shown_at"])
    op.execute(IMPRESSIONS_VIEW[op.get_bind().dialect.name])
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
    op.execute("DROP VIEW impressions")
    op.drop_index("ix_impression_answers_shown_at", "impression_answers")
    op.drop_index("ix_impression_answers_user_shown", "impression_answers")
    op.drop_index("ix_impression_answers_recommendation_id", "impression_answers")
    op.drop_table("impression_answers")
