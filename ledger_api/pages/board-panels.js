// The board's panels, each drawn from its endpoints' answers (the board's JSON contract, /v1/analytics/...):
// order cycle time, delay early warning, stock imbalance, transfer suggestions, distributor health, price
// alerts and scan intelligence. A panel is made of parts; each part names the endpoint it draws and a function
// from that answer to its elements. Names of regions and SKUs come from `names` (the organisations and the
// catalog the member may see). Every figure keeps its raw value in a data attribute beside the text. Texts go
// through `tr`, so a panel redrawn after the language changes reads in the new one.

import { tr } from "./board-i18n.js";
import { api } from "./session.js";
import {
  COLOURS, bps, chart, count, day, days, figure, h, hours, named, said, share, shortHash, targetLine, when, yuan,
} from "./board-util.js";

const withRegion = (path, region) => (region ? `${path}${path.includes("?") ? "&" : "?"}region=${region}` : path);

// ------------------------------------------------------------------------------------ order cycle time

function drawWeeklyCycle(answer) {
  const weeks = answer.weeks || [];
  if (!weeks.length) return h("p", { class: "empty" }, tr("No orders were submitted in this reach yet."));
  const labels = weeks.map((w) => day(w.week_start));
  const target = answer.target_hours || { normal: 8, urgent: 12 };
  const line = (label, key, colour, extra = {}) => ({
    label, data: weeks.map((w) => w[key]), borderColor: colour, backgroundColor: colour, spanGaps: true,
    tension: 0.2, pointRadius: 2, ...extra,
  });
  const last = weeks[weeks.length - 1];
  return h("div", {},
    h("div", { class: "figures" },
      figure("weekly-last-median", tr("approval median, week of {week}", { week: day(last.week_start) }),
        hours(last.approval_median_hours), last.approval_median_hours),
      figure("weekly-last-within", tr("approved within target that week"), share(last.within_target_share),
        last.within_target_share),
      figure("weekly-weeks", tr("weeks drawn"), count(weeks.length), weeks.length)),
    chart("chart-cycle-weekly", tr("Weekly approval and delivery hours against the 8 and 12 hour targets"), {
      type: "line",
      data: {
        labels,
        datasets: [
          line(tr("Approval median"), "approval_median_hours", COLOURS.median),
          line(tr("Approval p90"), "approval_p90_hours", COLOURS.p90),
          line(tr("Urgent approval median"), "urgent_approval_median_hours", COLOURS.urgent),
          line(tr("Delivery median (right axis)"), "delivery_median_hours", COLOURS.delivery,
            { yAxisID: "delivery", borderDash: [2, 3] }),
          line(tr("Delivery p90 (right axis)"), "delivery_p90_hours", COLOURS.deliveryP90,
            { yAxisID: "delivery", borderDash: [2, 3] }),
          targetLine(tr("{v} h approval target", { v: target.normal }), target.normal, labels, COLOURS.target),
          targetLine(tr("{v} h urgent target", { v: target.urgent }), target.urgent, labels, COLOURS.urgentTarget),
        ],
      },
      options: {
        scales: {
          y: { beginAtZero: true, title: { display: true, text: tr("approval, hours") } },
          delivery: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
            title: { display: true, text: tr("delivery, hours") } },
          x: { title: { display: true, text: tr("week starting (UTC)") } },
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
      figure("cycle-orders", tr("orders"), count(all.orders), all.orders),
      figure("cycle-approval-median", tr("submit → approved, median"), hours(approval.median_hours),
        approval.median_hours),
      figure("cycle-approval-p90", tr("submit → approved, p90"), hours(approval.p90_hours), approval.p90_hours),
      figure("cycle-within-target", tr("approved within target"), share((all.within_target || {}).share),
        (all.within_target || {}).share),
      figure("cycle-delivery-median", tr("submit → delivered, median"), hours(delivered.median_hours),
        delivered.median_hours)),
    regions.length ? chart("chart-cycle-regions", tr("Approval hours per region, median and p90, against the target"), {
      type: "bar",
      data: {
        labels,
        datasets: [
          { label: tr("Approval median"), data: regions.map((r) => r.submit_to_approved.median_hours),
            backgroundColor: COLOURS.median, order: 1 },
          { label: tr("Approval p90"), data: regions.map((r) => r.submit_to_approved.p90_hours),
            backgroundColor: COLOURS.p90, order: 1 },
          targetLine(tr("{v} h target", { v: target }), target, labels, COLOURS.target),
        ],
      },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: tr("hours") } } } },
    }, Math.max(240, Math.min(420, 120 + regions.length * 8)))
      : h("p", { class: "empty" }, tr("No orders in this reach yet.")));
}

