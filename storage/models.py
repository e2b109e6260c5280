"""Database tables. Tickets keep an append-only event log, so every figure can be rebuilt."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from rules.sla import ClockName

_UTC = timezone.utc


class UtcDateTime(TypeDecorator):
    """Timezone-aware in, timezone-aware (UTC) out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware instant")
        return value.astimezone(_UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=_UTC)
        return value if value.tzinfo is _UTC else value.astimezone(_UTC)  # read per row of a 50,000-ticket report


class Base(DeclarativeBase):
    pass


class Customer(Base):
    """A customer on a support plan, reached through one Slack channel."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    plan_id: Mapped[str] = mapped_column(String(100))
    channel_id: Mapped[str] = mapped_column(String(40), unique=True)
    triage_channel_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    contacts: Mapped[list["Contact"]] = relationship(back_populates="customer", cascade="all, delete-orphan")


class Contact(Base):
    """A person allowed to open cases for a customer (plans may limit how many)."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("customer_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    slack_user_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(String(200))
    primary: Mapped[bool] = mapped_column(Boolean, default=False)

    customer: Mapped[Customer] = relationship(back_populates="contacts")


class Ticket(Base):
    __tablename__ = "tickets"
    # A customer's tickets by opening: the quota COUNT at intake and per-customer reports.
    __table_args__ = (
        Index("ix_tickets_customer_opened", "customer_id", "opened_at"),
        Index("ix_tickets_customer_thread", "channel_id", "customer_thread_ts"),
        Index("ix_tickets_state_plan", "state", "plan_id"),  # open tickets per plan, at each /metrics scrape
        Index("ix_tickets_opened_at", "opened_at"),  # a period's report of every customer (storage.reporting)
        # The status board's counts: one index-only pass over the open tickets (storage.board).
        Index("ix_tickets_state_earliest", "state", "earliest_due_at", "earliest_at_risk_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Submitting the same modal twice must open one ticket.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    plan_id: Mapped[str] = mapped_column(String(100))
    reporter_id: Mapped[str] = mapped_column(String(40))
    channel_id: Mapped[str] = mapped_column(String(40))  # where it was reported
    announce_channel_id: Mapped[str | None] = mapped_column(String(40))
    thread_ts: Mapped[str | None] = mapped_column(String(40))  # the announcement: the ticket's thread
    source_message_ts: Mapped[str | None] = mapped_column(String(40))
    # Where the customer sees a ticket worked in a triage channel: a thread in the customer's channel.
    customer_thread_ts: Mapped[str | None] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    service: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(60))
    suggested_severity: Mapped[str | None] = mapped_column(String(60))
    applied_severity: Mapped[str | None] = mapped_column(String(60))
    priority: Mapped[str | None] = mapped_column(String(60))
    assignee_id: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default="open")  # open, paused, resolved
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    first_response_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    within_plan: Mapped[bool] = mapped_column(Boolean, default=True)
    plan_note: Mapped[str | None] = mapped_column(Text)  # why it is outside the plan, shown to people
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The targets and calendar in force: at opening, then from each reclassification (rules.terms snapshots).
    # A policy or holiday edit applies to new tickets only. Null: evaluated with the current policy.
    sla_terms: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # The ticket's place on the status board, written with its clock records (storage.tickets.store_clocks):
    # the earliest deadline and at-risk instant of its running clocks, so the board counts tickets, not clocks.
    earliest_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    earliest_at_risk_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    events: Mapped[list["TicketEventRow"]] = relationship(
        back_populates="ticket", order_by="TicketEventRow.id", cascade="all, delete-orphan"
    )
    clocks: Mapped[list["SlaClockRow"]] = relationship(back_populates="ticket", cascade="all, delete-orphan")

    @property
    def key(self) -> str:
        return f"INC-{self.id}"


