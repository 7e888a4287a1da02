"""The API's sign-in nonces

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_nonces',
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=42), nullable=False),
    sa.Column('issued_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('used_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('nonce')
    )
    with op.batch_alter_table('sign_in_nonces', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_nonces_expires_at', ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_nonces', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_nonces_expires_at')
    op.drop_table('sign_in_nonces')