// ------------------------------------------------------------------------------------ delay early warning

function drawDelays(answer, names) {
  const test = answer.backtest || {};
  const atRisk = answer.at_risk || [];
  const shown = atRisk.slice(0, 10);
  return h("div", {},
    h("div", { class: "figures" },
      figure("delay-at-risk", tr("shipments at risk now"), count(atRisk.length), atRisk.length),
      figure("delay-precision", tr("precision: of {n} flagged, late", { n: count(test.flagged) }),
        share(test.precision), test.precision),
      figure("delay-recall", tr("recall: of {n} late, flagged", { n: count(test.late) }), share(test.recall),
        test.recall),
      figure("delay-warning-hours", tr("median warning ahead of the ETA"), hours(test.median_warning_hours),
        test.median_warning_hours)),
    h("p", { class: "note", testid: "delay-method" },
      tr("Back-tested over {shipments} received shipments: {both} flagged and really late.",
        { shipments: count(test.shipments), both: count(test.flagged_and_late) }), " ", test.method || ""),
    shown.length
      ? h("ol", { class: "risk-list", "aria-label": tr("Shipments predicted to miss their ETA, highest risk first") },
        shown.map((s) => h("li", { testid: "at-risk", data: { shipment: s.shipment, risk: s.risk } },
          h("div", { class: "risk-list__head" },
            h("meter", { min: 0, max: 1, low: 0.3, high: 0.6, optimum: 0, value: s.risk,
              "aria-label": tr("risk {v}", { v: share(s.risk) }) }),
            h("strong", {}, share(s.risk)),
            h("span", {}, [tr("Shipment #{id}", { id: s.shipment }),
              s.order ? tr("order #{id}", { id: s.order }) : null, s.kind].filter(Boolean).join(" · ")),
            h("span", { class: "late" }, tr("+{v} late", { v: hours(s.hours_late_predicted) }))),
          h("div", { class: "risk-list__route" },
            `${s.from_name} → ${s.to_name} (${names.regionOf(s)}) · ${s.carrier_name} · `,
            tr("ETA {eta} · predicted {predicted}", { eta: when(s.eta), predicted: when(s.predicted_arrival) })),
          h("div", { class: "note" }, s.reason))))
      : h("p", { class: "empty" }, tr("No shipment in transit is predicted to miss its ETA.")),
    atRisk.length > shown.length
      ? h("p", { class: "note" }, tr("and {n} more at risk", { n: atRisk.length - shown.length })) : null);
}

// ------------------------------------------------------------------------------------ stock imbalance

/** Cases beyond what the surplus bound needs (all of them when nothing sells): how big a surplus is. */
function excess(row, surplusDays) {
  return row.days_of_cover === null ? row.on_hand : Math.round(row.on_hand - surplusDays * row.daily_sales);
}