class TicketEventRow(Base):
    """Append-only: reported, classified, reclassified, acknowledged, updated, paused, resumed, resolved, ..."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor_id: Mapped[str | None] = mapped_column(String(40))
    severity: Mapped[str | None] = mapped_column(String(60))
    priority: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str | None] = mapped_column(Text)
    next_update_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class SlaClockRow(Base):
    """The record of one SLA clock of a ticket (`rules.clock_record`), written with every change of the ticket.

    status: running, paused, met, missed or none. "Breached now" is
    `status = 'running' and due_at < now`, "at risk now" is
    `status = 'running' and at_risk_at <= now <= due_at`: index range queries.
    A stopped clock's verdict, deadline and stop instant are kept as measured;
    reports read them instead of re-scoring.
    """

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("ticket_id", "clock"),
        Index("ix_sla_clocks_status_due", "status", "due_at"),
        Index("ix_sla_clocks_status_at_risk", "status", "at_risk_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    clock: Mapped[ClockName] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))
    target_minutes: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    at_risk_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    verdict: Mapped[str | None] = mapped_column(String(10))  # met, missed: once stopped
    periods: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # the update clock's closed periods
    # How many of those periods closed, and how many closed by their deadline: the App Home's month line sums
    # them in SQL instead of decoding every ticket's periods on the event loop.
    periods_closed: Mapped[int | None] = mapped_column(Integer)
    periods_met: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    ticket: Mapped[Ticket] = relationship(back_populates="clocks")


class SlaTimer(Base):
    """One reminder or escalation ping, as a row: survives restarts, claimed by exactly one replica.

    States: pending -> claimed -> sent; or dropped (moot, or folded into a later one), or failed.
    """

    __tablename__ = "sla_timers"
    __table_args__ = (
        UniqueConstraint("ticket_id", "key"),
        Index("ix_sla_timers_runnable", "state", "run_at"),
        Index("ix_sla_timers_lease", "state", "lease_until"),  # claimed rows whose lease ran out
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    clock: Mapped[ClockName] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(20))  # reminder, escalation
    level: Mapped[int | None] = mapped_column(Integer)
    notify: Mapped[str | None] = mapped_column(String(60))
    label: Mapped[str] = mapped_column(String(60), default="")
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    deadline: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    run_at: Mapped[datetime] = mapped_column(UtcDateTime())  # due_at, or the next retry; never the lease
    state: Mapped[str] = mapped_column(String(20), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())  # while claimed: reclaimable after it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    message_channel: Mapped[str | None] = mapped_column(String(40))
    message_ts: Mapped[str | None] = mapped_column(String(40))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)


class OnCallEntry(Base):
    """Who answers an escalation level: a user, a user group, or a rotation with hand-offs."""

    __tablename__ = "oncall"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(60), unique=True)  # the policy's notify name: on-call, next-level, manager
    user_id: Mapped[str | None] = mapped_column(String(40))
    group_id: Mapped[str | None] = mapped_column(String(40))
    rotation: Mapped[list[str] | None] = mapped_column(JSON)
    rotation_start: Mapped[datetime | None] = mapped_column(UtcDateTime())
    rotation_days: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ProcessedSlackEvent(Base):
    """Slack retries an event with the same event_id: each is handled once."""

    __tablename__ = "processed_slack_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)  # expired ones are forgotten (storage.tickets)


class OutboxPost(Base):
    """A post the bot owes Slack (an announcement, a thread post after an action, the customer's copy of an update).

    Written in the transaction that makes it owed, so nothing stored goes unannounced; delivered
    like a timer: claimed with a lease, posted with message metadata naming the row, retried with
    backoff, and on a retry first looked for in the channel or thread (a post Slack accepted but
    whose answer was lost is recorded, not posted again).
    States: pending -> claimed -> sent; or failed (Slack refused it for good; `error` says why).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_runnable", "state", "run_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_events.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # announcement, thread, customer
    channel_id: Mapped[str | None] = mapped_column(String(40))  # announcement, customer; a thread post takes the ticket's
    text: Mapped[str | None] = mapped_column(Text)  # rendered when owed; an announcement is rendered when posted
    state: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    run_at: Mapped[datetime] = mapped_column(UtcDateTime())  # when it may next be tried
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    message_channel: Mapped[str | None] = mapped_column(String(40))
    message_ts: Mapped[str | None] = mapped_column(String(40))


class ReportDraftRow(Base):
    """A report being written in the two-step modal, keyed by the modal's view id.

    The server keeps it, not the view's `private_metadata`: nothing the client holds
    decides the channel, plan or suggestion, and no length limit can lose the text.
    """

    __tablename__ = "report_drafts"

    view_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40))
    channel_id: Mapped[str] = mapped_column(String(40))
    source_message_ts: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # summary, description, service, answers
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
