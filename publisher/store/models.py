"""The store: items, frozen versions, the delivery ledger, attempts, audit, users.

Every table is created by the Alembic migrations in `publisher/migrations`; this module is
the mapping the service layer uses. Only `publisher.editorial.service` and its helpers write here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite has no time zones, PostgreSQL gets the same."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


JSONType = JSON().with_variant(JSON(none_as_null=True), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # bumped when the user is disabled, changes role or password: every page session carries
    # the epoch it began in and ends when it no longer matches
    session_epoch: Mapped[int] = mapped_column(Integer, server_default="0")


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        # the item list's orders, newest first, continued by keyset
        Index("ix_items_updated", "updated_at", "id"),
        Index("ix_items_published", "published_at", "id"),
        # the same orders under a type filter: SQLite, without statistics, sorted every item of
        # the type (migration 0020); PostgreSQL counted the filtered total by a bitmap of every
        # item of the type (migration 0022)
        Index("ix_items_type_updated", "type", "updated_at", "id"),
        Index("ix_items_type_published", "type", "published_at", "id"),
        # the work queues (drafts, review, approval), newest first: PostgreSQL only (migration 0023)
        Index("ix_items_state_updated", "state", "updated_at", "id").ddl_if(dialect="postgresql"),
        # the editor's drafts and returned drafts by author, newest first, partial so that only
        # the queues' statements (a draft, its reason tested) use them (migrations 0026 for
        # SQLite, 0027 for PostgreSQL)
        *(
            Index(
                name,
                "created_by",
                "updated_at",
                "id",
                sqlite_where=text(f"state = 'draft' AND reject_reason {test}"),
                postgresql_where=text(f"state = 'draft' AND reject_reason {test}"),
            )
            for name, test in (("ix_items_drafts_mine", "IS NULL"), ("ix_items_returned_mine", "IS NOT NULL"))
        ),
        # the few abolished by a notice, read by the compliance check (migration 0014)
        Index(
            "ix_items_abolished_by",
            "abolished_by",
            postgresql_where=text("abolished_by IS NOT NULL"),
            sqlite_where=text("abolished_by IS NOT NULL"),
        ),
        # substring search (pg_trgm; migration 0011): PostgreSQL only
        *(
            Index(
                f"ix_items_{column}_trgm",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            ).ddl_if(dialect="postgresql")
            for column in ("title", "index_number", "ref")
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uid: Mapped[str] = mapped_column(String(26), unique=True)
    ref: Mapped[str | None] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(String(24), index=True)
    title: Mapped[str] = mapped_column(String(300))
    # The working copy an editor changes; versions freeze it at approval.
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    index_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    validity: Mapped[str] = mapped_column(String(8), default="有效")
    validity_changed_on: Mapped[str | None] = mapped_column(String(10))
    abolished_by: Mapped[str | None] = mapped_column(String(26))
    release_group: Mapped[str | None] = mapped_column(String(100), index=True)
    interprets_uid: Mapped[str | None] = mapped_column(String(26), index=True)
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdraw_reason: Mapped[str | None] = mapped_column(Text)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    live_version: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    versions: Mapped[list[ItemVersion]] = relationship(
        back_populates="item", order_by="ItemVersion.number", lazy="select", viewonly=True
    )


@dataclass
class ItemRow:
    """An item's columns read with Core, not bound to a session: what the approval reads
    its item as. The ORM's load and identity-map bookkeeping cost an approval more than any
    of its statements on SQLite. Same attribute names and types as `Item`'s columns."""

    id: int
    uid: str
    ref: str | None
    type: str
    state: str
    title: str
    content: dict[str, Any]
    index_number: str | None
    validity: str
    validity_changed_on: str | None
    abolished_by: str | None
    release_group: str | None
    interprets_uid: str | None
    publish_at: datetime | None
    published_at: datetime | None
    withdrawn_at: datetime | None
    withdraw_reason: str | None
    reject_reason: str | None
    live_version: int | None
    created_by: int
    created_at: datetime
    updated_at: datetime


# An item as the transitions read it: the ORM object or its Core row.
AnyItem = Item | ItemRow


class ItemVersion(Base):
    """An approved, immutable snapshot. Never updated after insert."""

    __tablename__ = "item_versions"
    __table_args__ = (UniqueConstraint("item_id", "number"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    content_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))  # publish | update | abolish | withdraw
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    item: Mapped[Item] = relationship(back_populates="versions", viewonly=True)


