"""Tables of the store. The schema itself is made only by the Alembic migrations in ``migrations/``."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_LENGTH = 128
RECOMMENDATION_ID_LENGTH = 64
CONTEXT_LENGTH = 64

# JSONB on PostgreSQL so ON CONFLICT ... WHERE can compare attribute objects; plain JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")
# BIGINT autoincrement on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    profile_text: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Item(Base):
    __tablename__ = "items"

    item_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    # NULL for a bare item created by an interaction before the catalog synced it.
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(256), index=True)
    price: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    # Soft delete: the item is never recommended again, its interaction history stays.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Every change (deletion too) moves it: serving refreshes its catalog view by it.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Interaction(Base):
    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.user_id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("items.item_id"))
    type: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(Text)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    event_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), unique=True)
    # The event's context (app.context): where and on what; its time is ``ts``.
    location: Mapped[str | None] = mapped_column(String(CONTEXT_LENGTH))
    device: Mapped[str | None] = mapped_column(String(CONTEXT_LENGTH))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The answer the event is credited to (app.measure.attribution): the one the storefront named, or the latest
    # that showed the item to the user; ``attributed_by`` says which rule ("recommendation_id" | "last_shown"),
    # None where a named answer was unknown or out of the window (the id is kept) or none applied.
    recommendation_id: Mapped[str | None] = mapped_column(String(RECOMMENDATION_ID_LENGTH), index=True)
    attributed_by: Mapped[str | None] = mapped_column(String(32))  # "recommendation_id" is 17 characters

    __table_args__ = (
        # A user's history, newest first (GET .../interactions, fold-in at serving time).
        Index("ix_interactions_user_ts", "user_id", "ts"),
        Index("ix_interactions_item", "item_id"),
    )


class Embedding(Base):
    """A semantic vector of a user's or item's text, made by one encoder model from text with a known hash."""

    __tablename__ = "embeddings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    owner_kind: Mapped[str] = mapped_column(String(8))  # "user" | "item"
    owner_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    model: Mapped[str] = mapped_column(String(512))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian
    text_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (Index("ux_embeddings_owner_model", "owner_kind", "owner_id", "model", unique=True),)


class Job(Base):
    """Long work (embedding, training) as a first-class record that reports its progress."""

    __tablename__ = "jobs"

    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    worker_id: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_jobs_status_created", "status", "created_at"),)


class ModelVersion(Base):
    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str | None] = mapped_column(String(36))
    active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    artifact_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServingEpoch(Base):
    """One row whose counter every catalog write, item vector write and activation bumps in its own
    transaction: an API process that reads a newer epoch than its served state refreshes before answering."""

    __tablename__ = "serving_epoch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger)


class ItemCount(Base):
    """Events per item, kept up by each ingested batch (and erasure): popularity without rescanning events."""

    __tablename__ = "item_counts"

    item_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("items.item_id"), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    # Co-purchases the item is in (the sum of its ``item_pairs``): what chance expects of its pairs.
    pairs: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ItemPair(Base):
    """How often two items were bought together (app.store.baskets), both directions, kept up by each ingested
    batch (and erasure): bought-together reads one item's row range, never the events. No foreign keys: rows are
    counts written in bulk, and items are never removed (a deletion is soft)."""

    __tablename__ = "item_pairs"

    item_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    pairs: Mapped[int] = mapped_column(BigInteger)


class ItemHour(Base):
    """Events per item and hour (hours since 1970, UTC), kept up by each ingested batch (and erasure): trending
    reads the rows changed since its last read, never the events."""

    __tablename__ = "item_hours"

    item_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Conversation(Base):
    """A shopper's conversation (app.conversation): its turns are what any API process continues it from."""

    __tablename__ = "conversations"

    conversation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Not a foreign key: a new visitor may converse before the store knows them; erasure deletes by it.
    user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The last message's time: a conversation idle longer than SEMREC_CONVERSATION_TTL_HOURS has expired.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # What the turns asked for so far (app.conversation.needs), so a message reads one row, not every turn;
    # turns counts them, and a message is stored only if it is still the count it read (else 409).
    needs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    turns: Mapped[int] = mapped_column(Integer, default=0)


