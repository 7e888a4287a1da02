// The console's pages, one per task a member's roles allow: a distributor's orders and its deliveries on to its
// stores, the approval queue with its SLA clocks, a warehouse's dispatches (with the board's sourcing of the
// order), a carrier's checkpoints, receipts (with shortfalls), a store's sales, and an auditor's provenance views
// and EPCIS export. Shipments show the board's delay warning while it flags them, and the discrepancies a short
// receipt opened, on the sending and the receiving side alike. Each page reads what it needs from the API within the
// member's reach; each action runs through `ctx.run`, which signs in the browser and shows the transaction's
// hash, its progress and the object as the ledger now has it.

import { api, currentSession } from "./session.js";
import { errorView, h, lotNumber, lotOf, short, slaClock, slaView, table, when, yuan } from "./console-ui.js";

const STAGE_LABEL = { region_manager: "regional manager", sales_director: "sales director", finance: "finance" };
const CHECKPOINT = { 1: "picked up", 2: "at hub", 3: "out for delivery", 4: "delayed", 5: "exception" };
const APPROVER_ROLES = ["region_manager", "sales_director", "finance"];
const now = () => Date.now() / 1000;
const casesOf = (n) => `${n} ${Number(n) === 1 ? "case" : "cases"}`;

/** The pages the member's roles and organisation give, in the order the tabs show them. */
export function pagesFor(me) {
  const roles = new Set(me.roles);
  const kind = me.org_kind;
  const found = [];
  if (roles.has("purchaser")) found.push(PAGES.orders);
  if (roles.has("dispatcher") && kind === "distributor" && me.locations.length) found.push(PAGES.deliver);
  if (APPROVER_ROLES.some((r) => roles.has(r))) found.push(PAGES.approvals);
  if (roles.has("dispatcher") && (kind === "warehouse" || kind === "brand") && me.locations.length) {
    found.push(PAGES.dispatch);
  }
  if (roles.has("dispatcher") && kind === "carrier") found.push(PAGES.checkpoints);
  if ((roles.has("receiver") || roles.has("store_staff")) && me.locations.length) found.push(PAGES.receive);
  if (roles.has("store_staff") && kind === "store") found.push(PAGES.sales);
  if (me.read_only || roles.has("auditor") || me.reach === "ledger") found.push(PAGES.provenance);
  return found;
}

// ------------------------------------------------------------------------------------------ shared views

async function names() {
  const [skus, locations, carrierList] = await Promise.all([api("/v1/skus"), api("/v1/locations"), carriers()]);
  const sku = new Map(skus.map((s) => [s.id, s]));
  const location = new Map(locations.map((l) => [l.id, l]));
  const carrier = new Map(carrierList.map((c) => [c.id, c]));
  return {
    sku,
    locations,
    carriers: carrierList,
    skuName: (id) => (sku.get(id) || { name: `SKU ${id}` }).name,
    place: (id) => (location.get(id) || { name: `location ${id}` }).name, // other members' sites are not in reach
    carrier: (id) => (carrier.get(id) || { name: `carrier ${id}` }).name,
  };
}

/** A site an order or a shipment names, by the name its answer carries (whoever sees the order or shipment sees
 * the names of what it names), its id in the title; failing a name, the site as the member knows it. */
function site(name, id, known) {
  return h(
    "span",
    { title: `location ${id}`, data: { location: id } },
    name ?? (known ? known.place(id) : `location ${id}`),
  );
}

/** An organisation an order or a shipment names, as `site` does for locations. */
function party(name, id, fallback) {
  return h("span", { title: `organisation ${id}`, data: { org: id } }, name ?? fallback ?? `organisation ${id}`);
}

function route(shipment, known) {
  return [
    site(shipment.from_name, shipment.from_location, known),
    " → ",
    site(shipment.to_name, shipment.to_location, known),
  ];
}

/** The carrier organisations (every member may read them), by name. */
async function carriers() {
  return (await api("/v1/organisations?kind=carrier")).sort((a, b) => a.name.localeCompare(b.name));
}

function carrierSelect(list, chosen) {
  return h(
    "select",
    { required: true, testid: "dispatch-carrier" },
    list.map((c) => h("option", { value: String(c.id), selected: c.id === chosen }, c.name)),
  );
}