function drawCover(answer, names) {
  const rows = answer.rows || [];
  if (!rows.length) return h("p", { class: "empty" }, tr("No stock or sales in this reach yet."));
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
    h("span", { class: `flag flag--${r.flag}` }, tr(r.flag)), " ", text);
  return h("div", {},
    h("div", { class: "figures" },
      figure("cover-shortages", tr("region × SKU short (under {v} d)", { v: answer.shortage_days }),
        count(short.length), short.length),
      figure("cover-surpluses", tr("with a surplus (over {v} d or unsold)", { v: answer.surplus_days }),
        count(surplus.length), surplus.length),
      figure("cover-window", tr("sell-through window"), tr("{v} d", { v: answer.window_days }), answer.window_days)),
    h("ul", { class: "callouts", "aria-label": tr("The biggest imbalances") },
      short.slice(0, 3).map((r) => callout(r, tr(
        "{region} is short of {sku}: {days} of cover ({cases} cases, selling {rate}/day{coming}).", {
          region: names.region(r.region), sku: names.sku(r.sku), days: days(r.days_of_cover), cases: count(r.on_hand),
          rate: r.daily_sales, coming: r.in_transit ? tr(", {n} on the way", { n: count(r.in_transit) }) : "",
        }))),
      surplus.slice(0, 3).map((r) => callout(r, tr("{region} sits on {cases} cases of {sku}: {cover}.", {
        region: names.region(r.region), cases: count(r.on_hand), sku: names.sku(r.sku),
        cover: r.days_of_cover === null ? tr("none sold in the window")
          : tr("{days} of cover", { days: days(r.days_of_cover) }),
      })))),
    chart("chart-cover-regions", tr("SKUs short, balanced and in surplus per region"), {
      type: "bar",
      data: {
        labels: regions.map((region) => names.region(region)),
        datasets: [
          { label: tr("SKUs short"), data: tally("shortage"), backgroundColor: COLOURS.shortage },
          { label: tr("SKUs balanced"), data: tally(null), backgroundColor: COLOURS.balanced },
          { label: tr("SKUs in surplus"), data: tally("surplus"), backgroundColor: COLOURS.surplus },
        ],
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 },
        title: { display: true, text: tr("SKUs") } } } },
    }, 220),
    h("div", { class: "heat-wrap" },
      h("table", { class: "heat", testid: "cover-grid", "aria-label": tr("Days of cover per region and SKU") },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, tr("Region")),
          skus.map((sku) => h("th", { scope: "col", title: names.sku(sku) }, names.skuShort(sku))))),
        h("tbody", {}, regions.map((region) => h("tr", {},
          h("th", { scope: "row" }, names.region(region)),
          skus.map((sku) => {
            const r = cell.get(`${region}/${sku}`);
            if (!r) return h("td", { class: "heat__cell heat__cell--none" }, "");
            return h("td", {
              class: `heat__cell heat__cell--${r.flag || "ok"}`, testid: "cover-cell",
              title: tr("{region} · {sku}: {held} on hand, {coming} on the way, {rate}/day", {
                region: names.region(region), sku: names.sku(sku), held: count(r.on_hand), coming: count(r.in_transit),
                rate: r.daily_sales }),
              data: { region, sku, days: r.days_of_cover ?? "", flag: r.flag || "" },
            }, r.days_of_cover === null ? (r.on_hand ? tr("unsold") : "–") : Math.round(r.days_of_cover));
          })))))),
    h("p", { class: "legend" },
      h("span", { class: "flag flag--shortage" }, tr("shortage")), " ",
      tr("under {v} days", { v: answer.shortage_days }), " · ",
      h("span", { class: "flag flag--surplus" }, tr("surplus")), " ",
      tr("over {v} days or unsold", { v: answer.surplus_days }), " · ",
      tr("figures are days of cover at the sell-through of the last {v} days.", { v: answer.window_days })));
}

// ------------------------------------------------------------------------------------ transfer suggestions

async function execute(suggestion, button, result) {
  button.disabled = true;
  button.textContent = tr("Requesting…");
  result.replaceChildren();
  result.dataset.state = "pending";
  try {
    const written = await api("/v1/transfers", { method: "POST", body: suggestion.request });
    const transfer = written.result; // absent when the API stopped waiting (202): the hash follows it up
    result.dataset.state = transfer ? "done" : "pending";
    result.dataset.txHash = written.tx_hash;
    if (transfer) result.dataset.transfer = transfer.id;
    result.append(
      h("span", {}, transfer
        ? tr("Transfer #{id} {state}: {cases} cases. ", { id: transfer.id, state: transfer.state,
          cases: count(transfer.cases) })
        : tr("Sent; the ledger has not confirmed it yet. ")),
      h("span", {}, tr("Transaction ")), h("code", { testid: "transfer-tx", title: written.tx_hash }, written.tx_hash));
    button.textContent = tr("Requested");
  } catch (thrown) {
    const error = named(thrown);
    result.dataset.state = "error";
    result.append(h("strong", { testid: "transfer-error" }, error.error), " ", said(error));
    button.disabled = false;
    button.textContent = tr("Execute");
  }
}

