// The board's small toolkit: an element builder, numbers formatted for people (hours, days, yuan, shares,
// dates on the mirror's clock), and Chart.js charts made with the board's defaults. Charts are drawn without
// animation: the board is read, not watched, and a chart is complete the moment its panel says it is drawn.

import { tr } from "./board-i18n.js";

/** An element: `testid` sets data-testid, `data` sets data-* attributes, `on*` listens, the rest are attributes. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "testid") el.dataset.testid = value;
    else if (key === "class") el.className = value;
    else if (key === "data") for (const [name, v] of Object.entries(value)) el.dataset[name] = v;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

const NONE = "–";

function amount(value) {
  return value >= 100 ? Math.round(value).toLocaleString("en") : Number(value).toFixed(1);
}

export function hours(value) {
  return value === null || value === undefined ? NONE : tr("{v} h", { v: amount(value) });
}

export function days(value) {
  return value === null || value === undefined ? tr("no sales") : tr("{v} d", { v: amount(value) });
}

export function yuan(value) {
  if (value === null || value === undefined) return NONE;
  return `¥${Number(value).toLocaleString("en", { maximumFractionDigits: value >= 1000 ? 0 : 2 })}`;
}

export function share(value, digits = 0) {
  if (value === null || value === undefined) return NONE;
  return `${(value * 100).toFixed(digits)}%`;
}

/** Basis points as a signed percentage: 1250 → "+12.5%". */
export function bps(value) {
  if (value === null || value === undefined) return NONE;
  return `${value > 0 ? "+" : ""}${(value / 100).toFixed(1)}%`;
}

export function count(value) {
  return value === null || value === undefined ? NONE : Number(value).toLocaleString("en");
}

/** A Unix time as a UTC date and time: the board's clock is the chain's, not the viewer's. */
export function when(seconds) {
  if (!seconds) return NONE;
  return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

export function day(seconds) {
  return seconds ? new Date(seconds * 1000).toISOString().slice(0, 10) : NONE;
}

export function shortHash(hash) {
  return hash && hash.length > 14 ? `${hash.slice(0, 8)}…${hash.slice(-6)}` : hash || "";
}

/** What a call failed with, named: the API's own error, an API out of reach, or a fault of the page. */
export function named(thrown) {
  if (thrown.error) return thrown;
  // fetch rejects with a TypeError when the API cannot be reached; anything else is the page's own bug.
  if (thrown instanceof TypeError && /fetch/i.test(thrown.message)) {
    return { error: "NetworkError", detail: { message: tr("the API could not be reached") } };
  }
  console.error(thrown);
  return { error: "PageError", detail: { message: String(thrown) } };
}

/** The sentence an error's detail says, if any (the API's details carry `message` or `problem`). */
export function said(error) {
  const detail = error.detail || {};
  return detail.message || detail.problem || (detail.what ? `${detail.what} ${detail.id ?? ""}`.trim() : "");
}

/** A figure with its label; `value` is kept raw in data-value so a reader (or a test) need not parse text. */
export function figure(testid, label, text, value) {
  return h("div", { class: "figure", testid, data: { value: value === null || value === undefined ? "" : value } },
    h("span", { class: "figure__value" }, text), h("span", { class: "figure__label" }, label));
}

// The colours carry meaning (shortage, surplus, target, verdicts); every chart also says it in words.
export const COLOURS = {
  muted: "#8c857c", median: "#7a1c1c", p90: "#d08c3a", urgent: "#6a3d9a", delivery: "#2f6f8f", deliveryP90: "#8cb4c8",
  target: "#1e6b34", urgentTarget: "#6a3d9a",
  shortage: "#c0392b", surplus: "#2f6f8f", balanced: "#7fa870", top: "#1e6b34", rest: "#b9b2a7",
  verdicts: { genuine: "#1e6b34", opened: "#d08c3a", suspicious: "#a4430c", diverted: "#6a3d9a",
    recalled: "#5d5750", unknown: "#c0392b" },
};

/** Resolves once Chart.js (`window.Chart`, a deferred script read after the board's own) is there. */
export const chartLibrary = new Promise((resolve, reject) => {
  const missing = () => reject(Object.assign(new Error("the chart library did not load"), {
    error: "ChartLibraryMissing",
    detail: { message: "the chart library (chart.js) did not load: the API's node_modules lack it (./dev setup)" },
  }));
  const script = document.getElementById("chart-library");
  if (window.Chart) resolve(window.Chart);
  else if (!script) missing();
  else {
    script.addEventListener("load", () => (window.Chart ? resolve(window.Chart) : missing()));
    script.addEventListener("error", missing);
  }
});
chartLibrary.catch(() => {}); // each chart's panel reports it

/** A Chart.js chart in a fresh canvas labelled for screen readers; answers the canvas's wrapper, whose
 * `draw()` draws it once the wrapper is in the document and the library is loaded. */
export function chart(testid, label, config, height = 260) {
  const canvas = h("canvas", { role: "img", "aria-label": label, testid });
  const wrap = h("div", { class: "chart" }, canvas);
  wrap.style.height = `${height}px`; // through the CSSOM: the page's policy refuses inline style attributes
  const options = config.options || {};
  // The canvas must be in the document before Chart.js measures it; drawing waits for the caller to place it.
  wrap.draw = () => new window.Chart(canvas, {
    ...config,
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      ...options,
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } }, ...(options.plugins || {}) },
    },
  });
  return wrap;
}

/** A horizontal reference line (a target) across a line or bar chart with category labels. */
export function targetLine(label, value, labels, colour) {
  return {
    type: "line", label, data: labels.map(() => value), borderColor: colour, borderDash: [6, 4],
    borderWidth: 2, pointRadius: 0, fill: false, order: 0,
  };
}