/** A datetime-local input's value for Unix seconds, in the browser's time zone. */
function localTime(seconds) {
  const at = new Date(seconds * 1000);
  return new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/** The board's delay warnings (`/v1/analytics/delay-warnings`) by shipment, within the member's reach. */
async function delayWarnings() {
  const answer = await api("/v1/analytics/delay-warnings");
  return new Map(answer.at_risk.map((w) => [w.shipment, w]));
}

function delayWarningView(warning) {
  const late = warning.hours_late_predicted;
  return h(
    "span",
    {
      class: "late",
      testid: "delay-warning",
      data: { shipment: warning.shipment, risk: warning.risk },
      title: warning.reason,
    },
    `delay warning: ${Math.round(warning.risk * 100)} % risk, ` +
      `predicted ${late < 10 ? late.toFixed(1) : Math.round(late)} h late`,
  );
}

function discrepancyView(d) {
  return h(
    "p",
    { class: "discrepancy", testid: "discrepancy", data: { shipped: d.shipped, received: d.received } },
    `Lot ${lotOf(d.lot)}: ${d.shipped} shipped, ${d.received} received, ${d.shipped - d.received} short (${d.state})`,
  );
}

/** Recent shipments of `query` (a `/v1/shipments` query) as a table: each with its delay warning while the board
 * flags it, and the discrepancies of a short receipt. Without the board's warnings (an error, named) the
 * shipments are listed still. */
async function shipmentsTable(query, known, testid) {
  const [page, warnings] = await Promise.all([
    api(`/v1/shipments?${query}`),
    delayWarnings().catch((error) => ({ error })),
  ]);
  if (!page.items.length) return h("p", {}, "No shipments yet.");
  const flagged = warnings.error ? new Map() : warnings;
  const short = page.items.filter((s) => s.shortfall > 0);
  const detailed = new Map(
    (await Promise.all(short.map((s) => api(`/v1/shipments/${s.id}`)))).map((s) => [s.id, s.discrepancies]),
  );
  const rows = table(
    ["Shipment", "Route", "For", "Cases", "State", "ETA", "Warnings and discrepancies"],
    page.items.map((s) =>
      h(
        "tr",
        { testid: "shipment-row", data: { shipment: s.id, state: s.state, shortfall: s.shortfall ?? "" } },
        h("td", {}, `#${s.id}`),
        h("td", {}, route(s, known)),
        h("td", {}, s.kind === "delivery" ? "delivery" : `${s.kind} #${s.ref}`),
        h("td", {}, String(s.cases)),
        h("td", {}, stateBadge(s.state)),
        h("td", {}, when(s.eta), s.overdue ? h("span", { class: "late" }, " overdue") : ""),
        h(
          "td",
          {},
          flagged.has(s.id) ? delayWarningView(flagged.get(s.id)) : null,
          s.shortfall > 0 ? h("strong", { testid: "shortfall" }, `${casesOf(s.shortfall)} short`) : null,
          (detailed.get(s.id) || []).map(discrepancyView),
        ),
      ),
    ),
    testid,
  );
  return warnings.error ? [errorView(warnings.error, "delay-warnings-error"), rows] : rows;
}

function stateBadge(state) {
  return h("span", { class: `state state--${state}`, testid: "state", data: { state } }, state.replace(/_/g, " "));
}

function orderView(order, known) {
  return h(
    "div",
    { class: "object", testid: "order", data: { order: order.id, state: order.state } },
    h(
      "h4",
      {},
      `Order #${order.id} `,
      stateBadge(order.state),
      order.urgent ? h("span", { class: "urgent" }, "urgent") : null,
    ),
    h(
      "dl",
      {},
      h("dt", {}, "Distributor"),
      h("dd", {}, party(order.distributor_name, order.distributor)),
      h("dt", {}, "Deliver to"),
      h("dd", {}, site(order.deliver_to_name, order.deliver_to, known)),
      h("dt", {}, "Cases"),
      h("dd", { testid: "order-cases" }, `${order.cases_ordered} ordered, ${order.cases_dispatched} dispatched`),
      h("dt", {}, "Amount"),
      h("dd", {}, yuan(order.amount)),
      h("dt", {}, "Submitted"),
      h("dd", {}, when(order.submitted_at)),
      h("dt", {}, "Approvals"),
      h(
        "dd",
        { testid: "order-approvals" },
        order.approved_stages.length ? order.approved_stages.map((s) => STAGE_LABEL[s]).join(", ") : "none yet",
        order.pending_stages.length
          ? ` · waiting for ${order.pending_stages.map((s) => STAGE_LABEL[s]).join(", ")}`
          : "",
      ),
      order.state === "submitted" ? [h("dt", {}, "Approval SLA"), h("dd", {}, slaView(order))] : null,
      order.state === "rejected"
        ? [
            h("dt", {}, "Rejected"),
            h(
              "dd",
              { testid: "rejection" },
              `by the ${STAGE_LABEL[order.rejected_stage] || order.rejected_stage}, reason ${order.reason_code}`,
            ),
          ]
        : null,
      order.lines
        ? [
            h("dt", {}, "Lines"),
            h(
              "dd",
              {},
              order.lines.map((l) =>
                h("div", {}, `${l.cases} × ${known ? known.skuName(l.sku) : `SKU ${l.sku}`} at ${yuan(l.unit_price)}`),
              ),
            ),
          ]
        : null,
    ),
  );
}

function shipmentView(shipment, known) {
  return h(
    "div",
    { class: "object", testid: "shipment", data: { shipment: shipment.id, state: shipment.state } },
    h("h4", {}, `Shipment #${shipment.id} `, stateBadge(shipment.state)),
    h(
      "dl",
      {},
      h("dt", {}, "Route"),
      h("dd", {}, route(shipment, known)),
      h("dt", {}, "For"),
      h("dd", {}, shipment.kind === "delivery" ? "delivery to a store" : `${shipment.kind} #${shipment.ref}`),
      h("dt", {}, "Carrier"),
      h("dd", {}, party(shipment.carrier_name, shipment.carrier, known?.carrier(shipment.carrier))),
      h("dt", {}, "ETA"),
      h("dd", {}, when(shipment.eta), shipment.overdue ? h("span", { class: "late" }, " overdue") : ""),
      shipment.received_at ? [h("dt", {}, "Received"), h("dd", {}, when(shipment.received_at))] : null,
      shipment.state === "received"
        ? [h("dt", {}, "Shortfall"), h("dd", { testid: "shortfall" }, casesOf(shipment.shortfall))]
        : null,
    ),
    shipment.lines
      ? table(
          ["Lot", "SKU", "Shipped", "Received"],
          shipment.lines.map((l) =>
            h(
              "tr",
              {},
              h("td", {}, h("code", { title: l.lot }, lotOf(l.lot))),
              h("td", {}, known ? known.skuName(l.sku) : l.sku),
              h("td", {}, String(l.cases)),
              h("td", {}, l.received === null || l.received === undefined ? "—" : String(l.received)),
            ),
          ),
          "shipment-lines",
        )
      : null,
    shipment.checkpoints && shipment.checkpoints.length
      ? h(
          "ol",
          { class: "checkpoints", testid: "checkpoints" },
          shipment.checkpoints.map((c) =>
            h("li", { testid: "checkpoint" }, when(c.time), ` ${CHECKPOINT[c.status] || c.status} · ${c.place}`),
          ),
        )
      : null,
    shipment.discrepancies && shipment.discrepancies.length
      ? h(
          "div",
          { class: "discrepancies" },
          h("h5", {}, "Discrepancies"),
          shipment.discrepancies.map(discrepancyView),
        )
      : null,
  );
}

function section(title, intro, ...content) {
  return h(
    "section",
    { class: "card" },
    h("h2", {}, title),
    intro ? h("p", { class: "intro" }, intro) : null,
    ...content,
  );
}

function loading() {
  return h("p", { class: "loading", role: "status" }, "Loading…");
}

/** Fills `holder` with what `draw()` resolves to, or the error by name. */
async function fill(holder, draw) {
  holder.replaceChildren(loading());
  try {
    holder.replaceChildren(...[await draw()].flat());
  } catch (error) {
    if (!error.error && !error.status) console.error(error);
    holder.replaceChildren(errorView(error, "load-error"));
  }
}

function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}

