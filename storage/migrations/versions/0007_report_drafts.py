"""report drafts: the two-step report modal's draft, kept server-side by view id"""

import sqlalchemy as sa
from alembic import op

revision = "0007_report_drafts"
down_revision = "0006_outbox"


def upgrade() -> None:
    op.create_table(
        "report_drafts",
        sa.Column("view_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("channel_id", sa.String(length=40), nullable=False),
        sa.Column("source_message_ts", sa.String(length=40), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("view_id"),
    )
    with op.batch_alter_table("report_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_drafts_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_drafts_created_at"))
    op.drop_table("report_drafts")
