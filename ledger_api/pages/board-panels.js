// The board's panels, each drawn from its endpoints' answers (the board's JSON contract, /v1/analytics/...):
// order cycle time, delay early warning, stock imbalance, transfer suggestions, distributor health, price
// alerts and scan intelligence. A panel is made of parts; each part names the endpoint it draws and a function
// from that answer to its elements. Names of regions and SKUs come from `names` (the organisations and the
// catalog the member may see). Every figure keeps its raw value in a data attribute beside the text.

import { api } from "./session.js";
import {
  COLOURS, bps, chart, count, day, days, figure, h, hours, named, said, share, shortHash, targetLine, when, yuan,
} from "./board-util.js";

const withRegion = (path, region) => (region ? `${path}${path.includes("?") ? "&" : "?"}region=${region}` : path);

// ------------------------------------------------------------------------------------ order cycle time

function drawWeeklyCycle(answer) {
  const weeks = answer.weeks || [];
  if (!weeks.length) return h("p", { class: "empty" }, "No orders were submitted in this reach yet.");
  const labels = weeks.map((w) => day(w.week_start));
  const target = answer.target_hours || { normal: 8, urgent: 12 };
  const line = (label, key, colour, extra = {}) => ({
    label, data: weeks.map((w) => w[key]), borderColor: colour, backgroundColor: colour, spanGaps: true,
    tension: 0.2, pointRadius: 2, ...extra,
  });
  const last = weeks[weeks.length - 1];
  return h("div", {},
    h("div", { class: "figures" },
      figure("weekly-last-median", `approval median, week of ${day(last.week_start)}`,
        hours(last.approval_median_hours), last.approval_median_hours),
      figure("weekly-last-within", "approved within target that week", share(last.within_target_share),
        last.within_target_share),
      figure("weekly-weeks", "weeks drawn", count(weeks.length), weeks.length)),
    chart("chart-cycle-weekly", "Weekly approval and delivery hours against the 8 and 12 hour targets", {
      type: "line",
      data: {
        labels,
        datasets: [
          line("Approval median", "approval_median_hours", COLOURS.median),
          line("Approval p90", "approval_p90_hours", COLOURS.p90),
          line("Urgent approval median", "urgent_approval_median_hours", COLOURS.urgent),
          line("Delivery median (right axis)", "delivery_median_hours", COLOURS.delivery,
            { yAxisID: "delivery", borderDash: [2, 3] }),
          line("Delivery p90 (right axis)", "delivery_p90_hours", COLOURS.deliveryP90,
            { yAxisID: "delivery", borderDash: [2, 3] }),
          targetLine(`${target.normal} h approval target`, target.normal, labels, COLOURS.target),
          targetLine(`${target.urgent} h urgent target`, target.urgent, labels, COLOURS.urgentTarget),
        ],
      },
      options: {
        scales: {
          y: { beginAtZero: true, title: { display: true, text: "approval, hours" } },
          delivery: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
            title: { display: true, text: "delivery, hours" } },
          x: { title: { display: true, text: "week starting (UTC)" } },
        },
      },
    }, 300));
}

function drawRegionCycle(answer, names) {
  const all = answer.all || {};
  const approval = all.submit_to_approved || {};
  const delivered = all.submit_to_delivered || {};
  const regions = answer.regions || [];
  const labels = regions.map((r) => names.region(r.region));
  const target = (answer.target_hours || {}).normal ?? 8;
  return h("div", {},
    h("div", { class: "figures" },
      figure("cycle-orders", "orders", count(all.orders), all.orders),
      figure("cycle-approval-median", "submit → approved, median", hours(approval.median_hours),
        approval.median_hours),
      figure("cycle-approval-p90", "submit → approved, p90", hours(approval.p90_hours), approval.p90_hours),
      figure("cycle-within-target", "approved within target", share((all.within_target || {}).share),
        (all.within_target || {}).share),
      figure("cycle-delivery-median", "submit → delivered, median", hours(delivered.median_hours),
        delivered.median_hours)),
    regions.length ? chart("chart-cycle-regions", "Approval hours per region, median and p90, against the target", {
      type: "bar",
      data: {
        labels,
        datasets: [
          { label: "Approval median", data: regions.map((r) => r.submit_to_approved.median_hours),
            backgroundColor: COLOURS.median, order: 1 },
          { label: "Approval p90", data: regions.map((r) => r.submit_to_approved.p90_hours),
            backgroundColor: COLOURS.p90, order: 1 },
          targetLine(`${target} h target`, target, labels, COLOURS.target),
        ],
      },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: "hours" } } } },
    }, Math.max(240, Math.min(420, 120 + regions.length * 8)))
      : h("p", { class: "empty" }, "No orders in this reach yet."));
}