function form(onsubmit, ...children) {
  // The page's policy allows no form submission (form-action 'none'): the console submits with fetch.
  return h(
    "form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        onsubmit(event.target);
      },
    },
    ...children,
  );
}

async function byTxHash(path, txHash) {
  const page = await api(path);
  return page.items.find((item) => item.tx_hash === txHash);
}

// ------------------------------------------------------------------------------------------- distributor

const orders = {
  id: "orders",
  title: "Orders",
  async draw(ctx) {
    const known = await names();
    const prices = new Map((await api(`/v1/prices?tier=${ctx.me.price_tier}`)).map((p) => [p.sku, p.price]));
    const list = h("div", { testid: "my-orders" });
    const tracked = h("div", { testid: "tracked-order" });
    const sku = h(
      "select",
      { name: "sku", testid: "order-sku", required: true },
      [...known.sku.values()]
        .filter((s) => s.active && prices.has(s.id))
        .map((s) => h("option", { value: String(s.id) }, `${s.name} · ${yuan(prices.get(s.id))}/case`)),
    );
    const cases = h("input", {
      type: "number",
      name: "cases",
      min: "1",
      value: "10",
      required: true,
      testid: "order-cases-input",
    });
    const urgent = h("input", { type: "checkbox", name: "urgent", testid: "order-urgent" });
    const deliverTo = h(
      "select",
      { name: "deliver_to", testid: "order-deliver-to" },
      ctx.me.locations.map((id) => h("option", { value: String(id) }, known.place(id))),
    );
    const results = h("div", { class: "results" });

    const refresh = () =>
      fill(list, async () => {
        const page = await api("/v1/orders?limit=20");
        if (!page.items.length) return h("p", {}, "No orders yet.");
        return table(
          ["Order", "State", "Cases", "Amount", "Submitted", "Approval", ""],
          page.items.map((o) =>
            h(
              "tr",
              {
                testid: "order-row",
                data: { order: o.id, state: o.state },
              },
              h("td", {}, `#${o.id}`, o.urgent ? h("span", { class: "urgent" }, "urgent") : ""),
              h("td", {}, stateBadge(o.state)),
              h("td", {}, `${o.cases_dispatched}/${o.cases_ordered}`),
              h("td", {}, yuan(o.amount)),
              h("td", {}, when(o.submitted_at)),
              h("td", {}, o.state === "submitted" ? slaView(o) : o.approved_at ? when(o.approved_at) : ""),
              h(
                "td",
                {},
                h(
                  "button",
                  {
                    type: "button",
                    testid: "track-order",
                    onclick: () =>
                      fill(tracked, async () => provenanceView(await api(`/v1/provenance/orders/${o.id}`), known)),
                  },
                  "Track",
                ),
              ),
            ),
          ),
          "orders-table",
        );
      });

    const submit = form(
      async () => {
        const body = {
          deliver_to: Number(deliverTo.value),
          urgent: urgent.checked,
          lines: [{ sku: Number(sku.value), cases: Number(cases.value) }],
        };
        await ctx.run(results, "Place order", "/v1/orders", body, async (txHash) => {
          const placed = await byTxHash("/v1/orders?limit=20", txHash);
          refresh();
          return orderView(await api(`/v1/orders/${placed.id}`), known);
        });
      },
      h(
        "div",
        { class: "fields" },
        field("Product", sku),
        field("Cases", cases),
        field("Deliver to", deliverTo),
        h("label", { class: "check" }, urgent, h("span", {}, "Urgent (approvals in any order, 12 h target)")),
      ),
      h("button", { type: "submit", class: "primary", testid: "place-order" }, "Sign and place order"),
    );

    await refresh();
    return [
      section("Place an order", "Prices come from the ledger's price list for your tier.", submit, results),
      section("Your orders", "Newest first. Approval clocks run from submission: 8 h, urgent 12 h.", list, tracked),
    ];
  },
};

// ------------------------------------------------------------------------------------------- deliveries

