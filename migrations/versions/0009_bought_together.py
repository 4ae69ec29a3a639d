"""bought together and trending: co-purchase counts per item pair and event counts per item and hour, kept up
by ingestion; backfilled here from the stored events with the rule ingestion applies (app.store.baskets)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from app.store import baskets

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("item_counts") as batch:
        batch.add_column(sa.Column("pairs", sa.BigInteger, nullable=False, server_default="0"))
    op.create_table(
        "item_pairs",
        sa.Column("item_id", sa.String(128), primary_key=True),
        sa.Column("partner_id", sa.String(128), primary_key=True),
        sa.Column("pairs", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "item_hours",
        sa.Column("item_id", sa.String(128), primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("updated_at", STAMP, nullable=False),
    )
    op.create_index("ix_item_hours_updated_at", "item_hours", ["updated_at"])
    _backfill(op.get_bind())


def _backfill(bind) -> None:
    """The stored events' pairs and hours, one shopper at a time (the events streamed in shopper order)."""
    from app.core.config import get_settings  # the window ingestion will use from now on

    window_s = get_settings().basket_hours * 3600
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":  # the store keeps naive UTC text there (app.store.models.UTCDateTime)
        now = now.replace(tzinfo=None)
    hours, pairs, user, history = Counter(), Counter(), None, []
    rows = bind.execute(sa.text("SELECT id, user_id, item_id, type, ts FROM interactions ORDER BY user_id, id")
                        .execution_options(yield_per=10_000))
    for id_, user_id, item_id, type_, ts in rows:
        ts = _utc(ts)
        hours[(item_id, baskets.hour_of(ts))] += 1
        if user_id != user:
            pairs.update(baskets.pairs(history, window_s))
            user, history = user_id, []
        if type_ in baskets.BOUGHT:
            history.append(baskets.Bought(id_, user_id, item_id, ts))
    pairs.update(baskets.pairs(history, window_s))
    stamp = sa.bindparam("now", type_=STAMP)
    if pairs:
        bind.execute(sa.text("INSERT INTO item_pairs (item_id, partner_id, pairs) VALUES (:a, :b, :n)"),
                     [{"a": a, "b": b, "n": n} for (a, b), n in sorted(pairs.items())])
        degrees = Counter()
        for (a, _), n in pairs.items():
            degrees[a] += n
        bind.execute(sa.text("UPDATE item_counts SET pairs = :n WHERE item_id = :a"),
                     [{"a": a, "n": n} for a, n in sorted(degrees.items())])
    if hours:
        bind.execute(sa.text("INSERT INTO item_hours (item_id, hour, events, updated_at) VALUES (:a, :h, :n, :now)")
                     .bindparams(stamp), [{"a": a, "h": h, "n": n, "now": now} for (a, h), n in sorted(hours.items())])


def _utc(ts) -> datetime:
    if isinstance(ts, str):  # SQLite hands back its text
        ts = datetime.fromisoformat(ts)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


def downgrade() -> None:
    op.drop_index("ix_item_hours_updated_at", "item_hours")
    op.drop_table("item_hours")
    op.drop_table("item_pairs")
    with op.batch_alter_table("item_counts") as batch:
        batch.drop_column("pairs")