LIVE_STATES_SQL = "state IN ('queued', 'retry_wait', 'held', 'sending', 'accepted', 'failed')"
OUTBOX_STATES_SQL = "state IN ('queued', 'retry_wait', 'held', 'sending')"


class Delivery(Base):
    """One (version, channel, operation): the ledger row the engine drives to `delivered`."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("version_id", "channel", "operation"),
        # partial on PostgreSQL (the live states only, so they stay small as delivered rows
        # pile up); full on SQLite, whose planner cannot match a partial index to a parameter
        Index("ix_deliveries_due", "state", "next_attempt_at", postgresql_where=text(LIVE_STATES_SQL)),
        Index("ix_deliveries_failed", "state", "updated_at", "id", postgresql_where=text("state = 'failed'")),
        Index(
            "ix_deliveries_outbox", "channel", "state", "created_at", postgresql_where=text(OUTBOX_STATES_SQL)
        ),
        Index("ix_deliveries_channel_state", "channel", "state"),
        # the latest delivery per item and channel (status columns, matrix, reconciliation)
        Index("ix_deliveries_item_channel", "item_id", "channel", "id"),
        # what was delivered since a moment (the inspection watch's fold, the daily digests;
        # migrations 0018, 0021): a range of recent rows, never the archive. The equalities
        # come first, or SQLite (no statistics) prefers another index's equality on state
        Index(
            "ix_deliveries_delivered",
            "state",
            "operation",
            "delivered_at",
            postgresql_where=text("delivered_at IS NOT NULL"),
            sqlite_where=text("delivered_at IS NOT NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"))
    channel: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    # An interpretation's delivery waits for its policy's delivery on the same channel.
    after_delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # when an executor last handed it to a broker; the sweeper re-dispatches only stale ones
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    external_id: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(1000))
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Attempt(Base):
    __tablename__ = "attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer)
    provider_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(64))


class RecentAttempt(Base):
    """A copy of one of the newest attempts with its delivery's channel, written by the
    attempts' triggers (migration 0024) and pruned to the newest `publisher.store.recent.KEPT`
    by the periodic jobs: what channel health and the outage banners read, newest first by
    the key, without joining the ledger. Never written by code."""

    __tablename__ = "recent_attempts"
    __table_args__ = (Index("ix_recent_attempts_channel", "channel", "attempt_id"),)
    attempt_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    duration_ms: Mapped[float] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    http_status: Mapped[int | None] = mapped_column(Integer)
    provider_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)


class ChannelState(Base):
    """Per-channel switch and circuit breaker, shared by every worker through the store."""

    __tablename__ = "channel_states"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_reason: Mapped[str | None] = mapped_column(Text)
    breaker: Mapped[str] = mapped_column(String(16), default="closed")  # closed | open | half_open
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    probe_owner: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Counter(Base):
    """A count kept by triggers (migrations 0008, 0017, 0025) as rows change: deliveries per
    (channel, state), items per (type, state), attempts per (channel, outcome, latency bucket)
    with their summed duration, released items per type and policies per publication year (the
    public pages), alert messages per status and their tries per (target type, outcome). Read
    through `publisher.store.counters`, never written by code."""

    __tablename__ = "counters"
    family: Mapped[str] = mapped_column(String(16), primary_key=True)
    a: Mapped[str] = mapped_column(String(32), primary_key=True)
    b: Mapped[str] = mapped_column(String(32), primary_key=True)
    c: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigId)
    total: Mapped[float] = mapped_column(server_default="0")


class CounterDelta(Base):
    """PostgreSQL's triggers append here (no hot row to wait for); `counters.fold` moves the
    rows into `counters`."""

    __tablename__ = "counter_deltas"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    family: Mapped[str] = mapped_column(String(16))
    a: Mapped[str] = mapped_column(String(32))
    b: Mapped[str] = mapped_column(String(32))
    c: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(BigId)
    total: Mapped[float] = mapped_column(server_default="0")


class DeliveryCheckpoint(Base):
    """An adapter's progress through one delivery (channels.base.Checkpoints): provider ids and
    uploaded media, so a retry continues instead of repeating; cleared by a replay."""

    __tablename__ = "delivery_checkpoints"
    delivery_key: Mapped[str] = mapped_column(
        String(64), ForeignKey("deliveries.key", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChannelValue(Base):
    """A small durable value a channel shares across deliveries and processes
    (channels.base.SharedValues): a provider token, an article's owner, a lease."""

    __tablename__ = "channel_values"
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IndexCounter(Base):
    __tablename__ = "index_counters"
    agency: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer, default=0)