// ------------------------------------------------------------------------------------ delay early warning

function drawDelays(answer, names) {
  const test = answer.backtest || {};
  const atRisk = answer.at_risk || [];
  const shown = atRisk.slice(0, 10);
  return h("div", {},
    h("div", { class: "figures" },
      figure("delay-at-risk", "shipments at risk now", count(atRisk.length), atRisk.length),
      figure("delay-precision", `precision: of ${count(test.flagged)} flagged, late`, share(test.precision),
        test.precision),
      figure("delay-recall", `recall: of ${count(test.late)} late, flagged`, share(test.recall), test.recall),
      figure("delay-warning-hours", "median warning ahead of the ETA", hours(test.median_warning_hours),
        test.median_warning_hours)),
    h("p", { class: "note", testid: "delay-method" },
      `Back-tested over ${count(test.shipments)} received shipments: ${count(test.flagged_and_late)} flagged and `
      + `really late. ${test.method || ""}`),
    shown.length
      ? h("ol", { class: "risk-list", "aria-label": "Shipments predicted to miss their ETA, highest risk first" },
        shown.map((s) => h("li", { testid: "at-risk", data: { shipment: s.shipment, risk: s.risk } },
          h("div", { class: "risk-list__head" },
            h("meter", { min: 0, max: 1, low: 0.3, high: 0.6, optimum: 0, value: s.risk,
              "aria-label": `risk ${share(s.risk)}` }),
            h("strong", {}, share(s.risk)),
            h("span", {}, `Shipment #${s.shipment}${s.order ? ` · order #${s.order}` : ""} · ${s.kind}`),
            h("span", { class: "late" }, `+${hours(s.hours_late_predicted)} late`)),
          h("div", { class: "risk-list__route" },
            `${s.from_name} → ${s.to_name} (${names.regionOf(s)}) · ${s.carrier_name} · `
            + `ETA ${when(s.eta)} · predicted ${when(s.predicted_arrival)}`),
          h("div", { class: "note" }, s.reason))))
      : h("p", { class: "empty" }, "No shipment in transit is predicted to miss its ETA."),
    atRisk.length > shown.length ? h("p", { class: "note" }, `and ${atRisk.length - shown.length} more at risk`)
      : null);
}

// ------------------------------------------------------------------------------------ stock imbalance

/** Cases beyond what the surplus bound needs (all of them when nothing sells): how big a surplus is. */
function excess(row, surplusDays) {
  return row.days_of_cover === null ? row.on_hand : Math.round(row.on_hand - surplusDays * row.daily_sales);
}

function drawCover(answer, names) {
  const rows = answer.rows || [];
  if (!rows.length) return h("p", { class: "empty" }, "No stock or sales in this reach yet.");
  const regions = [...new Set(rows.map((r) => r.region))];
  const skus = [...new Set(rows.map((r) => r.sku))].sort((a, b) => a - b);
  const cell = new Map(rows.map((r) => [`${r.region}/${r.sku}`, r]));
  const short = rows.filter((r) => r.flag === "shortage").sort((a, b) => a.days_of_cover - b.days_of_cover);
  const surplus = rows.filter((r) => r.flag === "surplus")
    .sort((a, b) => excess(b, answer.surplus_days) - excess(a, answer.surplus_days));
  // Per region, how many SKUs are short, balanced or in surplus: a region's cover summed over its SKUs would
  // hide a sold-out flagship behind the cases of slow sellers.
  const tally = (flag) => regions.map((region) => rows.filter((r) => r.region === region && r.flag === flag).length);
  const callout = (r, text) => h("li", { testid: "imbalance", data: { region: r.region, sku: r.sku, flag: r.flag } },
    h("span", { class: `flag flag--${r.flag}` }, r.flag), " ", text);
  return h("div", {},
    h("div", { class: "figures" },
      figure("cover-shortages", `region × SKU short (under ${answer.shortage_days} d)`, count(short.length),
        short.length),
      figure("cover-surpluses", `with a surplus (over ${answer.surplus_days} d or unsold)`, count(surplus.length),
        surplus.length),
      figure("cover-window", "sell-through window", `${answer.window_days} d`, answer.window_days)),
    h("ul", { class: "callouts", "aria-label": "The biggest imbalances" },
      short.slice(0, 3).map((r) => callout(r,
        `${names.region(r.region)} is short of ${names.sku(r.sku)}: ${days(r.days_of_cover)} of cover `
        + `(${count(r.on_hand)} cases, selling ${r.daily_sales}/day`
        + `${r.in_transit ? `, ${count(r.in_transit)} on the way` : ""}).`)),
      surplus.slice(0, 3).map((r) => callout(r,
        `${names.region(r.region)} sits on ${count(r.on_hand)} cases of ${names.sku(r.sku)}: `
        + `${r.days_of_cover === null ? "none sold in the window" : `${days(r.days_of_cover)} of cover`}.`))),
    chart("chart-cover-regions", "SKUs short, balanced and in surplus per region", {
      type: "bar",
      data: {
        labels: regions.map((region) => names.region(region)),
        datasets: [
          { label: "SKUs short", data: tally("shortage"), backgroundColor: COLOURS.shortage },
          { label: "SKUs balanced", data: tally(null), backgroundColor: COLOURS.balanced },
          { label: "SKUs in surplus", data: tally("surplus"), backgroundColor: COLOURS.surplus },
        ],
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 },
        title: { display: true, text: "SKUs" } } } },
    }, 220),
    h("div", { class: "heat-wrap" },
      h("table", { class: "heat", testid: "cover-grid", "aria-label": "Days of cover per region and SKU" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Region"),
          skus.map((sku) => h("th", { scope: "col", title: names.sku(sku) }, names.skuShort(sku))))),
        h("tbody", {}, regions.map((region) => h("tr", {},
          h("th", { scope: "row" }, names.region(region)),
          skus.map((sku) => {
            const r = cell.get(`${region}/${sku}`);
            if (!r) return h("td", { class: "heat__cell heat__cell--none" }, "");
            return h("td", {
              class: `heat__cell heat__cell--${r.flag || "ok"}`, testid: "cover-cell",
              title: `${names.region(region)} · ${names.sku(sku)}: ${count(r.on_hand)} on hand, `
                + `${count(r.in_transit)} on the way, ${r.daily_sales}/day`,
              data: { region, sku, days: r.days_of_cover ?? "", flag: r.flag || "" },
            }, r.days_of_cover === null ? (r.on_hand ? "unsold" : "–") : Math.round(r.days_of_cover));
          })))))),
    h("p", { class: "legend" },
      h("span", { class: "flag flag--shortage" }, "shortage"), " under ", `${answer.shortage_days} days · `,
      h("span", { class: "flag flag--surplus" }, "surplus"), ` over ${answer.surplus_days} days or unsold · `,
      "figures are days of cover at the sell-through of the last ", `${answer.window_days} days.`));
}