const deliver = {
  id: "deliver",
  title: "Deliver",
  async draw(ctx) {
    const known = await names();
    const from = h(
      "select",
      { testid: "delivery-from" },
      ctx.me.locations.map((id) => h("option", { value: String(id) }, known.place(id))),
    );
    // The stores of the distributor's region: the ledger lets it deliver to any of them.
    const store = h(
      "select",
      { required: true, testid: "delivery-store" },
      known.locations
        .filter((l) => l.kind === "store" && l.active)
        .map((l) => h("option", { value: String(l.id) }, l.name)),
    );
    const carrier = carrierSelect(known.carriers, null);
    const eta = h("input", {
      type: "datetime-local",
      required: true,
      testid: "delivery-eta",
      value: localTime(Date.now() / 1000 + 86400),
    });
    const stock = h("div", { testid: "delivery-stock" });
    const sent = h("div", { testid: "deliveries" });
    const results = h("div", { class: "results" });
    let lines = [];

    const refresh = () =>
      Promise.all([
        fill(stock, async () => {
          const page = await api(`/v1/stock?location=${from.value}&include_in_transit=false&limit=200`);
          const rows = page.items.filter((r) => r.on_hand > 0);
          lines = rows.map((r) => ({
            lot: r.lot,
            input: h("input", {
              type: "number",
              min: "0",
              max: String(r.on_hand),
              value: "0",
              testid: "delivery-cases",
              "aria-label": `cases of lot ${r.lot} to deliver`,
            }),
          }));
          if (!rows.length) return h("p", {}, "No stock on hand to deliver.");
          return table(
            ["Product", "Lot", "On hand", "Cases to deliver"],
            rows.map((r, i) =>
              h(
                "tr",
                { testid: "delivery-row", data: { lot: r.lot, onHand: r.on_hand } },
                h("td", {}, known.skuName(r.sku)),
                h("td", {}, h("code", { title: r.lot }, lotOf(r.lot))),
                h("td", {}, String(r.on_hand)),
                h("td", {}, lines[i].input),
              ),
            ),
            "delivery-table",
          );
        }),
        fill(sent, () =>
          shipmentsTable(`from_location=${from.value}&kind=delivery&limit=10`, known, "deliveries-table"),
        ),
      ]);

    const submit = form(
      async () => {
        const body = {
          kind: "delivery",
          ref: 0,
          from_location: Number(from.value),
          to_location: Number(store.value),
          carrier: Number(carrier.value),
          eta: Math.floor(new Date(eta.value).getTime() / 1000),
          lines: lines.map((l) => ({ lot: l.lot, cases: Number(l.input.value) })).filter((l) => l.cases > 0),
        };
        const title = `Delivery to ${known.place(body.to_location)}`;
        await ctx.run(results, title, "/v1/shipments", body, async (txHash) => {
          const shipment = await byTxHash(`/v1/shipments?from_location=${body.from_location}&limit=20`, txHash);
          refresh();
          return shipmentView(await api(`/v1/shipments/${shipment.id}`), known);
        });
      },
      h(
        "div",
        { class: "fields" },
        field("From", from),
        field("To store", store),
        field("Carrier", carrier),
        field("Expected arrival", eta),
      ),
      stock,
      h("button", { type: "submit", class: "primary", testid: "delivery-submit" }, "Sign and deliver"),
    );
    from.addEventListener("change", refresh);
    await refresh();
    return [
      section(
        "Deliver to a store",
        "Ship on to a store of your region: choose the cases of each lot (at most 50 lots a delivery).",
        submit,
        results,
      ),
      section("Your deliveries", "Newest first, with the store's receipt and any shortfall.", sent),
    ];
  },
};

// ------------------------------------------------------------------------------------------- approvers

const approvals = {
  id: "approvals",
  title: "Approvals",
  async draw(ctx) {
    const known = await names();
    const queue = h("div", { testid: "approval-queue" });
    const results = h("div", { class: "results" });
    const act = (order, verb, body) =>
      ctx.run(
        results,
        `${verb === "approve" ? "Approve" : "Reject"} order #${order.id}`,
        `/v1/orders/${order.id}/${verb}`,
        body,
        async () => {
          refresh();
          return orderView(await api(`/v1/orders/${order.id}`), known);
        },
      );
    const refresh = () =>
      fill(queue, async () => {
        const page = await api("/v1/orders?pending_for_me=true&limit=100");
        if (!page.items.length) return h("p", { testid: "queue-empty" }, "Nothing awaits your approval.");
        const items = [...page.items].sort((a, b) => slaClock(a, now()).deadline - slaClock(b, now()).deadline);
        return table(
          ["Order", "Distributor", "Cases", "Amount", "Waiting for", "SLA", ""],
          items.map((o) => {
            const reason = h("input", {
              type: "number",
              min: "0",
              max: "65535",
              value: "1",
              class: "reason",
              "aria-label": `reason code to reject order ${o.id}`,
              testid: "reject-reason",
            });
            return h(
              "tr",
              { testid: "queue-row", data: { order: o.id } },
              h("td", {}, `#${o.id}`, o.urgent ? h("span", { class: "urgent" }, "urgent") : ""),
              h("td", {}, party(o.distributor_name, o.distributor)),
              h("td", {}, String(o.cases_ordered)),
              h("td", {}, yuan(o.amount)),
              h("td", {}, o.pending_stages.map((s) => STAGE_LABEL[s]).join(", ")),
              h("td", {}, slaView(o)),
              h(
                "td",
                { class: "actions" },
                h(
                  "button",
                  { type: "button", class: "primary", testid: "approve", onclick: () => act(o, "approve", {}) },
                  "Approve",
                ),
                h(
                  "span",
                  { class: "reject" },
                  reason,
                  h(
                    "button",
                    {
                      type: "button",
                      testid: "reject",
                      onclick: () => act(o, "reject", { reason_code: Number(reason.value) }),
                    },
                    "Reject",
                  ),
                ),
              ),
            );
          }),
          "queue-table",
        );
      });
    await refresh();
    return [
      section(
        "Awaiting your approval",
        "Soonest deadline first. Target: 8 h from submission, urgent orders 12 h.",
        queue,
        results,
      ),
    ];
  },
};

// ------------------------------------------------------------------------------------------- warehouse

/** Cases of `sku` still to send for each line: the line less what earlier shipments of the order carried. */
async function remaining(order) {
  const sent = new Map();
  for (const id of order.shipments) {
    for (const line of (await api(`/v1/shipments/${id}`)).lines)
      sent.set(line.sku, (sent.get(line.sku) || 0) + line.cases);
  }
  return order.lines
    .map((l) => ({ sku: l.sku, cases: Math.max(0, l.cases - (sent.get(l.sku) || 0)) }))
    .filter((l) => l.cases > 0);
}

