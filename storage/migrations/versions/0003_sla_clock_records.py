"""SLA clock records and frozen terms: tickets keep the targets and calendar in force; sla_clocks is
each clock's record (status, due, at-risk, breached, stop, verdict), indexed for "breached now" and
"at risk now". Existing tickets are backfilled: their terms from the plans as loaded now (what they
were measured by until now), their records from a fresh evaluation.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

revision = "0003_sla_clock_records"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_terms", sa.JSON(), nullable=True))
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("at_risk_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("verdict", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("periods", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index("ix_sla_clocks_due_at")
        batch_op.create_index("ix_sla_clocks_status_due", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_sla_clocks_status_at_risk", ["status", "at_risk_at"], unique=False)
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clocks_status_at_risk")
        batch_op.drop_index("ix_sla_clocks_status_due")
        batch_op.create_index("ix_sla_clocks_due_at", ["due_at"], unique=False)
        for column in ("updated_at", "periods", "verdict", "breached_at", "at_risk_at", "started_at"):
            batch_op.drop_column(column)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("sla_terms")


# Tables as of this revision (not the ORM models, which follow later revisions).
_tickets = sa.table(
    "tickets",
    sa.column("id", sa.Integer),
    sa.column("plan_id", sa.String),
    sa.column("severity", sa.String),
    sa.column("priority", sa.String),
    sa.column("opened_at", sa.DateTime(timezone=True)),
    sa.column("sla_terms", sa.JSON),
)
_events = sa.table(
    "ticket_events",
    sa.column("id", sa.Integer),
    sa.column("ticket_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("severity", sa.String),
    sa.column("next_update_at", sa.DateTime(timezone=True)),
    sa.column("data", sa.JSON),
)
_clocks = sa.table(
    "sla_clocks",
    sa.column("id", sa.Integer),
    sa.column("ticket_id", sa.Integer),
    sa.column("clock", sa.String),
    sa.column("status", sa.String),
    sa.column("target_minutes", sa.Integer),
    sa.column("started_at", sa.DateTime(timezone=True)),
    sa.column("due_at", sa.DateTime(timezone=True)),
    sa.column("at_risk_at", sa.DateTime(timezone=True)),
    sa.column("breached_at", sa.DateTime(timezone=True)),
    sa.column("stopped_at", sa.DateTime(timezone=True)),
    sa.column("verdict", sa.String),
    sa.column("periods", sa.JSON),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _aware(v: datetime | None) -> datetime | None:
    if v is None:
        return None
    return v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v.astimezone(timezone.utc)


def _backfill() -> None:
    from rules.actions import ENGINE_KIND
    from rules.clock_record import clock_records
    from rules.errors import UnknownIdError
    from rules.policy import load_policies
    from rules.sla import TicketEvent, evaluate
    from rules.terms import snapshot, terms_from_plan

    conn = op.get_bind()
    if conn.execute(sa.select(sa.func.count()).select_from(_tickets)).scalar() == 0:
        return
    policies = context.config.attributes.get("policies")
    if policies is None:
        policy_dir = os.environ.get("POLICY_DIR")
        policies = load_policies(Path(policy_dir) if policy_dir else None)
    now = datetime.now(timezone.utc)
    tickets = conn.execute(sa.select(_tickets)).all()
    for t in tickets:
        try:
            plan = policies.plan(t.plan_id)
        except UnknownIdError:
            continue  # measured by the current policy once its plan is loaded again
        rows = conn.execute(sa.select(_events).where(_events.c.ticket_id == t.id).order_by(_events.c.id)).all()
        first = next((r.severity for r in rows if r.kind == "classified" and r.severity), t.severity)
        opened_at = _aware(t.opened_at)
        assert opened_at is not None
        reclassified = [(_aware(r.at), r.severity) for r in rows if r.kind == "reclassified" and r.severity]
        try:
            terms = terms_from_plan(plan, first, opened_at, reclassified)  # type: ignore[arg-type]
        except UnknownIdError:
            continue
        events = [
            TicketEvent(
                kind=ENGINE_KIND[r.kind],  # type: ignore[arg-type]
                at=_aware(r.at),  # type: ignore[arg-type]
                severity=r.severity,
                next_update_at=_aware(r.next_update_at),
                clock=(r.data or {}).get("clock"),
            )
            for r in rows
            if r.kind in ENGINE_KIND
        ]
        status = evaluate(plan, first, opened_at, events, now, t.priority, terms=terms)
        conn.execute(_tickets.update().where(_tickets.c.id == t.id).values(sla_terms=[snapshot(x) for x in terms]))
        existing = {r.clock: r.id for r in conn.execute(sa.select(_clocks.c.id, _clocks.c.clock).where(_clocks.c.ticket_id == t.id))}
        for rec in clock_records(status):
            values = dict(
                status=rec.status,
                target_minutes=rec.target_minutes,
                started_at=rec.started_at,
                due_at=rec.due_at,
                at_risk_at=rec.at_risk_at,
                breached_at=rec.breached_at,
                stopped_at=rec.stopped_at,
                verdict=rec.verdict,
                periods=rec.periods_json() or None,
                updated_at=now,
            )
            if rec.clock in existing:
                conn.execute(_clocks.update().where(_clocks.c.id == existing[rec.clock]).values(**values))
            else:
                conn.execute(_clocks.insert().values(ticket_id=t.id, clock=rec.clock, **values))
