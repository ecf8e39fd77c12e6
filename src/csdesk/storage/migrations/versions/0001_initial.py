"""csdesk's first tables: entities, outbox, idempotency, budget counters and grants.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from csdesk.storage.schema import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_Seq = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    """Create the three tables and their indexes."""
    op.create_table(
        "csdesk_entities",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("order_id", sa.String(128), nullable=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("due_at", UtcDateTime, nullable=True),
        sa.CheckConstraint("version >= 0", name="ck_csdesk_entities_version"),
        sa.PrimaryKeyConstraint("kind", "id", name="pk_csdesk_entities"),
    )
    op.create_index(
        "ix_csdesk_entities_kind_order_id_id", "csdesk_entities", ["kind", "order_id", "id"]
    )
    op.create_index("ix_csdesk_entities_due_at", "csdesk_entities", ["due_at"])
    op.create_table(
        "csdesk_outbox",
        sa.Column("seq", _Seq, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("occurred_at", UtcDateTime, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("delivered_at", UtcDateTime, nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("lease_until", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_csdesk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_csdesk_outbox_event_id"),
    )
    op.create_index("ix_csdesk_outbox_delivered_at_seq", "csdesk_outbox", ["delivered_at", "seq"])
    op.create_index(
        "ix_csdesk_outbox_kind_entity_id_version", "csdesk_outbox", ["kind", "entity_id", "version"]
    )
    op.create_table(
        "csdesk_idempotency",
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("key", sa.String(191), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_csdesk_idempotency"),
    )
    op.create_index("ix_csdesk_idempotency_created_at", "csdesk_idempotency", ["created_at"])
    op.create_table(
        "csdesk_budget_usage",
        sa.Column("pool", sa.String(128), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("minor", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.CheckConstraint("minor >= 0", name="ck_csdesk_budget_usage_minor"),
        sa.CheckConstraint("count >= 0", name="ck_csdesk_budget_usage_count"),
        sa.PrimaryKeyConstraint("pool", "period", name="pk_csdesk_budget_usage"),
    )
    op.create_table(
        "csdesk_budget_grants",
        sa.Column("key", sa.String(191), nullable=False),
        sa.Column("charges", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_csdesk_budget_grants"),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("csdesk_budget_grants")
    op.drop_table("csdesk_budget_usage")
    op.drop_table("csdesk_idempotency")
    op.drop_table("csdesk_outbox")
    op.drop_table("csdesk_entities")