/** The lots to send for `need` cases of a SKU from `stock` rows: oldest lot first. */
function allocate(need, stock) {
  const picked = [];
  for (const row of stock) {
    if (need <= 0) break;
    const take = Math.min(need, row.on_hand);
    if (take > 0) picked.push({ lot: row.lot, cases: take, on_hand: row.on_hand });
    need -= take;
  }
  return { picked, short: need };
}

/** The sourcing of an order (`/v1/analytics/sourcing`) as the warehouse sees it: the ranking of the warehouses it
 * may see, and whether the recommended one is the site dispatching. */
function sourcingView(sourcing, location, known) {
  const mine = sourcing.options.find((o) => o.warehouse === location);
  const best = sourcing.options.find((o) => o.warehouse === sourcing.recommended);
  let verdict;
  if (best && best.warehouse === location) {
    verdict = h(
      "p",
      { testid: "sourcing-verdict", data: { verdict: "here" } },
      `Recommended: ${best.name}, this site. `,
      best.reason,
    );
  } else if (best) {
    verdict = h(
      "p",
      { class: "late", testid: "sourcing-verdict", data: { verdict: "elsewhere" } },
      `The recommendation is ${best.name}, not ${known.place(location)}. `,
      best.reason,
    );
  } else if (sourcing.options.length || mine) {
    verdict = h(
      "p",
      { class: "late", testid: "sourcing-verdict", data: { verdict: "elsewhere" } },
      `Another warehouse is recommended for this order; ${known.place(location)} ranks ` +
        `#${mine ? mine.rank : "—"} of the warehouses that could ship it.`,
    );
  } else {
    verdict = h(
      "p",
      { class: "late", testid: "sourcing-verdict", data: { verdict: "none" } },
      `${known.place(location)} holds none of what the order still needs.`,
    );
  }
  return h(
    "div",
    { class: "sourcing", testid: "sourcing", data: { recommended: sourcing.recommended ?? "" } },
    h("h4", {}, "Sourcing"),
    verdict,
    sourcing.options.length
      ? table(
          ["Rank", "Warehouse", "Free cases", "Lead time", "Shipping cost"],
          sourcing.options.map((o) =>
            h(
              "tr",
              { testid: "sourcing-option", data: { warehouse: o.warehouse, rank: o.rank } },
              h("td", {}, `#${o.rank}`),
              h("td", {}, o.name, o.warehouse === sourcing.recommended ? h("span", { class: "urgent" }, "best") : ""),
              h("td", {}, `${o.available_cases}${o.covers_order ? " (all)" : ""}`),
              h("td", {}, `${o.lead_time_hours} h`),
              h("td", {}, `¥${Number(o.cost_yuan).toLocaleString("en-US")}`),
            ),
          ),
          "sourcing-table",
        )
      : null,
  );
}

