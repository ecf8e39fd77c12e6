"""The webhook relay's tables: one delivery per (subscriber, event), and disabled endpoints.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from csdesk.storage.schema import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``csdesk_webhook_deliveries`` and ``csdesk_webhook_endpoints``."""
    op.create_table(
        "csdesk_webhook_deliveries",
        sa.Column("subscriber", sa.String(128), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("aggregate", sa.String(191), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", UtcDateTime, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("delivered_at", UtcDateTime, nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("lease_until", UtcDateTime, nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'dead', 'skipped')",
            name="ck_csdesk_webhook_deliveries_state",
        ),
        sa.PrimaryKeyConstraint("subscriber", "seq", name="pk_csdesk_webhook_deliveries"),
    )
    op.create_index(
        "ix_csdesk_webhook_deliveries_subscriber_state_next_at",
        "csdesk_webhook_deliveries",
        ["subscriber", "state", "next_at"],
    )
    op.create_index(
        "ix_csdesk_webhook_deliveries_subscriber_aggregate_seq",
        "csdesk_webhook_deliveries",
        ["subscriber", "aggregate", "seq"],
    )
    op.create_table(
        "csdesk_webhook_endpoints",
        sa.Column("subscriber", sa.String(128), nullable=False),
        sa.Column("disabled_at", UtcDateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("subscriber", name="pk_csdesk_webhook_endpoints"),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("csdesk_webhook_endpoints")
    op.drop_table("csdesk_webhook_deliveries")
