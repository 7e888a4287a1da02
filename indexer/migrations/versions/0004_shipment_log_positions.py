"""Where in the chain a shipment was dispatched and received; decommissions by lot

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatched_block', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('dispatched_log', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('received_block', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('received_log', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('received_tx_hash', sa.String(length=66), nullable=True))
    op.create_index('ix_decommissions_lot', 'decommissions', ['lot'])


def downgrade() -> None:
    op.drop_index('ix_decommissions_lot', table_name='decommissions')
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        for column in ('received_tx_hash', 'received_log', 'received_block', 'dispatched_log', 'dispatched_block'):
            batch_op.drop_column(column)