const dispatch = {
  id: "dispatch",
  title: "Dispatch",
  async draw(ctx) {
    const known = await names();
    const from = h(
      "select",
      { testid: "dispatch-from" },
      ctx.me.locations.map((id) => h("option", { value: String(id) }, known.place(id))),
    );
    const list = h("div", { testid: "approved-orders" });
    const prepare = h("div", { testid: "dispatch-form-holder" });
    const sent = h("div", { testid: "sent-shipments" });
    const results = h("div", { class: "results" });

    const openForm = (orderId) =>
      fill(prepare, async () => {
        // Without the board's sourcing (an error, named), the oldest lots on hand are picked as before.
        const [order, sourcing] = await Promise.all([
          api(`/v1/orders/${orderId}`),
          api(`/v1/analytics/sourcing?order=${orderId}`).catch((error) => ({ error })),
        ]);
        const ranked = sourcing.error ? null : sourcing;
        // The recommended warehouse is the site dispatching when this member works there.
        if (ranked && ctx.me.locations.includes(ranked.recommended)) from.value = String(ranked.recommended);
        const location = Number(from.value);
        const option = ranked?.options.find((o) => o.warehouse === location);
        const lines = [];
        const rows = [];
        const line = (sku, lot, onHand, cases) => {
          const input = h("input", {
            type: "number",
            min: "0",
            max: String(onHand),
            value: String(cases),
            testid: "dispatch-cases",
            "aria-label": `cases of lot ${lot}`,
          });
          lines.push({ lot, input });
          rows.push(
            h(
              "tr",
              {},
              h("td", {}, known.skuName(sku)),
              h("td", {}, h("code", { title: lot }, lotOf(lot))),
              h("td", {}, String(onHand)),
              h("td", {}, input),
            ),
          );
        };
        for (const need of await remaining(order)) {
          const stock = (
            await api(`/v1/stock?location=${location}&sku=${need.sku}&include_in_transit=false`)
          ).items.filter((r) => r.on_hand > 0);
          const onHand = new Map(stock.map((r) => [r.lot, r.on_hand]));
          // The sourcing's dispatch picks free lots first in, first out; without it, the oldest lots on hand.
          const fromSourcing = option?.dispatch?.lines.filter((l) => BigInt(l.lot) >> 160n === BigInt(need.sku));
          const picked = fromSourcing?.length
            ? fromSourcing.map((l) => ({ lot: l.lot, cases: l.cases, on_hand: onHand.get(l.lot) ?? l.cases }))
            : allocate(need.cases, stock).picked;
          for (const p of picked) line(need.sku, p.lot, p.on_hand, p.cases);
          const missing = need.cases - picked.reduce((n, p) => n + p.cases, 0);
          if (missing > 0)
            rows.push(
              h(
                "tr",
                { class: "short" },
                h("td", { colspan: "4" }, `${missing} cases of ${known.skuName(need.sku)} are not free to ship here`),
              ),
            );
        }
        const carrier = carrierSelect(known.carriers, option?.dispatch?.carrier);
        const eta = h("input", {
          type: "datetime-local",
          required: true,
          testid: "dispatch-eta",
          value: localTime(option?.dispatch?.eta ?? Date.now() / 1000 + 3 * 86400),
        });
        return h(
          "div",
          { class: "card card--inner", testid: "dispatch-form", data: { order: order.id, from: location } },
          h("h3", {}, `Dispatch order #${order.id} to `, site(order.deliver_to_name, order.deliver_to, known)),
          ranked ? sourcingView(ranked, location, known) : errorView(sourcing.error, "sourcing-error"),
          table(["Product", "Lot", "On hand", "Cases to send"], rows, "dispatch-lines"),
          form(
            async () => {
              const body = {
                kind: "order",
                ref: order.id,
                from_location: location,
                to_location: order.deliver_to,
                carrier: Number(carrier.value),
                eta: Math.floor(new Date(eta.value).getTime() / 1000),
                lines: lines.map((l) => ({ lot: l.lot, cases: Number(l.input.value) })).filter((l) => l.cases > 0),
              };
              await ctx.run(results, `Dispatch order #${order.id}`, "/v1/shipments", body, async (txHash) => {
                const shipment = await byTxHash(`/v1/shipments?from_location=${location}&limit=20`, txHash);
                const after = await api(`/v1/orders/${order.id}`);
                refresh();
                prepare.replaceChildren();
                return [shipmentView(await api(`/v1/shipments/${shipment.id}`), known), orderView(after, known)];
              });
            },
            h(
              "div",
              { class: "fields" },
              field("Carrier", carrier),
              field("Expected arrival", eta),
            ),
            h("button", { type: "submit", class: "primary", testid: "dispatch-submit" }, "Sign and dispatch"),
          ),
        );
      });

    const refresh = () =>
      Promise.all([
        fill(list, async () => {
          const page = await api("/v1/orders?state=approved&state=partially_dispatched&limit=30");
          if (!page.items.length) return h("p", {}, "No approved order waits for dispatch.");
          return table(
            ["Order", "State", "Deliver to", "Cases", "Approved", ""],
            page.items.map((o) =>
              h(
                "tr",
                {
                  testid: "approved-row",
                  data: { order: o.id },
                },
                h("td", {}, `#${o.id}`, o.urgent ? h("span", { class: "urgent" }, "urgent") : ""),
                h("td", {}, stateBadge(o.state)),
                h("td", {}, site(o.deliver_to_name, o.deliver_to, known)),
                h("td", {}, `${o.cases_dispatched}/${o.cases_ordered}`),
                h("td", {}, when(o.approved_at)),
                h(
                  "td",
                  {},
                  h(
                    "button",
                    { type: "button", testid: "prepare-dispatch", onclick: () => openForm(o.id) },
                    "Prepare",
                  ),
                ),
              ),
            ),
            "approved-table",
          );
        }),
        fill(sent, () => shipmentsTable(`from_location=${from.value}&limit=15`, known, "sent-table")),
      ]);
    from.addEventListener("change", refresh);
    await refresh();
    return [
      section(
        "Approved orders",
        "Dispatch from your site: the board's sourcing ranks the warehouses that could ship the order, and its " +
          "lots are picked oldest first; you may change them.",
        h("div", { class: "fields" }, field("From", from)),
        list,
        prepare,
        results,
      ),
      section(
        "Sent from your site",
        "Newest first, with the board's delay warnings and the discrepancies of short receipts.",
        sent,
      ),
    ];
  },
};

// ------------------------------------------------------------------------------------------- carrier

const checkpoints = {
  id: "checkpoints",
  title: "Checkpoints",
  async draw(ctx) {
    const list = h("div", { testid: "carried" });
    const results = h("div", { class: "results" });
    const refresh = () =>
      fill(list, async () => {
        const page = await api("/v1/shipments?state=in_transit&limit=50");
        if (!page.items.length) return h("p", {}, "Nothing in transit with you.");
        return table(
          ["Shipment", "Route", "Cases", "ETA", "Checkpoint"],
          page.items.map((s) => {
            const status = h(
              "select",
              { testid: "checkpoint-status", "aria-label": `status of shipment ${s.id}` },
              Object.entries(CHECKPOINT).map(([code, label]) => h("option", { value: code }, label)),
            );
            const place = h("input", {
              type: "text",
              required: true,
              maxlength: "200",
              placeholder: "where",
              testid: "checkpoint-place",
              "aria-label": `place of shipment ${s.id}`,
            });
            return h(
              "tr",
              { testid: "carried-row", data: { shipment: s.id } },
              h("td", {}, `#${s.id}`),
              h("td", {}, route(s)),
              h("td", {}, String(s.cases)),
              h("td", {}, when(s.eta), s.overdue ? h("span", { class: "late" }, " overdue") : ""),
              h(
                "td",
                {},
                form(
                  () =>
                    ctx.run(
                      results,
                      `Checkpoint for shipment #${s.id}`,
                      `/v1/shipments/${s.id}/checkpoints`,
                      { status: Number(status.value), place: place.value.trim() },
                      async () => shipmentView(await api(`/v1/shipments/${s.id}`)),
                    ),
                  status,
                  place,
                  h("button", { type: "submit", testid: "checkpoint-submit" }, "Sign and report"),
                ),
              ),
            );
          }),
          "carried-table",
        );
      });
    await refresh();
    return [
      section(
        "In transit with you",
        "Report where each shipment is; the receiver and the brand see it at once.",
        list,
        results,
      ),
    ];
  },
};

// ------------------------------------------------------------------------------------------- receivers