// ------------------------------------------------------------------------------------ transfer suggestions

async function execute(suggestion, button, result) {
  button.disabled = true;
  button.textContent = "Requesting…";
  result.replaceChildren();
  result.dataset.state = "pending";
  try {
    const written = await api("/v1/transfers", { method: "POST", body: suggestion.request });
    const transfer = written.result; // absent when the API stopped waiting (202): the hash follows it up
    result.dataset.state = transfer ? "done" : "pending";
    result.dataset.txHash = written.tx_hash;
    if (transfer) result.dataset.transfer = transfer.id;
    result.append(
      h("span", {}, transfer ? `Transfer #${transfer.id} ${transfer.state}: ${count(transfer.cases)} cases. `
        : "Sent; the ledger has not confirmed it yet. "),
      h("span", {}, "Transaction "), h("code", { testid: "transfer-tx", title: written.tx_hash }, written.tx_hash));
    button.textContent = "Requested";
  } catch (thrown) {
    const error = named(thrown);
    result.dataset.state = "error";
    result.append(h("strong", { testid: "transfer-error" }, error.error), " ", said(error));
    button.disabled = false;
    button.textContent = "Execute";
  }
}

function drawTransfers(answer, names) {
  const suggestions = answer.suggestions || [];
  const weights = Object.entries(answer.weights || {}).map(([k, v]) => `${k.replaceAll("_", " ")} ${v}`).join(", ");
  return h("div", {},
    h("p", { class: "note" }, `Scored by ${weights || "the analytics' weights"}; best first. Executing one asks the `
      + "ledger for the transfer; the brand's sales director approves it."),
    suggestions.length
      ? h("ol", { class: "suggestions", "aria-label": "Transfer suggestions, best first" },
        suggestions.slice(0, 10).map((s) => {
          const button = h("button", { type: "button", testid: "execute-transfer",
            "aria-label": `Execute: move ${s.cases} cases of ${s.sku_name} from ${s.from_name} to ${s.to_name}` },
          "Execute");
          const result = h("div", { class: "suggestion__result", testid: "transfer-result", "aria-live": "polite" });
          button.addEventListener("click", () => execute(s, button, result));
          return h("li", { class: "suggestion", testid: "suggestion", data: { id: s.id, cases: s.cases } },
            h("div", { class: "suggestion__main" },
              h("strong", {}, `${count(s.cases)} cases of ${s.sku_name}`),
              h("span", {}, `${s.from_name} → ${s.to_name} (${names.regionOf(s)})`),
              h("span", { class: "note" },
                `${hours(s.lead_time_hours)} lead time · ${yuan(s.cost_yuan)} · `
                + `cover ${days(s.cover_days_before)} → ${days(s.cover_days_after)} · `
                + `score ${Number(s.score).toFixed(2)}`),
              h("span", { class: "note" }, s.reason)),
            button, result);
        }))
      : h("p", { class: "empty" }, "No transfer would ease an imbalance right now."));
}

