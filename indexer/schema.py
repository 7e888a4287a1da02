"""The mirror's tables: what the chain said (raw events, blocks, the sync checkpoint, the undo journal) and
what it means (one projection table per thing the contracts track).

SQLAlchemy Core tables, identical on SQLite and PostgreSQL. Times are Unix seconds (block time, UTC).
Addresses are lower-case hex. Quantities that can exceed 64 bits on chain (lot ids, prices, amounts in fen)
use `Uint256`, which is exact on both databases. Append-only tables (histories) are keyed by the log that
wrote the row, `(block_number, log_index)`; mutable tables are keyed by the contract's own ids. Every
projection table is listed in `PROJECTIONS`, the set `verify` compares and a reorg rolls back.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class Uint256(TypeDecorator):
    """An unsigned integer of up to 256 bits, exact everywhere: NUMERIC(78) on PostgreSQL, decimal text on
    SQLite (whose integers stop at 64 bits and whose NUMERIC affinity would turn larger ones into floats)."""

    impl = String(78)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(78, 0))
        return dialect.type_descriptor(String(78))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return Decimal(value) if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value, dialect):
        return None if value is None else int(value)


def _log_key() -> list[Column]:
    """The columns naming the log that wrote an append-only row."""
    return [
        Column("block_number", BigInteger, primary_key=True),
        Column("log_index", Integer, primary_key=True),
    ]


# ------------------------------------------------------------------------------------- what the chain said

raw_events = Table(
    "raw_events",
    metadata,
    *_log_key(),
    Column("tx_hash", String(66), nullable=False),
    Column("address", String(42), nullable=False),
    Column("contract", String(32)),  # NULL when the log could not be decoded
    Column("name", String(64)),
    # The log as the node gave it, in binary (half the size of hex): topics are its 32-byte words end to end.
    Column("topics", LargeBinary, nullable=False),
    Column("data", LargeBinary, nullable=False),
    # No secondary indexes: they would double the cost of the largest insert of a backfill, and a
    # transaction's logs are found through its block number, which every receipt gives.
)

blocks = Table(
    "blocks",
    metadata,
    Column("number", BigInteger, primary_key=True),
    Column("hash", String(66), nullable=False),
    Column("parent_hash", String(66), nullable=False),
    Column("time", BigInteger, nullable=False),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("network", String(64), nullable=False),
    Column("chain_id", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=False),  # the last block fully applied
    Column("block_hash", String(66), nullable=False),
    Column("undecoded", BigInteger, nullable=False, default=0),
    # Counts the ranges and rollbacks that changed the membership registry (organisations, locations, accounts):
    # a reader may keep what it read of the registry for as long as this number stays the same.
    Column("registry_version", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", BigInteger, nullable=False),
)

undo_log = Table(
    "undo_log",
    metadata,
    # INTEGER on SQLite: only an INTEGER PRIMARY KEY numbers itself there.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("block_number", BigInteger, nullable=False),
    Column("table_name", String(64), nullable=False),
    Column("row_key", Text, nullable=False),  # JSON of the primary key
    Column("before", Text),  # JSON of the row before the block; NULL: the block created it
    Index("ix_undo_log_block", "block_number"),
)

# ------------------------------------------------------------------------------------- what it means

organisations = Table(
    "organisations",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("kind", Integer, nullable=False),
    Column("parent", BigInteger, nullable=False),
    Column("region", BigInteger, nullable=False),  # a region is its own; distributors and stores: their parent
    Column("price_tier", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("code", String(64), nullable=False),
    Column("registered_at", BigInteger, nullable=False),
    Index("ix_organisations_kind", "kind"),
    Index("ix_organisations_region", "region"),
)

locations = Table(
    "locations",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("org", BigInteger, nullable=False),
    Column("region", BigInteger, nullable=False),
    Column("kind", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("gln", String(13), nullable=False),
    Column("active", Boolean, nullable=False),
    Index("ix_locations_org", "org"),
    Index("ix_locations_region", "region"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("address", String(42), primary_key=True),
    Column("org", BigInteger, nullable=False),
    Column("roles", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_accounts_org", "org"),
)

skus = Table(
    "skus",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("gtin", String(14), nullable=False, unique=True),
    Column("bottles_per_case", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("content_cid", Text, nullable=False),
    Column("active", Boolean, nullable=False),
)

prices = Table(
    "prices",
    metadata,
    Column("sku", BigInteger, primary_key=True),
    Column("tier", Integer, primary_key=True),
    Column("price", Uint256, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

price_changes = Table(
    "price_changes",
    metadata,
    *_log_key(),
    Column("sku", BigInteger, nullable=False),
    Column("tier", Integer, nullable=False),
    Column("old_price", Uint256, nullable=False),
    Column("new_price", Uint256, nullable=False),
    Column("set_by", String(42), nullable=False),
    Column("time", BigInteger, nullable=False),
    Index("ix_price_changes_sku", "sku", "tier"),
)

price_alerts = Table(
    "price_alerts",
    metadata,
    *_log_key(),
    Column("sku", BigInteger, nullable=False),
    Column("tier", Integer, nullable=False),
    Column("old_price", Uint256, nullable=False),
    Column("new_price", Uint256, nullable=False),
    Column("change_bps", BigInteger, nullable=False),
    Column("time", BigInteger, nullable=False),
    Index("ix_price_alerts_time", "time"),
)

ledger_settings = Table(
    "ledger_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", BigInteger, nullable=False),
)

lots = Table(
    "lots",
    metadata,
    Column("id", Uint256, primary_key=True),
    Column("sku", BigInteger, nullable=False),
    Column("lot_number", String(42), nullable=False),  # the bytes20 as hex
    Column("location", BigInteger, nullable=False),  # where it was commissioned
    Column("cases", BigInteger, nullable=False),
    Column("bottles", BigInteger, nullable=False),
    Column("merkle_root", String(66), nullable=False),
    Column("document_cid", Text, nullable=False),
    Column("recalled", Boolean, nullable=False),
    Column("recall_reason", Integer),
    Column("recalled_at", BigInteger),
    Column("commissioned_at", BigInteger, nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Index("ix_lots_sku", "sku"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("distributor", BigInteger, nullable=False),
    Column("region", BigInteger, nullable=False),
    Column("deliver_to", BigInteger, nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("required_stages", Integer, nullable=False),
    Column("approved_stages", Integer, nullable=False),
    Column("amount", Uint256, nullable=False),
    Column("state", Integer, nullable=False),
    Column("cases_ordered", BigInteger, nullable=False),
    Column("cases_dispatched", BigInteger, nullable=False),
    Column("submitted_by", String(42), nullable=False),
    Column("submitted_at", BigInteger, nullable=False),
    Column("approved_at", BigInteger),
    Column("first_dispatched_at", BigInteger),
    Column("delivered_at", BigInteger),
    Column("closed_at", BigInteger),  # rejected or cancelled
    Column("closed_by", String(42)),
    Column("reason_code", Integer),
    Column("rejected_stage", Integer),
    Column("tx_hash", String(66), nullable=False),
    Index("ix_orders_distributor", "distributor"),
    Index("ix_orders_region", "region"),
    Index("ix_orders_state", "state"),
    Index("ix_orders_submitted_at", "submitted_at"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", BigInteger, primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", BigInteger, nullable=False),
    Column("cases", BigInteger, nullable=False),
    Column("unit_price", Uint256, nullable=False),
)

order_approvals = Table(
    "order_approvals",
    metadata,
    Column("order_id", BigInteger, primary_key=True),
    Column("stage", Integer, primary_key=True),
    Column("approver", String(42), nullable=False),
    Column("approved_at", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=False),
)

credits = Table(
    "credits",
    metadata,
    Column("distributor", BigInteger, primary_key=True),
    Column("credit_limit", Uint256, nullable=False),
    Column("exposure", Uint256, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

payments = Table(
    "payments",
    metadata,
    *_log_key(),
    Column("distributor", BigInteger, nullable=False),
    Column("amount", Uint256, nullable=False),
    Column("exposure", Uint256, nullable=False),
    Column("time", BigInteger, nullable=False),
    Index("ix_payments_distributor", "distributor"),
)

shipments = Table(
    "shipments",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("kind", Integer, nullable=False),
    Column("ref", BigInteger, nullable=False),
    Column("from_location", BigInteger, nullable=False),
    Column("to_location", BigInteger, nullable=False),
    Column("carrier", BigInteger, nullable=False),
    Column("eta", BigInteger, nullable=False),
    Column("document_cid", Text, nullable=False),
    Column("owner", BigInteger, nullable=False),  # owns the goods while in transit: the sender
    Column("state", Integer, nullable=False),
    Column("cases", BigInteger, nullable=False),
    Column("dispatched_by", String(42), nullable=False),
    Column("dispatched_at", BigInteger, nullable=False),
    Column("received_by", String(42)),
    Column("received_at", BigInteger),
    Column("received_owner", BigInteger),
    Column("shortfall", BigInteger),
    Column("tx_hash", String(66), nullable=False),
    # The logs' places in the chain: a lot's movements are followed in chain order, finer than block time.
    Column("dispatched_block", BigInteger),
    Column("dispatched_log", Integer),
    Column("received_block", BigInteger),
    Column("received_log", Integer),
    Column("received_tx_hash", String(66)),
    Index("ix_shipments_state", "state"),
    Index("ix_shipments_from", "from_location"),
    Index("ix_shipments_to", "to_location"),
    Index("ix_shipments_ref", "kind", "ref"),
    # The API's scan path asks which lots the newest blocks moved, to refresh what it keeps of them.
    Index("ix_shipments_dispatched_block", "dispatched_block"),
    Index("ix_shipments_received_block", "received_block"),
)

shipment_lines = Table(
    "shipment_lines",
    metadata,
    Column("shipment_id", BigInteger, primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("lot", Uint256, nullable=False),
    Column("sku", BigInteger, nullable=False),
    Column("cases", BigInteger, nullable=False),
    Column("received", BigInteger),
    Index("ix_shipment_lines_lot", "lot"),
)

shipment_checkpoints = Table(
    "shipment_checkpoints",
    metadata,
    *_log_key(),
    Column("shipment_id", BigInteger, nullable=False),
    Column("carrier", BigInteger, nullable=False),
    Column("status", Integer, nullable=False),
    Column("place", Text, nullable=False),
    Column("reported_by", String(42), nullable=False),
    Column("time", BigInteger, nullable=False),
    Index("ix_shipment_checkpoints_shipment", "shipment_id"),
)

discrepancies = Table(
    "discrepancies",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("shipment_id", BigInteger, nullable=False),
    Column("lot", Uint256, nullable=False),
    Column("shipped", BigInteger, nullable=False),
    Column("received", BigInteger, nullable=False),
    Column("state", Integer, nullable=False),
    Column("credited_location", BigInteger),
    Column("opened_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger),
    Column("resolved_by", String(42)),
    Index("ix_discrepancies_shipment", "shipment_id"),
    Index("ix_discrepancies_state", "state"),
)

transfers = Table(
    "transfers",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("from_location", BigInteger, nullable=False),
    Column("to_location", BigInteger, nullable=False),
    Column("state", Integer, nullable=False),
    Column("cases", BigInteger, nullable=False),
    Column("requested_by", String(42), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("approved_by", String(42)),
    Column("approved_at", BigInteger),
    Column("rejected_by", String(42)),
    Column("rejected_at", BigInteger),
    Column("reason_code", Integer),
    Column("shipment_id", BigInteger),
    Column("completed_at", BigInteger),
    Index("ix_transfers_state", "state"),
)

transfer_lines = Table(
    "transfer_lines",
    metadata,
    Column("transfer_id", BigInteger, primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("lot", Uint256, nullable=False),
    Column("sku", BigInteger, nullable=False),
    Column("cases", BigInteger, nullable=False),
)

stock_balances = Table(
    "stock_balances",
    metadata,
    Column("location", BigInteger, primary_key=True),
    Column("lot", Uint256, primary_key=True),
    Column("sku", BigInteger, nullable=False),
    Column("cases", BigInteger, nullable=False),
    Index("ix_stock_balances_sku", "sku"),
)

stock_in_transit = Table(
    "stock_in_transit",
    metadata,
    Column("to_location", BigInteger, primary_key=True),
    Column("lot", Uint256, primary_key=True),
    Column("sku", BigInteger, nullable=False),
    Column("cases", BigInteger, nullable=False),
)

decommissions = Table(
    "decommissions",
    metadata,
    *_log_key(),
    Column("location", BigInteger, nullable=False),  # 0: lost in transit (a written-off discrepancy)
    Column("lot", Uint256, nullable=False),
    Column("sku", BigInteger, nullable=False),
    Column("cases", BigInteger, nullable=False),
    Column("reason", Integer, nullable=False),
    Column("recorded_by", String(42), nullable=False),
    Column("time", BigInteger, nullable=False),
    Index("ix_decommissions_location", "location"),
    Index("ix_decommissions_lot", "lot"),  # a bottle's journey reads its lot's sales and write-offs
)

anchors = Table(
    "anchors",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("kind", Integer, nullable=False),
    Column("merkle_root", String(66), nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("period_end", BigInteger, nullable=False),
    Column("entry_count", BigInteger, nullable=False),
    Column("content_cid", Text, nullable=False),
    Column("anchored_by", String(42), nullable=False),
    Column("anchored_at", BigInteger, nullable=False),
    Column("tx_hash", String(66), nullable=False),
)

# ------------------------------------------------------------------ the API's own state (not from the chain)

# Sign-in nonces (EIP-4361): issued to an address, valid until `expires_at`, spent at most once. They live in
# the mirror's database so that every API replica behind a load balancer sees the same ones; `verify` and
# reorg rollback leave them alone because they are not projections.
sign_in_nonces = Table(
    "sign_in_nonces",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("address", String(42), nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger),
    Index("ix_sign_in_nonces_expires_at", "expires_at"),
)

REGISTRY = ("organisations", "locations", "accounts")

PROJECTIONS: dict[str, Table] = {
    t.name: t
    for t in (
        organisations, locations, accounts, skus, prices, price_changes, price_alerts, ledger_settings, lots,
        orders, order_lines, order_approvals, credits, payments, shipments, shipment_lines,
        shipment_checkpoints, discrepancies, transfers, transfer_lines, stock_balances, stock_in_transit,
        decommissions, anchors,
    )
}


def primary_key(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.primary_key.columns)
