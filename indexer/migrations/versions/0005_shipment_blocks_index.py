"""Shipments by the blocks that dispatched and received them

Revision ID: 0005
Revises: 0004
"""

from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_shipments_dispatched_block', 'shipments', ['dispatched_block'])
    op.create_index('ix_shipments_received_block', 'shipments', ['received_block'])


def downgrade() -> None:
    op.drop_index('ix_shipments_received_block', table_name='shipments')
    op.drop_index('ix_shipments_dispatched_block', table_name='shipments')