function drawTransfers(answer, names) {
  const suggestions = answer.suggestions || [];
  const weights = Object.entries(answer.weights || {}).map(([k, v]) => `${k.replaceAll("_", " ")} ${v}`).join(", ");
  return h("div", {},
    h("p", { class: "note" }, tr("Scored by {weights}; best first.", { weights }), " ",
      tr("Executing one asks the ledger for the transfer; the brand's sales director approves it.")),
    suggestions.length
      ? h("ol", { class: "suggestions", "aria-label": tr("Transfer suggestions, best first") },
        suggestions.slice(0, 10).map((s) => {
          const button = h("button", { type: "button", testid: "execute-transfer",
            "aria-label": tr("Execute: move {cases} cases of {sku} from {from} to {to}", {
              cases: s.cases, sku: s.sku_name, from: s.from_name, to: s.to_name }) },
          tr("Execute"));
          const result = h("div", { class: "suggestion__result", testid: "transfer-result", "aria-live": "polite" });
          button.addEventListener("click", () => execute(s, button, result));
          return h("li", { class: "suggestion", testid: "suggestion", data: { id: s.id, cases: s.cases } },
            h("div", { class: "suggestion__main" },
              h("strong", {}, tr("{cases} cases of {sku}", { cases: count(s.cases), sku: s.sku_name })),
              h("span", {}, `${s.from_name} → ${s.to_name} (${names.regionOf(s)})`),
              h("span", { class: "note" }, tr(
                "{lead} lead time · {cost} · cover {before} → {after} · score {score}", {
                lead: hours(s.lead_time_hours), cost: yuan(s.cost_yuan), before: days(s.cover_days_before),
                after: days(s.cover_days_after), score: Number(s.score).toFixed(2) })),
              h("span", { class: "note" }, s.reason)),
            button, result);
        }))
      : h("p", { class: "empty" }, tr("No transfer would ease an imbalance right now.")));
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
    ranked.length ? chart("chart-health", tr("Distributor health score, ranked; the top 20% in green"), {
      type: "bar",
      data: {
        labels: ranked.map((d) => d.name),
        datasets: [{ label: tr("Health score (0-100)"), data: ranked.map((d) => d.score),
          backgroundColor: ranked.map((d) => (d.top ? COLOURS.top : COLOURS.rest)) }],
      },
      options: {
        indexAxis: rows ? "y" : "x",
        plugins: { legend: { display: false } },
        scales: rows ? { x: { beginAtZero: true, max: 100 } }
          : { y: { beginAtZero: true, max: 100 }, x: { ticks: { display: false }, title: { display: true,
            text: tr("{n} distributors by rank", { n: count(ranked.length) }) } } },
      },
    }, rows ? Math.max(160, 40 + ranked.length * 22) : 240)
      : h("p", { class: "empty" }, tr("No distributor in this reach.")),
    top.length ? h("div", {}, h("h3", {}, tr("Top 20%: {n} of {total}", { n: top.length, total: ranked.length })),
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
  ` ${a.sku_name} ${tr("(tier {tier})", { tier: a.tier })}: ${yuan(a.old_price_yuan)} → ${yuan(a.new_price_yuan)}`)),
  largest.length > shown ? h("li", { class: "note" }, tr("and {n} more", { n: largest.length - shown })) : null);
}

function drawPrices(answer) {
  const revisions = (answer.revisions || []).slice(0, 8);
  const alerts = answer.alerts || [];
  return h("div", {},
    h("p", { class: "note" }, tr("A change of more than {v} raises an alert; {alerts} alerts in {revisions} price "
      + "revisions.", { v: bps(answer.threshold_bps).replace("+", ""), alerts: count(alerts.length),
      revisions: count((answer.revisions || []).length) })),
    revisions.length
      ? h("ol", { class: "revisions", "aria-label": tr("Price revisions with alerts, newest first") },
        revisions.map((r) => h("li", { testid: "price-revision", data: { tx: r.tx_hash, skus: r.skus.join(" ") } },
          h("div", { class: "revision__head" }, h("strong", {}, when(r.time)),
            ` · ${tr(r.skus.length === 1 ? "{n} SKU" : "{n} SKUs", { n: count(r.skus.length) })} · `
            + `${tr("up to {v}", { v: bps(r.max_change_bps) })} · `,
            h("code", { title: r.tx_hash }, shortHash(r.tx_hash))),
          alertList(alerts.filter((a) => a.tx_hash === r.tx_hash)))))
      : h("p", { class: "empty" }, tr("No price change beyond the threshold.")));
}

// ------------------------------------------------------------------------------------ scan intelligence

