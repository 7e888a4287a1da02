// The console's building blocks: `h()` to make elements, times and amounts as members read them, an API error
// shown by its name, the approval SLA clock (a pure function of an order and the time), and the card that
// follows one transaction from its check to the mirrored result.

/** An element: `testid` sets data-testid, `data` sets data-* attributes, `on*` listens, `class` is the class. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "testid") el.dataset.testid = value;
    else if (key === "data") for (const [name, v] of Object.entries(value)) el.dataset[name] = v;
    else if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export function when(seconds) {
  if (!seconds) return "—";
  const at = new Date(seconds * 1000);
  return h(
    "time",
    { datetime: at.toISOString() },
    at.toLocaleString("en-GB", {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
    }),
  );
}

export function yuan(fen) {
  return `¥${(Number(fen) / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

export function duration(seconds) {
  const minutes = Math.floor(Math.abs(seconds) / 60);
  const hours = Math.floor(minutes / 60);
  if (hours >= 48) return `${Math.floor(hours / 24)} d ${hours % 24} h`;
  return hours ? `${hours} h ${minutes % 60} min` : `${minutes} min`;
}

export function short(hash) {
  return hash && hash.length > 18 ? `${hash.slice(0, 10)}…${hash.slice(-6)}` : hash || "";
}

// The business's approval targets (shared/DOMAIN.md): answered within 8 hours, urgent orders within 12.
export const TARGET_HOURS = { normal: 8, urgent: 12 };

/** The order's approval clock at `now` (Unix seconds): its target, deadline, seconds left (negative once late). */
export function slaClock(order, now) {
  const targetHours = order.urgent ? TARGET_HOURS.urgent : TARGET_HOURS.normal;
  const deadline = order.submitted_at + targetHours * 3600;
  return { targetHours, deadline, left: deadline - now, overdue: now > deadline };
}

export function slaView(order, now = Date.now() / 1000) {
  const clock = slaClock(order, now);
  const text = clock.overdue ? `overdue by ${duration(clock.left)}` : `${duration(clock.left)} left`;
  return h(
    "span",
    {
      class: `sla ${clock.overdue ? "sla--late" : clock.left < 3600 ? "sla--soon" : "sla--ok"}`,
      testid: "sla",
      data: { targetHours: clock.targetHours, overdue: clock.overdue, left: Math.round(clock.left) },
      title: `target ${clock.targetHours} h from submission`,
    },
    text,
  );
}

/** A description of what went wrong, by the name the API (or the contract) gave it. */
export function errorView(error, testid = "error") {
  const name = error.error || error.code || error.name || "Error";
  const detail = { ...(error.detail || {}) };
  const saidBy = ["message", "problem", "hint", "reason"].find((key) => typeof detail[key] === "string");
  const said = saidBy ? detail[saidBy] : error.message !== name ? error.message : "";
  if (saidBy) delete detail[saidBy];
  return h(
    "div",
    { class: "error", role: "alert", testid, data: { error: name } },
    h("strong", { testid: `${testid}-name` }, error.status ? `${name} (${error.status})` : name),
    said ? h("p", {}, said) : null,
    Object.keys(detail).length ? h("pre", { class: "detail" }, JSON.stringify(detail, null, 1)) : null,
  );
}

/** A lot's number as printed, from its ledger id (the SKU above the lot number's 20 bytes). */
export function lotOf(lotId) {
  try {
    return lotNumber(`0x${(BigInt(lotId) & ((1n << 160n) - 1n)).toString(16).padStart(40, "0")}`) || short(lotId);
  } catch {
    return short(lotId);
  }
}

/** A lot number as printed (GS1 AI 10): the mirror keeps its 20 bytes, zero-padded, as hex. */
export function lotNumber(hex) {
  if (!hex || !hex.startsWith("0x")) return hex || "";
  let text = "";
  for (let i = 2; i < hex.length; i += 2) {
    const code = parseInt(hex.slice(i, i + 2), 16);
    if (code === 0) break;
    text += String.fromCharCode(code);
  }
  return text;
}

export function table(head, rows, testid) {
  return h(
    "table",
    { testid },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        head.map((cell) => h("th", { scope: "col" }, cell)),
      ),
    ),
    h("tbody", {}, rows),
  );
}

const STEPS = {
  checking: "Checking with the ledger…",
  signing: "Sign the transaction…",
  sent: "Sent: waiting for it to be mined…",
  mined: "Mined: waiting for the mirror…",
  mirrored: "Recorded on the ledger.",
  refused: "Refused.",
  failed: "The transaction failed on chain.",
};

/** The card that shows one transaction's progress: its state, hash, block, then the resulting object. */
export function txCard(title) {
  const status = h("p", { class: "tx__status", testid: "tx-status", role: "status" });
  const hash = h("code", { testid: "tx-hash" });
  const block = h("span", { testid: "tx-block" });
  const result = h("div", { class: "tx__result", testid: "tx-result" });
  const card = h(
    "section",
    { class: "tx", testid: "tx", "aria-live": "polite" },
    h("h3", {}, title),
    status,
    h("p", { class: "tx__hash" }, "Transaction ", hash, " ", block),
    result,
  );
  return {
    node: card,
    step(name, info = {}) {
      card.dataset.status = name;
      status.dataset.status = name;
      status.textContent = STEPS[name] || name;
      if (info.tx_hash) {
        hash.textContent = info.tx_hash;
        hash.title = info.tx_hash;
      }
      if (info.block) block.textContent = `in block ${info.block}`;
      if (name === "refused") hash.textContent = block.textContent = ""; // the ledger never took it
    },
    show(...nodes) {
      result.replaceChildren(...nodes);
    },
  };
}
