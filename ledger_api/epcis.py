"""The ledger as GS1 EPCIS 2.0: mirror rows (plain dicts) mapped to JSON-LD events, each named by its EPCIS event
hash (`ni:///sha-256;<hex>?ver=CBV2.0`), computed exactly as the GS1 reference (RalphTro/epcis-event-hash-generator
1.9.3, MIT) computes it, quirks included: its canonical pre-hash order, timestamps in UTC to the millisecond,
EPC URNs and Digital Link URIs normalised to `https://id.gs1.org`, CBV short names expanded, lists sorted and
user extensions written `{namespace}name=value`; an event is hashed as if it were alone in its document.
Identifiers: a lot is the class `https://id.gs1.org/01/<gtin>/10/<lot>` counted in bottles (no uom), a bottle
`.../10/<lot>/21/<serial>`, a location `https://id.gs1.org/414/<gln>`; an organisation is the party
`https://id.gs1.org/417/<gln>` of its lowest-numbered location's GLN (the brand runs no location of its own on
chain, so it takes the GLN of the first location of a region or warehouse, which carry the brand's company
prefix; carriers and auditors run none and are `https://ns.baijiu-ledger.org/epcis/org/<id>`). Cases have no
GS1 key on chain (no SSCC, no case GTIN), so a case is `https://ns.baijiu-ledger.org/epcis/case/<gtin>/<lot>/<n>`
and packing (one AggregationEvent per case) is emitted only when the brand's bottle codes are supplied: EPCIS
requires a parentID for ADD. Every shipment carries its despatch advice (`desadv`,
`urn:epcglobal:cbv:bt:<sender GLN>:<shipment id>`), and an order's shipment also its purchase order (`po`,
`urn:epcglobal:cbv:bt:<brand GLN>:<order id>`); transfers and deliveries have no po. A recall is an ObjectEvent
OBSERVE, bizStep `holding`, disposition `recalled` (CBV 2.0 has no recall step) for the lot class. Times are the
block's UTC instant, shown in China's offset `+08:00`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, unquote

from ledger_api.vocabulary import Decommission, OrgKind, ShipmentKind

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
NAMESPACE = "https://ns.baijiu-ledger.org/epcis/"
CONTEXT = [EPCIS_CONTEXT, {"baijiu": NAMESPACE}]
TIME_ZONE = "+08:00"  # where the ledger's business happens; eventTime itself is always the UTC instant
GS1 = "https://id.gs1.org"

# ------------------------------------------------------------------------------------------ the event hash

# The pre-hash order of the reference (its PROP_ORDER): (name, order of the children or None).
_QUANTITY = [("quantityElement", [("epcClass", None), ("quantity", None), ("uom", None)])]
_EPCS = [("epc", None)]
PROPERTY_ORDER = [
    ("eventTime", None), ("eventTimeZoneOffset", None), ("certificationInfo", None), ("parentID", None),
    ("epcList", _EPCS), ("inputEPCList", _EPCS), ("childEPCs", _EPCS), ("quantityList", _QUANTITY),
    ("childQuantityList", _QUANTITY), ("inputQuantityList", _QUANTITY), ("outputEPCList", _EPCS),
    ("outputQuantityList", _QUANTITY), ("action", None), ("transformationID", None), ("bizStep", None),
    ("disposition", None), ("persistentDisposition", [("set", None), ("unset", None)]),
    ("readPoint", [("id", None)]), ("bizLocation", [("id", None)]),
    ("bizTransactionList", [(("type", None), ("bizTransaction", None))]),
    ("sourceList", [(("type", None), ("source", None))]),
    ("destinationList", [(("type", None), ("destination", None))]),
    ("sensorElementList", [("sensorElement", [
        ("sensorMetadata", [(n, None) for n in ("time", "startTime", "endTime", "deviceID", "deviceMetadata",
                                                "rawData", "dataProcessingMethod", "bizRules")]),
        ("sensorReport", [(n, None) for n in (
            "type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time",
            "microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue",
            "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue",
            "uom", "coordinateReferenceSystem")]),
    ])]),
]
NOT_HASHED = ("recordTime", "eventID", "type", "errorDeclaration")
UNSORTED = ("bizTransaction", "source", "destination")  # their pairs keep CBV's (type, value) order

CBV = "https://ref.gs1.org/cbv/"
# The CBV short names the EPCIS 2.0 context defines, by the vocabulary they expand into.
BIZ_STEPS = frozenset(
    "accepting arriving assembling collecting commissioning consigning creating_class_instance cycle_counting "
    "decommissioning departing destroying disassembling dispensing encoding entering_exiting holding inspecting "
    "installing killing loading other packing picking receiving removing repackaging repairing replacing reserving "
    "retail_selling sampling sensor_reporting shipping staging_outbound stock_taking stocking storing transporting "
    "unloading unpacking void_shipping".split())
DISPOSITIONS = frozenset(
    "active available completeness_verified completeness_inferred conformant container_closed container_open "
    "damaged destroyed dispensed disposed encoded expired in_progress in_transit inactive mismatch_instance "
    "mismatch_class mismatch_quantity needs_replacement no_pedigree_match non_conformant non_sellable_other "
    "partially_dispensed recalled reserved retail_sold returned sellable_accessible sellable_not_accessible stolen "
    "unavailable unknown".split())
PARTY_TYPES = frozenset(("owning_party", "possessing_party", "location"))
TRANSACTION_TYPES = frozenset("bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt".split())
ERROR_REASONS = frozenset(("did_not_occur", "incorrect_data"))


def prehash(event: Mapping, context: Sequence | None = None) -> str:
    """The canonical pre-hash string of one EPCIS 2.0 JSON-LD event, read with the document `@context` it comes
    in (prefixes of user extensions; default: this ledger's)."""
    context = CONTEXT if context is None else context
    namespaces = _namespaces(context)
    tree = _corrected(_tree(_bare_names_expanded(event), namespaces))
    children = tree[2]
    return "eventType=" + tree[0] + _ordered(children, PROPERTY_ORDER) + _remaining(
        [c for c in children if c[0] not in NOT_HASHED])


def event_hash(event: Mapping, context: Sequence | None = None) -> str:
    """The EPCIS event hash of `event`: sha-256 of its pre-hash string, as a named-information URI."""
    return "ni:///sha-256;" + hashlib.sha256(prehash(event, context).encode()).hexdigest() + "?ver=CBV2.0"


def _namespaces(context) -> dict[str, str]:
    found = {}
    for entry in context if isinstance(context, list) else []:
        if isinstance(entry, str):
            found[entry] = "{" + entry + "}"
        else:
            found.update({prefix: "{" + url + "}" for prefix, url in entry.items()})
    return found


def _vocabulary_terms(event: Mapping) -> set[str]:
    """What JSON-LD expansion of the event yields under the CBV web vocabulary: the expanded short names of the
    fields the context types as CBV terms, and CBV URIs given in full anywhere."""
    found: set[str] = set()

    def term(value, words, prefix):
        if isinstance(value, str) and value in words:
            found.add(CBV + prefix + value)

    term(event.get("bizStep"), BIZ_STEPS, "BizStep-")
    term(event.get("disposition"), DISPOSITIONS, "Disp-")
    persistent = event.get("persistentDisposition")
    if isinstance(persistent, Mapping):
        for key in ("set", "unset"):
            for value in persistent.get(key) or []:
                term(value, DISPOSITIONS, "Disp-")
    for key, words, prefix in (("sourceList", PARTY_TYPES, "SDT-"), ("destinationList", PARTY_TYPES, "SDT-"),
                               ("bizTransactionList", TRANSACTION_TYPES, "BTT-")):
        for element in event.get(key) or []:
            if isinstance(element, Mapping):
                term(element.get("type"), words, prefix)
    declaration = event.get("errorDeclaration")
    if isinstance(declaration, Mapping):
        term(declaration.get("reason"), ERROR_REASONS, "ER-")

    def full(value):
        if isinstance(value, str):
            if value.startswith(("https://ref.gs1.org/cbv", "https://gs1.org/voc")):
                found.add(value)
        elif isinstance(value, list):
            for item in value:
                full(item)
        elif isinstance(value, Mapping):
            for item in value.values():
                full(item)

    full(event)
    return found


def _bare_names_expanded(event: Mapping):
    """The reference's heuristic: every string value that exactly one expanded CBV term ends in (after `-` or
    `/`) becomes that term, wherever it stands."""
    terms = _vocabulary_terms(event)

    def replace(value):
        if isinstance(value, str):
            matches = [t for t in terms if t.endswith("-" + value) or t.endswith("/" + value)]
            return matches[0] if len(matches) == 1 else value
        if isinstance(value, list):
            return [replace(v) for v in value]
        if isinstance(value, Mapping):
            return {k: replace(v) for k, v in value.items()}
        return value

    return replace(event)


def _prefixed(text, namespaces, is_value=False):
    if not isinstance(text, str):
        return text
    parts = text.split(":", 1)
    if len(parts) > 1 and parts[0] in namespaces:
        url = namespaces[parts[0]]
        return (url.strip("{}") if is_value else url) + parts[1]
    return text


def _tree(value, namespaces):
    """JSON as the reference's (name, text, children) triples, as its XML reading would give them."""
    node = ("", "", [])
    if isinstance(value, list):
        for child in value:
            node[2].append(_tree(child, namespaces))
    elif isinstance(value, Mapping):
        if "type" in value:
            node = (value["type"], "", [])
        if "#text" in value:
            node = (node[0], value["#text"], node[2])
        for key, item in value.items():
            if key in ("#text", "rdfs:comment", "comment"):
                continue
            if key.startswith("@xmlns"):
                namespaces[key[7:]] = "{" + item + "}"
                node = (_prefixed(node[0], namespaces), node[1], node[2])
                continue
            child = _tree(item, namespaces)
            key = _prefixed(key, namespaces)
            if isinstance(item, list):
                node[2].extend((key, element[1], element[2]) for element in child[2])
            else:
                node[2].append((key, child[1], child[2]))
    else:
        return "", str(_prefixed(value, namespaces, True)), []
    if not [k for k in UNSORTED if k in value]:
        node[2].sort()
    return node


def _corrected(node):
    """The reference's mending of JSON's shape into XML's: `xList` items named `x`, childEPCs gathered, and the
    (type, value) pairs of source, destination and business transaction lists."""
    children = list(node[2]) if len(node) > 2 else []
    lists: dict[str, list] = {}
    for element in [e for e in children if not isinstance(e[0], tuple) and e[0].endswith("List")]:
        lists.setdefault(element[0], []).append((element[0][:-4], element[1], element[2]))
        children.remove(element)
    for name, elements in lists.items():
        if name in ("sourceList", "destinationList", "bizTransactionList"):
            children.append((name, "", [(e[2][0], e[2][1]) for e in elements]))
        else:
            children.append((name, "", elements))
    epcs = [("epc", e[1], []) for e in children if e[0] == "childEPCs"]
    children = [e for e in children if e[0] != "childEPCs"]
    if epcs:
        children.append(("childEPCs", "", epcs))
    mended = [e if e[0] in ("sourceList", "destinationList", "bizTransactionList") else _corrected(e)
              for e in children]
    name = node[0]
    if name in ("inputEPC", "outputEPC"):
        name = "epc"
    elif name in ("inputQuantity", "outputQuantity", "childQuantity") or (name == "quantity" and mended):
        name = "quantityElement"
    return name, node[1], mended


def _ordered(children: list, order) -> str:
    """The ordered part of the pre-hash: each named child in `order`, its values sorted; what is consumed is
    removed from `children`, so that only the rest is left for `_remaining`."""
    text = ""
    extensions = _inner_extensions(children)
    for name, child_order in order:
        values = []
        for child in [c for c in children if c[0] == name]:
            part = _child(child, child_order)
            if part:
                values.append(part)
            if not child[2]:
                children.remove(child)
        values.sort()
        if "".join(values):
            text = "".join([text, *values])
    if extensions:
        text += _remaining(extensions)
    return text


def _inner_extensions(children: list) -> list:
    """User extensions inside a standard field (e.g. readPoint), which the reference appends to that field."""
    if len(children) <= 1 or any("eventTime" in c[0] or "action" in c[0] for c in children):
        return []
    found = [c for c in children if isinstance(c, tuple) and "{" in c[0] and "/}" in c[0]]
    for c in found:
        children.remove(c)
    return found


def _child(child, child_order) -> str:
    inner = _ordered(child[2], child_order) if child_order else ""
    text = ""
    if child[1]:
        text = child[1].strip()
        name = child[0].lower()
        text = _utc_millis(text) if "time" in name and "offset" not in name else _canonical(text)
        if text:
            text = "=" + text
    return child[0] + text + inner if text or inner else ""


def _remaining(children) -> str:
    values = []
    for child in children:
        if isinstance(child, tuple) and len(child) == 2 and isinstance(child[0], tuple):
            values.append(_remaining(child))
        else:
            text = child[1].strip()
            if text:
                text = "=" + _canonical(text)
            values.append(child[0] + text + _remaining(child[2]))
    if len(children) > 1 and not any(c[0] in UNSORTED for c in children):
        values.sort()
    return "".join(values)


def _utc_millis(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    moment = moment.astimezone(timezone.utc)
    moment = moment.replace(microsecond=round(moment.microsecond, -3))
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


def _canonical(text: str) -> str:
    for urn, web in (("urn:epcglobal:cbv:bizstep:", "BizStep-"), ("urn:epcglobal:cbv:disp:", "Disp-"),
                     ("urn:epcglobal:cbv:btt:", "BTT-"), ("urn:epcglobal:cbv:sdt:", "SDT-"),
                     ("urn:epcglobal:cbv:er:", "ER-")):
        text = text.replace(urn, CBV + web)
    try:  # numbers lose leading zeros, "+" and ".0", through a float as in the reference
        number = float(text)
        text = str(int(number) if int(number) == number else number)
    except ValueError:
        pass
    return normalised_uri(text) or text


# ------------------------------------------------------------------------------------------ Digital Link


def check_digit(body: str) -> int:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def _encoded(text: str) -> str:
    for char in "!()*+,:":
        text = text.replace(char, "%" + format(ord(char), "02X"))
    return text


_XCHAR = (r"(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|"
          r"[!\')(*+,.0-9:;=A-Za-z_-])")


def _split(total: int) -> str:
    """A GS1 company prefix of 6-12 digits, a dot, and the rest of `total` digits."""
    return "(" + "|".join(rf"(\d{{{p}}}\.\d{{{total - p}}})" for p in range(6, 13)) + ")"


_SGTIN = re.compile(r"^urn:epc:id:sgtin:" + _split(13) + r"\." + _XCHAR + "{1,20}$")
_SSCC = re.compile(r"^urn:epc:id:sscc:(" + "|".join(rf"(\d{{{p}}}\.\d{{{17 - p}}}$)" for p in range(6, 13)) + ")")
_SGLN = re.compile(r"^urn:epc:id:sgln:((\d{6}\.\d{6})|(\d{7}\.\d{5})|(\d{8}\.\d{4})|(\d{9}\.\d{3})|(\d{10}\.\d{2})|"
                   r"(\d{11}\.\d{1})|(\d{12}\.))\." + _XCHAR + "{1,20}$")
_PGLN = re.compile(r"^urn:epc:id:pgln:(([\d]{6}\.[\d]{6})|([\d]{7}\.[\d]{5})|([\d]{8}\.[\d]{4})|([\d]{9}\.[\d]{3})|"
                   r"([\d]{10}\.[\d]{2})|([\d]{11}\.[\d]{1})|([\d]{12}\.))$")
_LGTIN = re.compile(r"^urn:epc:class:lgtin:" + _split(13) + r"\." + _XCHAR + "{1,20}$")
_IDPAT_SGTIN = re.compile(r"^urn:epc:idpat:sgtin:" + _split(13) + r"\.\*$")
_DL_SHAPE = re.compile(
    r"^https?:(\/\/((([^\/?#]*)@)?([^\/?#:]*)(:([^\/?#]*))?))?((([^?#]*)(\/(01|gtin|8006|itip|8010|cpid|414|gln|417|"
    r"party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti|401|ginc|402|gsin|8003|grai|8004|giai)\/)(\d{4}[^\/]+)"
    r"(\/[^/]+\/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?)|(\/[A-Za-z_-]{10}$))")
_DL_CANONICAL = re.compile(r"^https:\/\/id.gs1.org\/(01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)\/"
                           r"(\d{4}[^\/]+)(\/[^\/]+\/[^\/]+)?[\/]?(\?([^?\n]*))?(#([^\n]*))?|(\/[A-Za-z_-]{10}$)")
_KEYS = ("00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8010", "8017", "8018")
_SHORT_NAMES = (("gtin", "01"), ("itip", "8006"), ("cpid", "8010"), ("gln", "414"), ("party", "417"),
                ("gsrnp", "8017"), ("gsrn", "8018"), ("gcn", "255"), ("sscc", "00"), ("gdti", "253"),
                ("ginc", "401"), ("gsin", "402"), ("grai", "8003"), ("giai", "8004"), ("cpv", "22"), ("lot", "10"),
                ("ser", "21"))
_C = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_CPV_LAST = (re.compile(r"https:\/\/id.gs1.org\/8006\/\d{18}\/22\/(" + _C + "{0,20})$"),
             re.compile(r"https:\/\/id.gs1.org\/01\/\d{14}\/22\/(" + _C + "{0,20})$"))
_CPV_MORE = (re.compile(r"https:\/\/id.gs1.org\/8006\/\d{18}\/22\/([\x2F" + _C[1:] + "{0,20})$"),
             re.compile(r"https:\/\/id.gs1.org\/01\/\d{14}\/22\/([\x2F" + _C[1:] + "{0,20})$"))
_LOT_AND_SERIAL = (re.compile(r"https:\/\/id.gs1.org\/8006\/\d{18}\/10\/(" + _C + r"{0,20})\/21\/(" + _C + "{0,20})$"),
                   re.compile(r"https:\/\/id.gs1.org\/01\/(\d{14})\/10\/(" + _C + r"{0,20})\/21\/(" + _C + "{0,20})$"))
_VALID = tuple(re.compile(r"https:\/\/id.gs1.org\/" + p) for p in (
    r"00\/(\d{18})$", r"01\/(\d{14})\/21\/(" + _C + "{0,20})$", r"01\/(\d{14})\/10\/(" + _C + "{0,20})$",
    r"01\/(\d{14})$", r"01\/(\d{14})\/235\/(" + _C + "{0,28})$", r"253\/(\d{13})(" + _C + "{0,17})$",
    r"255\/(\d{13})(\d{0,12})$", r"401\/(" + _C + "{0,30})$", r"402\/(\d{17})$", r"414\/(\d{13})$",
    r"414\/(\d{13})\/254\/(" + _C + "{0,20})$", r"417\/(\d{13})$", r"8003\/(\d{14})(" + _C + "{0,16})$",
    r"8004\/(" + _C + "{0,30})$", r"8006\/(\d{18})\/21\/(" + _C + "{0,20})$",
    r"8006\/(\d{18})\/10\/(" + _C + "{0,20})$",
    r"8006\/(\d{18})$", r"8010\/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})\/8011/(\d{0,12})$",
    r"8010\/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})$", r"8017\/(\d{18})$", r"8018\/(\d{18})$"))


def normalised_uri(uri: str) -> str | None:
    """The canonical GS1 Digital Link URI of an EPC URI (SGTIN, SSCC, SGLN, PGLN, LGTIN class, SGTIN pattern) or of
    a GS1 Digital Link URI on any domain: `https://id.gs1.org`, AI codes, the finest identifier only, no query;
    None for anything else (other EPC schemes, which this ledger never writes, are hashed as given)."""
    if "." not in uri:
        return None
    dot = uri.index(".")
    if _SGTIN.match(uri):
        prefix = uri[17:dot]
        item = uri[dot + 1:dot + 1 + 13 - len(prefix)]
        gtin = item[:1] + prefix + item[1:]
        return f"{GS1}/01/{gtin}{check_digit(gtin)}/21/{_encoded(uri[32:])}"
    if _SSCC.match(uri):
        prefix = uri[16:dot]
        sscc = uri[dot + 1:dot + 2] + prefix + uri[dot + 2:]
        return f"{GS1}/00/{sscc}{check_digit(sscc)}"
    if _SGLN.match(uri):
        prefix = uri[16:dot]
        gln = prefix + uri[dot + 1:dot + 1 + 12 - len(prefix)]
        extension = uri[30:]
        tail = "" if extension == "0" else "/254/" + _encoded(extension)
        return f"{GS1}/414/{gln}{check_digit(gln)}{tail}"
    if _PGLN.match(uri):
        prefix = uri[16:dot]
        gln = prefix + uri[dot + 1:dot + 1 + 12 - len(prefix)]
        return f"{GS1}/417/{gln}{check_digit(gln)}"
    if _LGTIN.match(uri):
        prefix = uri[20:dot]
        item = uri[dot + 1:dot + 1 + 13 - len(prefix)]
        gtin = item[:1] + prefix + item[1:]
        return f"{GS1}/01/{gtin}{check_digit(gtin)}/10/{_encoded(uri[35:])}"
    if _IDPAT_SGTIN.match(uri):
        prefix = uri[20:dot]
        item = uri[dot + 1:dot + 1 + 13 - len(prefix)]
        gtin = item[:1] + prefix + item[1:]
        return f"{GS1}/01/{gtin}{check_digit(gtin)}"
    if not _DL_SHAPE.match(uri):
        return None
    if "?" in uri:
        uri = uri[:uri.index("?")]
    for short, ai in _SHORT_NAMES:
        uri = uri.replace(f"/{short}/", f"/{ai}/")
    if not _DL_CANONICAL.match(uri):
        key = next((k for k in _KEYS if f"/{k}/" in uri), None)
        if key is not None:
            uri = GS1 + uri[uri.find(f"/{key}/"):]
    if not re.match(r"^https:\/\/id.gs1.org\/01\/\d{14}", uri):
        for digits, pad in ((13, "0"), (12, "00"), (8, "000000")):
            if re.match(r"^https:\/\/id.gs1.org\/01\/\d{%d}" % digits, uri):
                uri = uri.replace("/01/", "/01/" + pad)
                break
    after_cpv = uri[uri.find("/22/") + 4:]
    if any(p.match(uri) for p in _CPV_LAST):
        uri = uri[:uri.find("/22/")] + after_cpv[after_cpv.find("/"):-1]
    if any(p.match(uri) for p in _CPV_MORE):
        uri = uri[:uri.find("/22/")] + after_cpv[after_cpv.find("/"):]
    if any(p.match(uri) for p in _LOT_AND_SERIAL):  # the serial alone names the item
        after_lot = uri[uri.find("/10/") + 4:]
        uri = uri[:uri.find("/10/")] + after_lot[after_lot.find("/"):]
    return uri if any(p.match(uri) for p in _VALID) else None


# ------------------------------------------------------------------------------------------ identifiers


def lot_text(lot_number: str) -> str:
    """The printed lot of a bytes20 lot number (hex as the mirror stores it): its ASCII up to the padding."""
    return bytes.fromhex(lot_number.removeprefix("0x")).rstrip(b"\0").decode("ascii")


def _segment(text: str) -> str:
    return quote(text, safe="")  # RFC 3986 unreserved characters stay; GS1 Digital Link's reserved ones are escaped


def lot_class(gtin: str, lot: str) -> str:
    return f"{GS1}/01/{gtin}/10/{_segment(lot)}"


def bottle_uri(gtin: str, lot: str, serial: str) -> str:
    return f"{GS1}/01/{gtin}/10/{_segment(lot)}/21/{_segment(serial)}"


def case_uri(gtin: str, lot: str, case_number: int) -> str:
    return f"{NAMESPACE}case/{gtin}/{_segment(lot)}/{case_number}"


def location_uri(gln: str) -> str:
    return f"{GS1}/414/{gln}"


_GLN_URI = re.compile(r"^(?:https://id\.gs1\.org/414/)?(\d{13})$")
_ITEM_URI = re.compile(r"^https?://[^/]+(?:/.*)?/01/(\d{14})/10/([^/?#]+)(?:/21/([^/?#]+))?/?(?:[?#].*)?$")


def parse_gln(text: str) -> str | None:
    """The GLN of a location given as 13 digits or as `https://id.gs1.org/414/<gln>`; None otherwise."""
    found = _GLN_URI.match(text.strip())
    return found.group(1) if found else None


def parse_item(uri: str) -> tuple[str, str, str | None] | None:
    """(gtin, lot, serial or None) of a lot class or bottle Digital Link URI on any domain; None otherwise."""
    found = _ITEM_URI.match(uri.strip())
    if not found:
        return None
    serial = found.group(3)
    return found.group(1), unquote(found.group(2)), None if serial is None else unquote(serial)


# ------------------------------------------------------------------------------------------ the mapping


@dataclass(frozen=True)
class Directory:
    """The registry and catalog rows events name: locations by id (`gln`, `org`, `kind`), SKUs by id (`gtin`,
    `bottles_per_case`), and the organisations by id (`kind`)."""

    locations: Mapping[int, Mapping]
    skus: Mapping[int, Mapping]
    organisations: Mapping[int, Mapping]

    def gln(self, location: int) -> str:
        return self.locations[location]["gln"]

    def brand_gln(self) -> str | None:
        own = [i for i, row in self.locations.items() if row["kind"] in (OrgKind.region, OrgKind.warehouse)]
        return self.locations[min(own)]["gln"] if own else None

    def party(self, org: int) -> str:
        if org == 1 and self.brand_gln():
            return f"{GS1}/417/{self.brand_gln()}"
        own = [i for i, row in self.locations.items() if row["org"] == org]
        return f"{GS1}/417/{self.locations[min(own)]['gln']}" if own else f"{NAMESPACE}org/{org}"

    def lot_class(self, sku: int, lot_number: str) -> str:
        return lot_class(self.skus[sku]["gtin"], lot_text(lot_number))

    def bottles(self, sku: int, cases: int) -> int:
        return cases * self.skus[sku]["bottles_per_case"]


def event_time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _named(event: dict) -> dict:
    """The event with its eventID, the hash of everything else, first after its type."""
    return {"type": event["type"], "eventID": event_hash(event), **{k: v for k, v in event.items() if k != "type"}}


def _event(kind: str, seconds: int, **fields) -> dict:
    event = {"type": kind, "eventTime": event_time(seconds), "eventTimeZoneOffset": TIME_ZONE}
    event.update({k: v for k, v in fields.items() if v not in (None, [], {})})
    return _named(event)


def _at(directory: Directory, location: int) -> dict:
    return {"id": location_uri(directory.gln(location))}


def commissioning_events(lot: Mapping, directory: Directory,
                         bottles: Sequence[tuple[str, int]] | None = None) -> list[dict]:
    """A lot's commissioning (ObjectEvent ADD of its bottles at the commissioning location) and, given the
    lot's bottle codes as (serial, case number), its packing: one AggregationEvent per case."""
    gtin, text = directory.skus[lot["sku"]]["gtin"], lot_text(lot["lot_number"])
    place = _at(directory, lot["location"])
    events = [_event(
        "ObjectEvent", lot["commissioned_at"], quantityList=[{"epcClass": lot_class(gtin, text),
                                                              "quantity": lot["bottles"]}],
        action="ADD", bizStep="commissioning", disposition="active", readPoint=place, bizLocation=place,
        ilmd={"baijiu:cases": lot["cases"], "baijiu:merkleRoot": lot["merkle_root"]})]
    cases: dict[int, list[str]] = {}
    for serial, case_number in bottles or ():
        cases.setdefault(case_number, []).append(serial)
    for case_number, serials in sorted(cases.items()):
        events.append(_event(
            "AggregationEvent", lot["commissioned_at"], parentID=case_uri(gtin, text, case_number),
            childEPCs=[bottle_uri(gtin, text, s) for s in sorted(serials)], action="ADD", bizStep="packing",
            readPoint=place, bizLocation=place))
    return events


def _quantities(directory: Directory, lines: Iterable[Mapping], field: str = "cases") -> list[dict]:
    return [{"epcClass": directory.lot_class(line["sku"], line["lot_number"]),
             "quantity": directory.bottles(line["sku"], line[field])}
            for line in lines if line[field]]


def _transactions(shipment: Mapping, directory: Directory) -> list[dict]:
    found = []
    brand = directory.brand_gln()
    if shipment["kind"] == ShipmentKind.order and brand:
        found.append({"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{brand}:{shipment['ref']}"})
    sender = directory.gln(shipment["from_location"])
    found.append({"type": "desadv", "bizTransaction": f"urn:epcglobal:cbv:bt:{sender}:{shipment['id']}"})
    return found


def _parties(directory: Directory, owner: int, location: int, key: str) -> list[dict]:
    holder = directory.locations[location]["org"]
    return [{"type": "owning_party", key: directory.party(owner)},
            {"type": "possessing_party", key: directory.party(holder)},
            {"type": "location", key: location_uri(directory.gln(location))}]


def dispatch_event(shipment: Mapping, lines: Sequence[Mapping], directory: Directory) -> dict:
    """A shipment leaving: ObjectEvent OBSERVE `shipping`, `in_transit`, the lines in bottles, sender to receiver."""
    receiver = directory.locations[shipment["to_location"]]["org"]
    return _event(
        "ObjectEvent", shipment["dispatched_at"], quantityList=_quantities(directory, lines), action="OBSERVE",
        bizStep="shipping", disposition="in_transit", readPoint=_at(directory, shipment["from_location"]),
        bizTransactionList=_transactions(shipment, directory),
        sourceList=_parties(directory, shipment["owner"], shipment["from_location"], "source"),
        destinationList=_parties(directory, receiver, shipment["to_location"], "destination"))


CHECKPOINTS = {1: "picked_up", 2: "at_hub", 3: "out_for_delivery", 4: "delayed", 5: "exception"}


def checkpoint_event(checkpoint: Mapping, shipment: Mapping, lines: Sequence[Mapping], directory: Directory) -> dict:
    """A carrier's report on the way: ObjectEvent OBSERVE `transporting`; no GLN names the place, so it is the
    extension `baijiu:place`, with the carrier's status as `baijiu:checkpoint`."""
    return _event(
        "ObjectEvent", checkpoint["time"], quantityList=_quantities(directory, lines), action="OBSERVE",
        bizStep="transporting", disposition="in_transit", bizTransactionList=_transactions(shipment, directory),
        **{"baijiu:place": checkpoint["place"],
           "baijiu:checkpoint": CHECKPOINTS.get(checkpoint["status"], str(checkpoint["status"])),
           "baijiu:carrier": directory.party(checkpoint["carrier"])})


def receipt_event(shipment: Mapping, lines: Sequence[Mapping], directory: Directory) -> dict:
    """A shipment received: ObjectEvent OBSERVE `receiving`, `in_progress`, the bottles that arrived."""
    receiver = shipment["received_owner"] or directory.locations[shipment["to_location"]]["org"]
    place = _at(directory, shipment["to_location"])
    return _event(
        "ObjectEvent", shipment["received_at"], quantityList=_quantities(directory, lines, "received"),
        action="OBSERVE", bizStep="receiving", disposition="in_progress", readPoint=place, bizLocation=place,
        bizTransactionList=_transactions(shipment, directory),
        sourceList=_parties(directory, shipment["owner"], shipment["from_location"], "source"),
        destinationList=_parties(directory, receiver, shipment["to_location"], "destination"))


# Why stock left the ledger, as CBV: sold over the counter, destroyed, or lost in transit (status unknown).
DECOMMISSION_STEPS = {
    Decommission.sold: ("retail_selling", "retail_sold"),
    Decommission.damaged: ("destroying", "destroyed"),
    Decommission.recalled: ("destroying", "destroyed"),
    Decommission.lost: ("decommissioning", "unknown"),
}


def decommission_event(row: Mapping, directory: Directory) -> dict:
    """Stock sold or written off: ObjectEvent OBSERVE, by `DECOMMISSION_STEPS`, the reason as `baijiu:reason`."""
    step, disposition = DECOMMISSION_STEPS[Decommission(row["reason"])]
    place = _at(directory, row["location"]) if row["location"] else None
    return _event(
        "ObjectEvent", row["time"], quantityList=_quantities(directory, [row]), action="OBSERVE", bizStep=step,
        disposition=disposition, readPoint=place, bizLocation=place,
        **{"baijiu:reason": Decommission(row["reason"]).name})


def recall_event(lot: Mapping, directory: Directory) -> dict:
    """A lot recalled by the brand: ObjectEvent OBSERVE `holding`, `recalled`, for the whole lot class."""
    return _event(
        "ObjectEvent", lot["recalled_at"], quantityList=[{"epcClass": directory.lot_class(lot["sku"],
                                                                                            lot["lot_number"])}],
        action="OBSERVE", bizStep="holding", disposition="recalled",
        **{"baijiu:recallReason": lot["recall_reason"]})


def document(events: list[dict], created: int) -> dict:
    """An EPCISDocument of `events`, created at Unix second `created`."""
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": event_time(created),
            "epcisBody": {"eventList": events}}


def query_document(events: list[dict], created: int, query_name: str = "SimpleEventQuery") -> dict:
    """An EPCISQueryDocument answering a query with `events`."""
    return {"@context": CONTEXT, "type": "EPCISQueryDocument", "schemaVersion": "2.0",
            "creationDate": event_time(created),
            "epcisBody": {"queryResults": {"queryName": query_name, "resultsBody": {"eventList": events}}}}


def short_biz_step(value: str) -> str | None:
    """The CBV short name of a bizStep given short, as `https://ref.gs1.org/cbv/BizStep-x` or as the CBV 1.x URN."""
    for prefix in (CBV + "BizStep-", "urn:epcglobal:cbv:bizstep:"):
        value = value.removeprefix(prefix)
    return value if value in BIZ_STEPS else None