const receive = {
  id: "receive",
  title: "Receive",
  async draw(ctx) {
    const known = await names();
    const list = h("div", { testid: "incoming" });
    const confirm = h("div", { testid: "receipt-form-holder" });
    const results = h("div", { class: "results" });
    const arrived = h("div", { testid: "received-shipments" });

    const openForm = (id) =>
      fill(confirm, async () => {
        const shipment = await api(`/v1/shipments/${id}`);
        const inputs = shipment.lines.map((l) => ({
          lot: l.lot,
          input: h("input", {
            type: "number",
            min: "0",
            max: String(l.cases),
            value: String(l.cases),
            testid: "received-cases",
            "aria-label": `cases of lot ${l.lot} received`,
          }),
        }));
        return h(
          "div",
          { class: "card card--inner", testid: "receipt-form", data: { shipment: id } },
          h("h3", {}, `Shipment #${id} from `, site(shipment.from_name, shipment.from_location, known)),
          table(
            ["Product", "Lot", "Shipped", "Counted"],
            shipment.lines.map((l, i) =>
              h(
                "tr",
                {},
                h("td", {}, known.skuName(l.sku)),
                h("td", {}, h("code", { title: l.lot }, lotOf(l.lot))),
                h("td", {}, String(l.cases)),
                h("td", {}, inputs[i].input),
              ),
            ),
            "receipt-lines",
          ),
          form(
            () =>
              ctx.run(
                results,
                `Receipt of shipment #${id}`,
                `/v1/shipments/${id}/receipt`,
                { lines: inputs.map((l) => ({ lot: l.lot, received: Number(l.input.value) })) },
                async () => {
                  confirm.replaceChildren();
                  refresh();
                  recent();
                  return shipmentView(await api(`/v1/shipments/${id}`), known);
                },
              ),
            h(
              "p",
              { class: "intro" },
              "Count what arrived. A line short of what was shipped opens a discrepancy both sides see.",
            ),
            h("button", { type: "submit", class: "primary", testid: "receipt-submit" }, "Sign and confirm receipt"),
          ),
        );
      });

    const refresh = () =>
      fill(list, async () => {
        const pages = await Promise.all(
          ctx.me.locations.map((l) => api(`/v1/shipments?state=in_transit&to_location=${l}&limit=50`)),
        );
        const items = pages.flatMap((p) => p.items).sort((a, b) => b.id - a.id);
        if (!items.length) return h("p", {}, "Nothing is on its way to you.");
        return table(
          ["Shipment", "From", "For", "Cases", "ETA", ""],
          items.map((s) =>
            h(
              "tr",
              {
                testid: "incoming-row",
                data: { shipment: s.id },
              },
              h("td", {}, `#${s.id}`),
              h("td", {}, site(s.from_name, s.from_location, known)),
              h("td", {}, s.kind === "delivery" ? "delivery" : `${s.kind} #${s.ref}`),
              h("td", {}, String(s.cases)),
              h("td", {}, when(s.eta)),
              h(
                "td",
                {},
                h(
                  "button",
                  { type: "button", testid: "open-receipt", onclick: () => openForm(s.id) },
                  "Confirm receipt",
                ),
              ),
            ),
          ),
          "incoming-table",
        );
      });
    // A site's shipments of either kind, newest first: what is on the road with the board's delay warning, and
    // what arrived short with its discrepancies.
    const recent = () =>
      fill(arrived, () =>
        shipmentsTable(
          ctx.me.locations.length === 1 ? `to_location=${ctx.me.locations[0]}&limit=15` : "limit=15",
          known,
          "to-you-table",
        ),
      );
    await Promise.all([refresh(), recent()]);
    return [
      section("On its way to you", "Confirm what arrived, line by line.", list, confirm, results),
      section(
        "Your shipments",
        "Newest first, with the board's delay warnings and the discrepancies of short receipts.",
        arrived,
      ),
    ];
  },
};

// ------------------------------------------------------------------------------------------- stores

const sales = {
  id: "sales",
  title: "Sales",
  async draw(ctx) {
    const known = await names();
    const list = h("div", { testid: "store-stock" });
    const results = h("div", { class: "results" });
    const refresh = () =>
      fill(list, async () => {
        const pages = await Promise.all(
          ctx.me.locations.map((l) => api(`/v1/stock?location=${l}&include_in_transit=false`)),
        );
        const rows = pages.flatMap((p) => p.items).filter((r) => r.on_hand > 0);
        if (!rows.length) return h("p", {}, "No stock on hand.");
        return table(
          ["Product", "Lot", "On hand", "Sold"],
          rows.map((r) => {
            const cases = h("input", {
              type: "number",
              min: "1",
              max: String(r.on_hand),
              value: "1",
              testid: "sale-cases",
              "aria-label": `cases of lot ${r.lot} sold`,
            });
            return h(
              "tr",
              { testid: "stock-row", data: { lot: r.lot, location: r.location, onHand: r.on_hand } },
              h("td", {}, known.skuName(r.sku)),
              h("td", {}, h("code", { title: r.lot }, lotOf(r.lot))),
              h("td", { testid: "on-hand" }, String(r.on_hand)),
              h(
                "td",
                {},
                form(
                  () =>
                    ctx.run(
                      results,
                      "Record a sale",
                      "/v1/sales",
                      { location: r.location, lot: r.lot, cases: Number(cases.value) },
                      async () => {
                        refresh();
                        const left = (
                          await api(`/v1/stock?location=${r.location}&sku=${r.sku}&include_in_transit=false`)
                        ).items.find((x) => x.lot === r.lot);
                        return h(
                          "p",
                          { testid: "sale-result", data: { onHand: left ? left.on_hand : 0 } },
                          `${casesOf(cases.value)} of ${known.skuName(r.sku)} sold; ` +
                            `${casesOf(left ? left.on_hand : 0)} of the lot left on hand.`,
                        );
                      },
                    ),
                  cases,
                  h("button", { type: "submit", testid: "sale-submit" }, "Sign sale"),
                ),
              ),
            );
          }),
          "stock-table",
        );
      });
    await refresh();
    return [
      section(
        "Your stock",
        "Record cases sold to consumers: they leave the ledger's stock as sell-through.",
        list,
        results,
      ),
    ];
  },
};