// ------------------------------------------------------------------------------------ distributor health

function drawHealth(answer, names) {
  const ranked = answer.distributors || [];
  const formula = answer.formula || {};
  const top = ranked.filter((d) => d.top);
  const weights = Object.entries(formula.weights || {});
  // A few distributors read best as named rows; a whole network's as one ranked profile, named on hover.
  const rows = ranked.length <= 30;
  return h("div", {},
    h("div", { class: "formula", testid: "health-formula" },
      h("p", {}, formula.text || ""),
      h("ul", { class: "weights" }, weights.map(([name, w]) => h("li", {}, `${name.replaceAll("_", " ")}: `,
        h("strong", {}, share(w)))))),
    ranked.length ? chart("chart-health", "Distributor health score, ranked; the top 20% in green", {
      type: "bar",
      data: {
        labels: ranked.map((d) => d.name),
        datasets: [{ label: "Health score (0-100)", data: ranked.map((d) => d.score),
          backgroundColor: ranked.map((d) => (d.top ? COLOURS.top : COLOURS.rest)) }],
      },
      options: {
        indexAxis: rows ? "y" : "x",
        plugins: { legend: { display: false } },
        scales: rows ? { x: { beginAtZero: true, max: 100 } }
          : { y: { beginAtZero: true, max: 100 }, x: { ticks: { display: false }, title: { display: true,
            text: `${count(ranked.length)} distributors by rank` } } },
      },
    }, rows ? Math.max(160, 40 + ranked.length * 22) : 240)
      : h("p", { class: "empty" }, "No distributor in this reach."),
    top.length ? h("div", {}, h("h3", {}, `Top 20%: ${top.length} of ${ranked.length}`),
      h("ol", { class: "top-list", testid: "health-top" }, top.map((d) => h("li", {
        testid: "health-top-item", data: { distributor: d.distributor, score: d.score, rank: d.rank } },
      `${d.name} (${names.regionOf(d)}): `, h("strong", {}, Number(d.score).toFixed(1)))))) : null);
}

// ------------------------------------------------------------------------------------ price alerts

/** A revision's alerts, largest change first; a revision of the whole catalog shows its first few. */
function alertList(alerts, shown = 6) {
  const largest = [...alerts].sort((a, b) => Math.abs(b.change_bps) - Math.abs(a.change_bps));
  return h("ul", {}, largest.slice(0, shown).map((a) => h("li", {
    testid: "price-alert", data: { sku: a.sku, bps: a.change_bps } },
  h("span", { class: a.change_bps > 0 ? "up" : "down" }, bps(a.change_bps)),
  ` ${a.sku_name} (tier ${a.tier}): ${yuan(a.old_price_yuan)} → ${yuan(a.new_price_yuan)}`)),
  largest.length > shown ? h("li", { class: "note" }, `and ${largest.length - shown} more`) : null);
}

function drawPrices(answer) {
  const revisions = (answer.revisions || []).slice(0, 8);
  const alerts = answer.alerts || [];
  return h("div", {},
    h("p", { class: "note" }, `A change of more than ${bps(answer.threshold_bps).replace("+", "")} raises an alert; `
      + `${count(alerts.length)} alerts in ${count((answer.revisions || []).length)} price revisions.`),
    revisions.length
      ? h("ol", { class: "revisions", "aria-label": "Price revisions with alerts, newest first" },
        revisions.map((r) => h("li", { testid: "price-revision", data: { tx: r.tx_hash, skus: r.skus.join(" ") } },
          h("div", { class: "revision__head" }, h("strong", {}, when(r.time)),
            ` · ${count(r.skus.length)} SKU${r.skus.length === 1 ? "" : "s"} · up to ${bps(r.max_change_bps)} · `,
            h("code", { title: r.tx_hash }, shortHash(r.tx_hash))),
          alertList(alerts.filter((a) => a.tx_hash === r.tx_hash)))))
      : h("p", { class: "empty" }, "No price change beyond the threshold."));
}