function drawScans(answer, names) {
  const weeks = answer.weeks || [];
  const verdicts = answer.verdicts || [];
  const spots = answer.hot_spots || [];
  const regions = (answer.regions || []).slice(0, 8);
  return h("div", {},
    weeks.length ? chart("chart-scans", tr("Consumer scans per week by verdict"), {
      type: "bar",
      data: {
        labels: weeks.map((w) => day(w.week_start)),
        datasets: verdicts.map((v) => ({ label: tr(v), data: weeks.map((w) => (w.counts || {})[v] || 0),
          backgroundColor: COLOURS.verdicts[v] || COLOURS.muted })),
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    }, 260) : h("p", { class: "empty" }, tr("No consumer scans logged yet.")),
    h("div", { class: "columns" },
      h("div", {}, h("h3", {}, tr("Regions by risk share")),
        regions.length ? h("ol", { class: "bars" }, regions.map((r) => h("li", {
          testid: "scan-region", data: { region: r.region, share: r.risk_share } },
        h("span", {}, tr("{region} · {n} scans", { region: names.scanRegion(r.region), n: count(r.total) })),
        h("meter", { min: 0, max: 1, low: 0.1, high: 0.3, optimum: 0, value: r.risk_share,
          "aria-label": tr("risk share {v}", { v: share(r.risk_share) }) }),
        h("strong", {}, share(r.risk_share, 1))))) : h("p", { class: "empty" }, tr("None."))),
      h("div", {}, h("h3", {}, tr("Hot spots")),
        spots.length ? h("ol", { class: "hot-spots" }, spots.map((s) => h("li", {
          testid: "hot-spot", data: { verdict: s.verdict, count: s.count } },
        h("span", { class: `verdict verdict--${s.verdict}` }, tr(s.verdict)),
        ` ${s.city ? `${s.city}, ` : ""}${names.scanRegion(s.region)}: ${count(s.count)} (${share(s.share, 1)})`)))
          : h("p", { class: "empty" }, tr("No counterfeit, opened or diverted scans.")))));
}

// ------------------------------------------------------------------------------------ the panels, in order

/** The board's panels in the order a supply-chain director reads them: is the flow on time, what is about to
 * be late, where stock is wrong and how to fix it, who the good partners are, then prices and the market. */
export function panels(region) {
  return [
    { id: "cycle", title: tr("Order cycle time"), intro: tr("Submit → approved → delivered, against the 8 h "
      + "approval target (12 h for urgent orders)."), parts: [
      { id: "cycle-weekly", path: withRegion("/v1/analytics/cycle-times/weekly", region), draw: drawWeeklyCycle },
      { id: "cycle-regions", path: withRegion("/v1/analytics/cycle-times", region), draw: drawRegionCycle },
    ] },
    { id: "delays", title: tr("Delay early warning"), intro: tr("Shipments in transit predicted to miss their ETA, "
      + "and how well the prediction did on shipments already received."), parts: [
      { id: "delays", path: withRegion("/v1/analytics/delay-warnings", region), draw: drawDelays },
    ] },
    { id: "cover", title: tr("Stock imbalance"), intro: tr("Days of cover per region and SKU from the channel's "
      + "sell-through."), parts: [
      { id: "cover", path: withRegion("/v1/analytics/stock-cover", region), draw: drawCover },
    ] },
    { id: "transfers", title: tr("Transfer suggestions"),
      intro: tr("Which warehouse should ship how many cases where."),
      parts: [{ id: "transfers", path: withRegion("/v1/analytics/transfer-suggestions", region),
        draw: drawTransfers }] },
    { id: "health", title: tr("Distributor health"), intro: tr("A score from 0 to 100 per distributor; the top 20% "
      + "are marked."), parts: [
      { id: "health", path: withRegion("/v1/analytics/distributor-health", region), draw: drawHealth },
    ] },
    { id: "prices", title: tr("Price alerts"), intro: tr("Price changes beyond the alert threshold, by revision."),
      parts: [
      { id: "prices", path: "/v1/analytics/price-alerts", draw: drawPrices },
    ] },
    { id: "scans", title: tr("Scan intelligence"), intro: tr("Consumer scans by verdict: counterfeit (unknown), "
      + "opened and diversion hot spots."), parts: [
      { id: "scans", path: withRegion("/v1/analytics/scans", region), draw: drawScans },
    ] },
  ];
}