class ConversationTurn(Base):
    """One turn: the shopper's words and feedback, or the answer (reply, understood, items shown)."""

    __tablename__ = "conversation_turns"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("conversations.conversation_id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 0, 1, ...: two processes answering at once cannot both append
    role: Mapped[str] = mapped_column(String(16))  # "shopper" | "assistant"
    text: Mapped[str | None] = mapped_column(Text)
    feedback: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    understood: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ux_conversation_turns_seq", "conversation_id", "seq", unique=True),)


class GeneratedReview(Base):
    """A review written by the generator language model (app.generator): synthetic, so it lives apart from
    the shoppers' interactions, is never an event and is labelled with the model and prompt that wrote it."""

    __tablename__ = "generated_reviews"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("items.item_id", ondelete="CASCADE"),
                                         index=True)
    text: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(512))
    prompt_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rule(Base):
    """A merchandising rule (app.recommender.rules): when it applies (``when``: route, category, segment; a
    time window), which items it moves (``items``: category, attributes, item ids) and how. Every write bumps
    the serving epoch, so each API process loads the rules again before its next answer."""

    __tablename__ = "rules"

    rule_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    action: Mapped[str] = mapped_column(String(16))  # boost | bury | pin | promote
    when: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    items: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    factor: Mapped[float | None] = mapped_column(Float)
    position: Mapped[int | None] = mapped_column(Integer)
    share: Mapped[float | None] = mapped_column(Float)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImpressionAnswer(Base):
    """One answer shown: its items as a JSON array, best first (position 1, 2, ...), and with interleaving each
    item's team (the variant that placed it) aligned with them. One row per answer, not per item: a tenth of the
    rows and index entries to write while the answers are served (docs/online.md, "What keeping impressions
    costs"). Read per item through the view ``impressions`` (``Impression``); by user through ``ImpressionUser``
    (``app.store.impression_users``), not an index of this table. No foreign keys: rows are written in bulk and
    outlive nothing they name; erasing a user deletes theirs, retention (``SEMREC_IMPRESSIONS_DAYS``) the old
    ones. Ids are never reused (AUTOINCREMENT on SQLite): the per-user index's mark is an id."""

    __tablename__ = "impression_answers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    recommendation_id: Mapped[str] = mapped_column(String(RECOMMENDATION_ID_LENGTH), index=True)
    user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    session_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    model_version: Mapped[str | None] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(32))
    variant: Mapped[str | None] = mapped_column(String(64))  # the experiment's arm; "interleaved" for a merge
    experiment_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    shown_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    items: Mapped[str] = mapped_column(Text)  # JSON array of item ids
    teams: Mapped[str | None] = mapped_column(Text)  # JSON array of variant names, aligned with items

    __table_args__ = (
        # An experiment's figures: its answers (app.measure.experiments). Partial: an index entry is work at every
        # write, and most answers belong to no experiment.
        Index("ix_impression_answers_experiment", "experiment_id", "recommendation_id",
              sqlite_where=text("experiment_id IS NOT NULL"), postgresql_where=text("experiment_id IS NOT NULL")),
        {"sqlite_autoincrement": True},
    )


class ImpressionUser(Base):
    """The per-user index of the impressions: an entry for each answer shown to a user, copied from
    ``impression_answers`` in bulk by ``app.store.impression_users`` (read there too, with the answers past the
    mark beside it), ordered by the answers' ``bucket`` (a run of consecutive answer ids), then by user: new
    entries land in the newest bucket's part of the index, however large the index has grown."""

    __tablename__ = "impression_users"

    answer_id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=False)
    bucket: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    shown_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_impression_users_bucket_user", "bucket", "user_id", "shown_at"),)


class ImpressionBucket(Base):
    """One bucket of the per-user index, with the first and last ``shown_at`` of its entries: a lookup in a
    time window seeks only in the buckets that can hold an answer of it."""

    __tablename__ = "impression_buckets"

    bucket: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=False)
    first_shown: Mapped[datetime] = mapped_column(UTCDateTime)
    last_shown: Mapped[datetime] = mapped_column(UTCDateTime)


class ImpressionUsersMark(Base):
    """One row: the highest ``impression_answers.id`` the per-user index has read. Every answer with a user at
    or below it has its entry in ``impression_users``; the answers above it are the log's unindexed tail."""

    __tablename__ = "impression_users_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer_id: Mapped[int] = mapped_column(BigInteger)


VIEWS = MetaData()  # what the migrations make as views: read-only, and no table of Base.metadata to compare


class Impression(Base):
    """One item one answer showed, at its 1-based ``position``: the view ``impressions`` over
    ``impression_answers`` (migration 0010), read by attribution, the online figures and the experiments;
    written only through ``ImpressionAnswer``."""

    __table__ = Table(
        "impressions", VIEWS,
        Column("recommendation_id", String(RECOMMENDATION_ID_LENGTH), primary_key=True),
        Column("position", SmallInteger, primary_key=True),
        Column("item_id", String(ID_LENGTH)),
        Column("user_id", String(ID_LENGTH)),
        Column("session_id", String(ID_LENGTH)),
        Column("model_version", String(64)),
        Column("route", String(32)),
        Column("variant", String(64)),  # with interleaving, the item's own team
        Column("experiment_id", String(ID_LENGTH)),
        Column("shown_at", UTCDateTime),
    )


class ModelActivation(Base):
    """Each time a version became the active one (training or a rollback): the online curves mark them."""

    __tablename__ = "model_activations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Experiment(Base):
    """An online experiment between variants of the recommendation lists (app.experiments; docs/online.md):
    ``variants`` is the ordered list of ``{name, model_version, params, weight}``, the first being the control.
    Its figures are never stored: they are read from the impressions it made (``experiment_id``). Every write
    bumps the serving epoch, so each API process assigns shoppers to it from its next answer on."""

    __tablename__ = "experiments"

    experiment_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))  # ab | interleaving
    metric: Mapped[str] = mapped_column(String(16))  # ctr | conversion
    routes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    min_lift: Mapped[float] = mapped_column(Float, default=0.1)
    base_rate: Mapped[float | None] = mapped_column(Float)
    planned: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