class AuditHead(Base):
    """The chain's tip; appenders lock this one row so the chain never forks."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigId)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    __tablename__ = "audit_events"
    # one action's recent events (a digest sent today?) without reading the log (migration 0018)
    __table_args__ = (Index("ix_audit_events_action_at", "action", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    item_uid: Mapped[str | None] = mapped_column(String(26), index=True)
    version_hash: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # "<key id>:<HMAC-SHA256 of seq and hash>" with the key outside the database (audit.py);
    # None for events written without a key (before one was configured)
    mac: Mapped[str | None] = mapped_column(String(80))


# -- compliance (publisher.compliance): calendar, applications, links, reminders, alert marks ---
class CalendarYear(Base):
    """An official holiday schedule ops loaded for a year the calendar library does not know yet."""

    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    holidays: Mapped[list[str]] = mapped_column(JSONType)
    workdays: Mapped[list[str]] = mapped_column(JSONType)  # make-up working days (调休上班)
    source: Mapped[str | None] = mapped_column(String(300))
    loaded_by: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Application(Base):
    """An answered application for disclosure (依申请公开). The applicant never leaves the system."""

    __tablename__ = "applications"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(60), unique=True)
    received_on: Mapped[date] = mapped_column(Date)
    answered_on: Mapped[date] = mapped_column(Date)
    subject: Mapped[str] = mapped_column(String(300))
    request: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    answer_type: Mapped[str | None] = mapped_column(String(32))
    applicant: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ItemLink(Base):
    """A compliance link from an item: converted from an application, or the adoption report
    (采纳情况) of a consultation. `target` is the application number or the consultation's uid."""

    __tablename__ = "item_links"
    __table_args__ = (UniqueConstraint("kind", "item_uid"), Index("ix_item_links_target", "kind", "target"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    item_uid: Mapped[str] = mapped_column(String(26))
    target: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Reminder(Base):
    """Something the office must still do, e.g. publish a closed consultation's adoption report."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("kind", "item_uid"),
        # the few still open, among every reminder ever done (migration 0018)
        Index(
            "ix_reminders_open",
            "kind",
            postgresql_where=text("done_at IS NULL"),
            sqlite_where=text("done_at IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    item_uid: Mapped[str] = mapped_column(String(26))
    title: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_uid: Mapped[str | None] = mapped_column(String(26))


class InspectionNewest(Base):
    """The newest `publish` delivery confirmed on each channel per item type, folded from the
    ledger by the inspection check (publisher.compliance.inspection), which then reads only
    the deliveries confirmed since. Only ever moves forward."""

    __tablename__ = "inspection_newest"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    item_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    newest_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobMark(Base):
    """Where a periodic job got to (publisher.compliance.consultations): what it must look at
    again next time, so a tick reads what changed since, not the archive."""

    __tablename__ = "job_marks"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)


class AlertMark(Base):
    """An alert already raised (kind + key), so periodic checks announce each risk once."""

    __tablename__ = "alert_marks"
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- content checks (publisher.editorial.checks): dictionary, register, acceptances ---------------
class CheckList(Base):
    """The version of an ops-maintained list ('wording' or 'people'): every change bumps it, so
    a process rebuilds its automaton only when the list changed."""

    __tablename__ = "check_lists"
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class _ListEntry:
    """The history of an entry of an ops-maintained list: the list version that added it and
    the one that removed it (None while it is active), by whom and when. Removed entries stay."""

    added_version: Mapped[int] = mapped_column(Integer)
    removed_version: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(64))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CheckTerm(_ListEntry, Base):
    """A dictionary entry ops added (kind wrong / normative / forbidden / allow), or `off`: a
    starter entry switched off. Removed entries stay, with the version that removed them."""

    __tablename__ = "check_terms"
    __table_args__ = (Index("ix_check_terms_active", "removed_version", "key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))  # the normalised term the automaton holds
    term: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    suggestion: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)


class CheckPerson(_ListEntry, Base):
    """One title a person held, and when (the names and titles register)."""

    __tablename__ = "check_people"
    __table_args__ = (Index("ix_check_people_active", "removed_version", "name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)


class CheckAcceptance(Base):
    """A reviewer accepted one `warn` problem of an item, with a reason. `key` fingerprints
    the problem with the text around it, so editing that text ends the acceptance."""

    __tablename__ = "check_acceptances"
    __table_args__ = (UniqueConstraint("item_uid", "key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_uid: Mapped[str] = mapped_column(String(26))
    key: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(40))
    field: Mapped[str] = mapped_column(String(100))
    matched: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text)
    revision: Mapped[str] = mapped_column(String(64))  # content hash of the working copy accepted
    accepted_by: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- alerts (publisher.alerting): the outbox the causes write, groups, notifications, silences ---
class AlertEvent(Base):
    """One alert fact, written by its cause in the cause's own transaction (a delivery failing
    for good, a breaker opening, a deadline overdue); the alert clock folds it into a group."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_unfolded", "folded_at", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(64))  # "" when the alert concerns no channel
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    folded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertGroup(Base):
    """The alerts of one (kind, channel), Alertmanager-style: firing since the first event,
    told after group_wait, again after group_interval (news) or repeat_interval (still firing),
    resolved when the condition clears."""

    __tablename__ = "alert_groups"
    __table_args__ = (UniqueConstraint("kind", "channel"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # firing | resolved
    firing_since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    events: Mapped[int] = mapped_column(Integer)  # since firing_since
    pending: Mapped[int] = mapped_column(Integer)  # since the last message
    first_error: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    samples: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # the newest events' data
    notify_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_reason: Mapped[str | None] = mapped_column(String(200))


class AlertNotification(Base):
    """One message to one target, rendered when it was decided; sent by the alert clock with
    retries (attempt rows in alert_attempts) until sent or out of attempts."""

    __tablename__ = "alert_notifications"
    __table_args__ = (Index("ix_alert_notifications_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("alert_groups.id"))
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12))  # firing | resolved (what the message says)
    target: Mapped[str] = mapped_column(String(600))  # "webhook:<url>" | "email"
    title: Mapped[str] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12))  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertAttempt(Base):
    __tablename__ = "alert_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("alert_notifications.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    duration_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class AlertSilence(Base):
    """Ops muted a kind and/or channel ("*": any) until `ends_at`; created and removed through
    the alert service, which audits both."""

    __tablename__ = "alert_silences"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(64))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertClock(Base):
    """One row: every alert tick updates it first, so two processes' ticks never interleave."""

    __tablename__ = "alert_clock"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AnnualReportInput(Base):
    """What the annual disclosure report needs and the service cannot know (administrative
    decisions, fee income, reviews and lawsuits, the narrative sections), entered by staff
    per year; publisher.compliance.report fills the template from these and the figures."""

    __tablename__ = "annual_report_inputs"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LiveCopy(Base):
    """The newest delivered copy of an item on a channel, which post-publication inspection
    re-reads: written by the ledger when a publish/update becomes delivered, removed when a
    withdrawal does. The inspection clock reads only rows due (ix_live_copies_due)."""

    __tablename__ = "live_copies"
    __table_args__ = (
        UniqueConstraint("item_id", "channel"),
        Index("ix_live_copies_due", "channel", "next_inspect_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    channel: Mapped[str] = mapped_column(String(32))
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"))
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_inspect_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_inspected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_outcome: Mapped[str | None] = mapped_column(String(16))  # ok | drift | unchecked
    inspections: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Drift(Base):
    """A live copy found different from what the ledger delivered (missing, unpublished,
    stale, a dead or moved link): open until an inspection finds it right again (cleared),
    ops re-push the version (repushed) or accept it with a reason (accepted)."""

    __tablename__ = "drifts"
    __table_args__ = (
        Index("ix_drifts_delivery", "delivery_id", "kind"),
        Index("ix_drifts_item", "item_id", "id"),
        Index("ix_drifts_open", "resolved_at", "channel"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    expected: Mapped[str] = mapped_column(Text)
    found: Mapped[str] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    accepted_by: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
