"""The shapes of what members send and what the API answers, with the examples the OpenAPI page shows.

Numbers are bounded as the contracts' types are (a `uint32` location id, a `uint16` reason code), so a value
the chain could never take is refused here with a 422 that names the field, before any gas is spent. Lot ids
are 192-bit numbers (the SKU above the GS1 lot number), so they travel as decimal strings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

U8 = Annotated[int, Field(ge=0, le=2**8 - 1)]
U16 = Annotated[int, Field(ge=0, le=2**16 - 1)]
U32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
Id32 = Annotated[int, Field(ge=1, le=2**32 - 1)]
Cases = Annotated[int, Field(ge=1, le=2**32 - 1, description="whole cases")]


def _lot(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a lot id is a decimal number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 78:
        number = int(value)
    else:
        raise ValueError("a lot id is a decimal number, as a string")
    if not 0 < number < 2**256:
        raise ValueError("a lot id is a positive 256-bit number")
    return number


LotId = Annotated[int, BeforeValidator(_lot), PlainSerializer(str, return_type=str),
                  Field(json_schema_extra={"type": "string", "pattern": "^[0-9]{1,78}$"},
                        examples=["1461501637330902918203684832716283019655932542976"])]
Cid = Annotated[str, Field(max_length=128, pattern=r"^[A-Za-z0-9]*$", description="a content id, or empty")]
# Names and places are printable: a control character (NUL above all, which PostgreSQL text cannot hold) would
# be on chain for good and stop every mirror that tries to store it.
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Text = Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE)]
StageName = Literal["region_manager", "sales_director", "finance"]


def once_each(model, keys: list, what: str):
    """`model` if no key repeats; the contracts take each SKU or lot on one line only."""
    if len(set(keys)) != len(keys):
        raise ValueError(f"each {what} may appear on one line only")
    return model


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------------ orders


class OrderLine(Strict):
    sku: Id32
    cases: Cases


class SubmitOrder(Strict):
    deliver_to: Id32 = Field(description="the distributor location the goods go to")
    urgent: bool = Field(False, description="urgent orders collect their approvals in any order")
    lines: list[OrderLine] = Field(min_length=1, max_length=20)

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"deliver_to": 3, "urgent": True, "lines": [{"sku": 1, "cases": 500}, {"sku": 4, "cases": 20}]}]})

    @model_validator(mode="after")
    def _one_line_per_sku(self) -> "SubmitOrder":
        return once_each(self, [line.sku for line in self.lines], "SKU")


class ApproveOrder(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"stage": "region_manager"}]})

    stage: StageName | None = Field(None, description="the stage to approve; by default the caller's pending one")


class RejectOrder(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"stage": "finance", "reason_code": 201}]})

    stage: StageName | None = Field(None, description="the stage rejecting; by default the caller's pending one")
    reason_code: U16 = 0


class CancelOrder(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason_code": 3}]})

    reason_code: U16 = 0


# ------------------------------------------------------------------------------------------- shipments


class LotLine(Strict):
    lot: LotId
    cases: Cases


class Dispatch(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "order",
         "ref": 42,
         "from_location": 1,
         "to_location": 3,
         "carrier": 30,
         "eta": 1796200000,
         "document_cid": "",
         "lines": [{"lot": "1461501637330902918203684832716283019655932542976", "cases": 500}]}]})

    kind: Literal["order", "transfer", "delivery"]
    ref: Annotated[int, Field(ge=0, le=2**64 - 1)] = Field(0, description="the order or transfer id; 0 for a delivery")
    from_location: Id32
    to_location: Id32
    carrier: Id32 = Field(description="the carrier organisation")
    eta: Annotated[int, Field(ge=0, le=2**40 - 1)] = Field(description="expected arrival, Unix seconds")
    document_cid: Cid = ""
    lines: list[LotLine] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one_line_per_lot(self) -> "Dispatch":
        return once_each(self, [line.lot for line in self.lines], "lot")


class Checkpoint(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": 2, "place": "Changsha hub"}]})

    status: Annotated[int, Field(ge=1, le=5)] = Field(
        description="1 picked up, 2 at hub, 3 out for delivery, 4 delayed, 5 exception")
    place: Text


class ReceivedLine(Strict):
    lot: LotId
    received: U32 = Field(description="cases counted on arrival")


class Receipt(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"lines": [{"lot": "1461501637330902918203684832716283019655932542976", "received": 480}]}]})

    lines: list[ReceivedLine] = Field(min_length=1, max_length=50,
                                      description="one entry per shipment line, each lot once")


class Sale(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"location": 12, "lot": "1461501637330902918203684832716283019655932542976", "cases": 2}]})

    location: Id32 = Field(description="the store's location the cases leave")
    lot: LotId
    cases: Cases


# ------------------------------------------------------------------------------------------- transfers


class RequestTransfer(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"from_location": 2,
         "to_location": 1,
         "lines": [{"lot": "1461501637330902918203684832716283019655932542976", "cases": 200}]}]})

    from_location: Id32
    to_location: Id32
    lines: list[LotLine] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one_line_per_lot(self) -> "RequestTransfer":
        return once_each(self, [line.lot for line in self.lines], "lot")


class RejectTransfer(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason_code": 1}]})

    reason_code: U16 = 0


# --------------------------------------------------------------------------------------------- catalog


class RegisterSku(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"gtin": "06901234000017", "bottles_per_case": 6, "name": "Feitian 53% vol 500 ml x6", "content_cid": ""}]})

    gtin: str = Field(pattern=r"^[0-9]{8,14}$", examples=["06901234000017"])
    bottles_per_case: Annotated[int, Field(ge=1, le=2**16 - 1)]
    name: Text
    content_cid: Cid = ""


class PriceChange(Strict):
    sku: Id32
    tier: U8
    price: Annotated[int, Field(ge=1, le=2**128 - 1, description="fen per case")]


class SetPrices(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"changes": [{"sku": 1, "tier": 0, "price": 1794000}, {"sku": 1, "tier": 1, "price": 1740180}]}]})

    changes: list[PriceChange] = Field(min_length=1, max_length=200)


class CommissionLot(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"sku": 1,
         "lot_number": "L20261201A",
         "location": 1,
         "cases": 1000,
         "bottles": 6000,
         "merkle_root": "0xabababababababababababababababababababababababababababababababab",
         "document_cid": ""}]})

    sku: Id32
    lot_number: str = Field(min_length=1, max_length=20, pattern=r"^[!-z]{1,20}$", description="GS1 AI 10")
    location: Id32 = Field(description="the warehouse where the lot's cases lie")
    cases: Cases
    bottles: Cases
    merkle_root: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="root over the lot's bottle codes")
    document_cid: Cid = ""


class CreditLimit(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"limit": 3_000_000_000}]})

    limit: Annotated[int, Field(ge=0, le=2**128 - 1, description="fen the distributor may owe at once")]


class RecallLot(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason_code": 7}]})

    reason_code: U16 = 0


# --------------------------------------------------------------------------------------------- members


class RegisterOrganisation(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "distributor",
         "parent": 2,
         "price_tier": 1,
         "name": "Suzhou Gusu Liquor Trading Co.",
         "code": "D-SUZHOU"}]})

    kind: Literal["region", "warehouse", "distributor", "store", "carrier", "auditor"]
    parent: U32 = 0
    price_tier: U8 = 0
    name: Text
    code: Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)]


class RegisterLocation(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"org": 7, "name": "Suzhou Wuzhong depot", "gln": "6937702000028"}]})

    org: Id32 = Field(description="the organisation that runs the location")
    name: Text
    gln: str = Field(pattern=r"^[0-9]{13}$", description="the GS1 Global Location Number")


class SetAccount(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
         "org": 7,
         "roles": ["purchaser", "receiver"],
         "name": "Suzhou purchasing desk"}]})

    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    org: Id32
    roles: list[Literal["admin", "region_manager", "sales_director", "finance", "dispatcher", "receiver",
                        "store_staff", "auditor", "purchaser"]] = Field(min_length=1)
    name: Text


class RawTransaction(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"raw": "0xf86b808504a817c80082520894f39fd6e51aad88f6f4ce6ab8827279cfffb92266808025a0"}]})

    raw: str = Field(max_length=262_146, pattern=r"^0x([0-9a-fA-F]{2})+$", description="a signed transaction, 0x-hex")


# --------------------------------------------------------------------------------------------- answers


class ErrorBody(BaseModel):
    error: str = Field(examples=["InsufficientStock"])
    detail: Any = Field(examples=[{"location": 1, "lot": "1461501637330902918203684832716283019655932542976",
                                   "available": 10, "requested": 500}])


class Written(BaseModel):
    """A write that is on chain and in the mirror: the transaction and the object as it now stands."""

    tx_hash: str
    block: int
    result: dict[str, Any] | None = Field(description="the object the write created or changed, from the mirror")


class Pending(BaseModel):
    """A write still on its way when the API stopped waiting: look it up by hash later."""

    tx_hash: str
    status: Literal["pending", "mined"]
    block: int | None = None


class UnsignedTransaction(BaseModel):
    """A write's transaction for the member to sign itself (`X-Ledger-Signing: client`): an EIP-155 legacy
    transaction, already estimated, so the contract's refusal came back by name before this was answered.
    Signed, it goes to `POST /v1/transactions/raw`."""

    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"examples": [
        {"from": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "to": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
         "data": "0x1b2c3d4e", "gas": 187500, "gas_price": 1000000000, "nonce": 12, "chain_id": 31337,
         "value": 0}]})

    sender: str = Field(alias="from", description="the signed-in account, which must sign")
    to: str = Field(description="the ledger contract called")
    data: str = Field(description="the call, ABI-encoded, 0x-hex")
    gas: int = Field(description="gas limit: the estimate with a margin")
    gas_price: int = Field(description="wei per gas")
    nonce: int = Field(description="the account's next nonce, pending transactions counted")
    chain_id: int
    value: int = 0


class Page(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