// ------------------------------------------------------------------------------------------- auditors

function provenanceView(answer, known = null) {
  const lot = answer.lot;
  const order = answer.order;
  return h(
    "div",
    { class: "object", testid: "provenance", data: { kind: lot ? "lot" : "order" } },
    lot
      ? h(
          "div",
          {},
          h(
            "h4",
            {},
            `Lot ${lotNumber(lot.lot_number)} (SKU ${lot.sku})`,
            lot.recalled ? h("span", { class: "late" }, " recalled") : "",
          ),
          h(
            "p",
            {},
            `Commissioned ${lot.cases} cases, ${lot.bottles} bottles at location ${lot.location} on `,
            when(lot.commissioned_at),
            " · transaction ",
            h("code", { title: lot.tx_hash }, short(lot.tx_hash)),
          ),
          h("p", {}, "Merkle root ", h("code", { testid: "merkle-root" }, lot.merkle_root)),
        )
      : null,
    order ? orderView(order, known) : null,
    answer.shipments.length
      ? table(
          ["Shipment", "Route", "Carrier", "Dispatched", "Received", "Shortfall", "Checkpoints", "Transaction"],
          answer.shipments.map((s) =>
            h(
              "tr",
              { testid: "provenance-shipment" },
              h("td", {}, `#${s.id}`),
              h("td", {}, route(s, known)),
              h("td", {}, party(s.carrier_name, s.carrier, known?.carrier(s.carrier))),
              h("td", {}, s.dispatched_at || "—"),
              h("td", {}, s.received_at || "in transit"),
              h("td", {}, String(s.shortfall ?? "—")),
              h(
                "td",
                {},
                (s.checkpoints || []).map((c) => h("div", {}, `${CHECKPOINT[c.status] || c.status} · ${c.place}`)),
              ),
              h("td", {}, h("code", { title: s.tx_hash }, short(s.tx_hash))),
            ),
          ),
          "provenance-shipments",
        )
      : h("p", {}, "No shipment has carried it yet."),
  );
}

/** Downloads the ledger's EPCIS 2.0 export: fetched with the member's token, saved by the browser as a file. */
async function downloadExport(status) {
  status.replaceChildren(h("span", { role: "status" }, "Exporting…"));
  const answer = await fetch("/v1/epcis/export", { headers: { Authorization: `Bearer ${currentSession().token}` } });
  if (!answer.ok) {
    const body = await answer.json().catch(() => ({ error: "HttpError", detail: {} }));
    throw Object.assign(new Error(body.error), { status: answer.status, error: body.error, detail: body.detail });
  }
  const blob = await answer.blob();
  const link = h(
    "a",
    { href: URL.createObjectURL(blob), download: "ledger-epcis.jsonld", testid: "epcis-file" },
    "ledger-epcis.jsonld",
  );
  document.body.append(link);
  link.click();
  link.remove();
  status.replaceChildren(
    h(
      "span",
      { testid: "epcis-done", data: { bytes: blob.size } },
      `Saved ledger-epcis.jsonld (${(blob.size / 1024).toFixed(1)} KiB, EPCIS 2.0 JSON-LD).`,
    ),
  );
}

const provenance = {
  id: "provenance",
  title: "Provenance",
  async draw() {
    const known = await names();
    const shipmentsList = h("div", { testid: "ledger-shipments" });
    const lotsList = h("div", { testid: "lots" });
    const view = h("div", { testid: "provenance-holder" });
    const exportStatus = h("p", { class: "export-status" });
    const open = (path) => fill(view, async () => provenanceView(await api(path), known));
    const recent = fill(shipmentsList, () => shipmentsTable("limit=15", known, "ledger-shipments-table"));
    await fill(lotsList, async () => {
      const page = await api("/v1/lots?limit=20");
      return table(
        ["Lot", "SKU", "Cases", "Commissioned", ""],
        page.items.map((l) =>
          h(
            "tr",
            { testid: "lot-row", data: { lot: l.lot } },
            h("td", {}, lotNumber(l.lot_number)),
            h("td", {}, String(l.sku)),
            h("td", {}, String(l.cases)),
            h("td", {}, when(l.commissioned_at)),
            h(
              "td",
              {},
              h(
                "button",
                { type: "button", testid: "open-lot", onclick: () => open(`/v1/provenance/lots/${l.lot}`) },
                "Provenance",
              ),
            ),
          ),
        ),
        "lots-table",
      );
    });
    await recent;
    const orderId = h("input", {
      type: "number",
      min: "1",
      required: true,
      testid: "provenance-order-id",
      "aria-label": "order id",
    });
    return [
      section(
        "EPCIS export",
        "Every event of the ledger as one EPCIS 2.0 document, with event hashes.",
        h(
          "button",
          {
            type: "button",
            class: "primary",
            testid: "epcis-export",
            onclick: () =>
              downloadExport(exportStatus).catch((error) => exportStatus.replaceChildren(errorView(error))),
          },
          "Download EPCIS export",
        ),
        exportStatus,
      ),
      section(
        "Provenance",
        "An order and the shipments that carried it, or a lot's commissioning and every shipment of it.",
        form(
          () => open(`/v1/provenance/orders/${orderId.value}`),
          h(
            "div",
            { class: "fields" },
            field("Order", orderId),
            h("button", { type: "submit", testid: "open-order" }, "Order provenance"),
          ),
        ),
        view,
      ),
      section(
        "Shipments",
        "Newest first, with the board's delay warnings and the discrepancies of short receipts.",
        shipmentsList,
      ),
      section("Lots", "Newest first.", lotsList),
    ];
  },
};

const PAGES = { orders, deliver, approvals, dispatch, checkpoints, receive, sales, provenance };
