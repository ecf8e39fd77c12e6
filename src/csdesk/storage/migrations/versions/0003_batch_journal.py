"""Refund batch journals in the database: batches and their rows, claimable by many workers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from csdesk.storage.schema import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``csdesk_batches`` and ``csdesk_batch_rows``."""
    op.create_table(
        "csdesk_batches",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_csdesk_batches"),
    )
    op.create_table(
        "csdesk_batch_rows",
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("row", sa.Text, nullable=True),
        sa.Column("request", sa.Text, nullable=True),
        sa.Column("minor", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("refund_id", sa.String(128), nullable=True),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("lease_until", UtcDateTime, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.CheckConstraint(
            "state IN ('claimed', 'sending', 'done', 'pending', 'refused', 'invalid', "
            "'unreachable', 'unexpected')",
            name="ck_csdesk_batch_rows_state",
        ),
        sa.PrimaryKeyConstraint("batch_id", "line", name="pk_csdesk_batch_rows"),
    )
    op.create_index("ix_csdesk_batch_rows_batch_id_key", "csdesk_batch_rows", ["batch_id", "key"])
    op.create_index(
        "ix_csdesk_batch_rows_batch_id_state", "csdesk_batch_rows", ["batch_id", "state"]
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("csdesk_batch_rows")
    op.drop_table("csdesk_batches")