// ------------------------------------------------------------------------------------ scan intelligence

function drawScans(answer, names) {
  const weeks = answer.weeks || [];
  const verdicts = answer.verdicts || [];
  const spots = answer.hot_spots || [];
  const regions = (answer.regions || []).slice(0, 8);
  return h("div", {},
    weeks.length ? chart("chart-scans", "Consumer scans per week by verdict", {
      type: "bar",
      data: {
        labels: weeks.map((w) => day(w.week_start)),
        datasets: verdicts.map((v) => ({ label: v, data: weeks.map((w) => (w.counts || {})[v] || 0),
          backgroundColor: COLOURS.verdicts[v] || COLOURS.muted })),
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    }, 260) : h("p", { class: "empty" }, "No consumer scans logged yet."),
    h("div", { class: "columns" },
      h("div", {}, h("h3", {}, "Regions by risk share"),
        regions.length ? h("ol", { class: "bars" }, regions.map((r) => h("li", {
          testid: "scan-region", data: { region: r.region, share: r.risk_share } },
        h("span", {}, `${names.scanRegion(r.region)} · ${count(r.total)} scans`),
        h("meter", { min: 0, max: 1, low: 0.1, high: 0.3, optimum: 0, value: r.risk_share,
          "aria-label": `risk share ${share(r.risk_share)}` }),
        h("strong", {}, share(r.risk_share, 1))))) : h("p", { class: "empty" }, "None.")),
      h("div", {}, h("h3", {}, "Hot spots"),
        spots.length ? h("ol", { class: "hot-spots" }, spots.map((s) => h("li", {
          testid: "hot-spot", data: { verdict: s.verdict, count: s.count } },
        h("span", { class: `verdict verdict--${s.verdict}` }, s.verdict),
        ` ${s.city ? `${s.city}, ` : ""}${names.scanRegion(s.region)}: ${count(s.count)} (${share(s.share, 1)})`)))
          : h("p", { class: "empty" }, "No counterfeit, opened or diverted scans."))));
}

// ------------------------------------------------------------------------------------ the panels, in order

/** The board's panels in the order a supply-chain director reads them: is the flow on time, what is about to
 * be late, where stock is wrong and how to fix it, who the good partners are, then prices and the market. */
export function panels(region) {
  return [
    { id: "cycle", title: "Order cycle time", intro: "Submit → approved → delivered, against the 8 h approval "
      + "target (12 h for urgent orders).", parts: [
      { id: "cycle-weekly", path: withRegion("/v1/analytics/cycle-times/weekly", region), draw: drawWeeklyCycle },
      { id: "cycle-regions", path: withRegion("/v1/analytics/cycle-times", region), draw: drawRegionCycle },
    ] },
    { id: "delays", title: "Delay early warning", intro: "Shipments in transit predicted to miss their ETA, and how "
      + "well the prediction did on shipments already received.", parts: [
      { id: "delays", path: withRegion("/v1/analytics/delay-warnings", region), draw: drawDelays },
    ] },
    { id: "cover", title: "Stock imbalance", intro: "Days of cover per region and SKU from the channel's "
      + "sell-through.", parts: [
      { id: "cover", path: withRegion("/v1/analytics/stock-cover", region), draw: drawCover },
    ] },
    { id: "transfers", title: "Transfer suggestions", intro: "Which warehouse should ship how many cases where.",
      parts: [{ id: "transfers", path: withRegion("/v1/analytics/transfer-suggestions", region),
        draw: drawTransfers }] },
    { id: "health", title: "Distributor health", intro: "A score from 0 to 100 per distributor; the top 20% are "
      + "marked.", parts: [
      { id: "health", path: withRegion("/v1/analytics/distributor-health", region), draw: drawHealth },
    ] },
    { id: "prices", title: "Price alerts", intro: "Price changes beyond the alert threshold, by revision.", parts: [
      { id: "prices", path: "/v1/analytics/price-alerts", draw: drawPrices },
    ] },
    { id: "scans", title: "Scan intelligence", intro: "Consumer scans by verdict: counterfeit (unknown), opened "
      + "and diversion hot spots.", parts: [
      { id: "scans", path: withRegion("/v1/analytics/scans", region), draw: drawScans },
    ] },
  ];
}
