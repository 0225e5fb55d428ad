"""SQLAlchemy 2 typed models of the context store.

Tables, in the order data flows through them:

* ``raw_deliveries`` / ``inbox_events``: what senders posted, stored before the 2xx.
* ``contacts``, ``source_records``, ``identifiers``: the unified customer, the records
  in each system that feed it, and the index that finds a caller by phone or e-mail.
* ``interactions``: the cross-channel timeline.
* ``deliveries``: the outbox of pushes to agents' tools.
* ``sync_cursors`` / ``sync_runs`` / ``job_locks``: scheduled pulls.
* ``audit_log``: merges and admin actions.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from hub.store.coltypes import BigIntPK, JSONDoc, UTCDateTime, utcnow


def new_contact_id() -> str:
    """``ct_``, the creation time (milliseconds, 12 hex digits), 80 random bits.

    Ids that sort by creation keep every index on a contact id (the contacts' key,
    identifiers, source records, links, the candidate queue) append-mostly: with
    random ids a bulk page dirtied a B-tree page per row in each of them, and at
    60k contacts wrote 3 times as many bytes per record (WAL and checkpoints).
    """
    return f"ct_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


class Base(DeclarativeBase):
    """Declarative base; naming convention keeps Alembic constraint names stable."""

    from sqlalchemy import MetaData

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Contact(Base):
    """One unified customer. ``lineage`` records, per field, which source won."""

    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_contact_id)
    display_name: Mapped[str | None] = mapped_column(String(300))
    first_name: Mapped[str | None] = mapped_column(String(150))
    last_name: Mapped[str | None] = mapped_column(String(150))
    company: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str | None] = mapped_column(String(20))
    tier: Mapped[str | None] = mapped_column(String(50))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    merged_into_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    source_records: Mapped[list[SourceRecord]] = relationship(back_populates="contact")
    identifiers: Mapped[list[Identifier]] = relationship(back_populates="contact")


class SourceRecord(Base):
    """A record in a connected system (a Salesforce Contact, a HubSpot contact…)."""

    __tablename__ = "source_records"
    __table_args__ = (UniqueConstraint("connector", "object_type", "external_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    connector: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    contact_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="source_records")


class Identifier(Base):
    """A normalised key that finds a contact: ``email``, ``phone`` (E.164) or a
    namespaced external key such as ``salesforce:Contact``.

    Several contacts may share one value (a switchboard, info@): that is why the
    uniqueness is per contact; lookups by (kind, value) walk that unique index (a
    separate (kind, value) index only cost writes; migration 0006 dropped it).
    """

    __tablename__ = "identifiers"
    __table_args__ = (UniqueConstraint("kind", "value", "contact_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(320))
    contact_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    source_connector: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="identifiers")


class Interaction(Base):
    """One thing that happened with a customer on some channel."""

    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("connector", "source_ref"),
        Index("ix_interactions_contact_time", "contact_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("contacts.id", ondelete="CASCADE")
    )
    connector: Mapped[str] = mapped_column(String(100))
    source_ref: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(30))
    direction: Mapped[str] = mapped_column(String(20), default="inbound")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str | None] = mapped_column(String(50))
    summary: Mapped[str | None] = mapped_column(Text)
    agent: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    journey_id: Mapped[int | None] = mapped_column(
        ForeignKey("journeys.id", ondelete="SET NULL"), index=True
    )
    #: True when the previous interaction of the same journey was on another channel.
    channel_switch: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Journey(Base):
    """Interactions of one customer close together in time, across channels: the chat
    at 10:02 and the call at 10:09 are one journey, so the call's context has the chat."""

    __tablename__ = "journeys"
    __table_args__ = (Index("ix_journeys_contact_last", "contact_id", "last_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("contacts.id", ondelete="CASCADE")
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channels: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    interactions: Mapped[int] = mapped_column(Integer, default=0)
    channel_switches: Mapped[int] = mapped_column(Integer, default=0)


class Pop(Base):
    """A screen-pop trigger: this customer is reaching this agent (or desk) now.

    Connectors record triggers (a ringing call, a TaskRouter reservation, a first
    WhatsApp message); the pop fan-out builds the context once and delivers it.
    """

    __tablename__ = "pops"
    __table_args__ = (UniqueConstraint("connector", "trigger_key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    connector: Mapped[str] = mapped_column(String(100))
    trigger_key: Mapped[str] = mapped_column(String(255))
    trigger: Mapped[str] = mapped_column(String(100))
    contact_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interactions.id", ondelete="SET NULL")
    )
    channel: Mapped[str | None] = mapped_column(String(30))
    agent: Mapped[str | None] = mapped_column(String(200))
    desk: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    triggered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the hub received the webhook that triggered it (latency starts here).
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RawDelivery(Base):
    """The raw HTTP request a sender posted, kept for replay and audit."""

    __tablename__ = "raw_deliveries"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    connector: Mapped[str] = mapped_column(String(100))
    endpoint: Mapped[str] = mapped_column(String(100), default="")
    method: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


#: Indexes only PostgreSQL builds (:func:`postgresql_only` adds them; schema comparisons
#: leave them out elsewhere: hub.store.migrate.in_schema_of).
POSTGRESQL_ONLY_INDEXES: set[str] = set()


def postgresql_only(index: Index) -> Index:
    """``index``, created on PostgreSQL alone."""
    POSTGRESQL_ONLY_INDEXES.add(str(index.name))
    return index.ddl_if(dialect="postgresql")


def pending_ids_index(name: str) -> Index:
    """A leased queue's (inbox, outbox) claimable rows in id order, on PostgreSQL. Done
    rows stay until retention removes them, days later, and PostgreSQL's planner, seeing
    ``ORDER BY id LIMIT n``, walked the primary key past every one of them (at 10k done
    events, 4,500 pages and 5 ms for a batch of 100). Claims name the status as a
    literal so the planner can prove a claim stays inside this index. SQLite needs
    none: it searches (status, next_attempt_at) and sorts the few pending rows it finds."""
    return postgresql_only(Index(name, "id", postgresql_where=text("status = 'pending'")))


class InboxEvent(Base):
    """One verified event waiting for (or done with) the worker pipeline.

    Status: ``pending`` (claimable when ``next_attempt_at`` has passed and no live
    lease), ``done``, ``ignored`` (verified but no handler), ``dead`` (gave up).
    """

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("connector", "idempotency_key"),
        Index("ix_inbox_events_claim", "status", "next_attempt_at"),
        pending_ids_index("ix_inbox_events_pending"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("raw_deliveries.id", ondelete="SET NULL"), index=True
    )
    connector: Mapped[str] = mapped_column(String(100))
    endpoint: Mapped[str] = mapped_column(String(100), default="")
    idempotency_key: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Delivery(Base):
    """The outbox: one push to an agent's tool, retried until it lands or dies."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("target", "idempotency_key"),
        Index("ix_deliveries_claim", "status", "next_attempt_at"),
        pending_ids_index("ix_deliveries_pending"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    contact_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("contacts.id", ondelete="SET NULL")
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    external_ref: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the triggering webhook was received; delivered_at - this is the pop latency.
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncCursor(Base):
    """The last committed position of one pull stream (an opaque JSON dict)."""

    __tablename__ = "sync_cursors"

    connector: Mapped[str] = mapped_column(String(100), primary_key=True)
    stream: Mapped[str] = mapped_column(String(100), primary_key=True)
    cursor: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SyncRun(Base):
    """One run of one pull stream, for the admins' sync history."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_stream", "connector", "stream", "started_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    connector: Mapped[str] = mapped_column(String(100))
    stream: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    records_read: Mapped[int] = mapped_column(Integer, default=0)
    records_changed: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    mode: Mapped[str] = mapped_column(String(20), default="incremental")
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    cursor_before: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    cursor_after: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    error: Mapped[str | None] = mapped_column(Text)


class ConnectorState(Base):
    """Small durable state a connector keeps between runs and processes (OAuth tokens,
    webhook subscriptions), readable under a row lock so refreshes never race."""

    __tablename__ = "connector_state"

    connector: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ApiBudget(Base):
    """Calls spent against one vendor limit in the current window, shared by every
    process (HubSpot's per-portal 10-second and daily limits, Salesforce's daily API
    allocation)."""

    __tablename__ = "api_budgets"

    bucket: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_seconds: Mapped[float] = mapped_column(default=0.0)
    used: Mapped[int] = mapped_column(Integer, default=0)
    limit: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class JobLock(Base):
    """A lease that keeps one run of a job at a time where advisory locks are absent."""

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did what: merges, unmerges, replays and other admin actions."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)


class ApiToken(Base):
    """A bearer token for /api/v1 and the dashboard, with a role.

    Only the SHA-256 of the token is stored (the token is 256 random bits, so a plain
    hash is enough); the token itself is shown once, when it is created.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The token's first characters, so an admin can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobState(Base):
    """A scheduled job's state, shared by every scheduler process: paused or not, a
    pending "run now" request, and its last and next run."""

    __tablename__ = "job_states"

    job_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    connector: Mapped[str] = mapped_column(String(100), index=True)
    stream: Mapped[str] = mapped_column(String(100))
    paused: Mapped[bool] = mapped_column(default=False, server_default=false())
    run_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_by: Mapped[str | None] = mapped_column(String(200))
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(20))
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Merge(Base):
    """One join of two customers, with why and everything needed to undo it exactly.

    ``kind`` is ``contact`` (``merged_id`` now follows ``survivor_id``; its records,
    identifiers, interactions, journeys and pops moved) or ``interaction`` (an agent
    moved one call to the right person; only the listed rows moved). ``undo`` holds
    the row ids that moved, identifiers dropped as duplicates (re-inserted with their
    ids on unmerge) and both contacts' fields before the merge.
    """

    __tablename__ = "merges"
    __table_args__ = (Index("ix_merges_created", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20), default="contact")
    survivor_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    merged_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    #: ``source_merge``, ``agent_confirmed``, ``candidate_auto``, ``admin``…
    rule: Mapped[str] = mapped_column(String(50))
    #: The identifier values or records that justified it: ``[{"kind", "value"}]``.
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    score: Mapped[float | None] = mapped_column()
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    undo: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by: Mapped[str | None] = mapped_column(String(200))


class MatchCandidate(Base):
    """Two contacts that may be one person (probabilistic score below auto-merge).

    Stored once per pair (``contact_id`` < ``candidate_id``); ``status`` is ``open``,
    ``confirmed`` (merged), ``rejected`` (never suggested again) or ``merged``.
    """

    __tablename__ = "match_candidates"
    __table_args__ = (
        UniqueConstraint("contact_id", "candidate_id"),
        Index("ix_match_candidates_status_score", "status", "score"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    candidate_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[float] = mapped_column(default=0.0)
    #: Per-signal similarities behind the score (name, company, phone, email…).
    reasons: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))


class IdentityLink(Base):
    """Why a source record was linked to the contact it first joined: the rule (a new
    contact, or the identifier it matched on) and the values that were ambiguous."""

    __tablename__ = "identity_links"
    __table_args__ = (UniqueConstraint("connector", "object_type", "external_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    connector: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    #: The contact it was linked to then (merges may have moved it since).
    contact_id: Mapped[str] = mapped_column(String(40))
    #: ``new`` (no usable evidence: a new contact) or ``matched`` (on ``kind``/``value``).
    rule: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str | None] = mapped_column(String(100))
    value: Mapped[str | None] = mapped_column(String(320))
    ambiguous: Mapped[list[list[str]]] = mapped_column(JSONDoc, default=list)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CandidateQueueEntry(Base):
    """A contact whose candidates need scoring again (hub/identity/candidate_queue.py).

    Written in the transaction that changed the contact, one row per contact
    (``touches`` counts the writes since it was queued); the scorer leases a batch,
    scores it, and deletes the rows nobody touched again meanwhile."""

    __tablename__ = "candidate_queue"
    __table_args__ = (Index("ix_candidate_queue_queued_at", "queued_at"),)

    contact_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    touches: Mapped[int] = mapped_column(default=1)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(200))


# Name indexes for candidate blocking (hub/identity/candidates.py): same last name;
# same first name with a last name starting with the same letter.
Index("ix_contacts_last_name", Contact.last_name)
Index("ix_contacts_first_last", Contact.first_name, Contact.last_name)
