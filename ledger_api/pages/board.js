// The board page: with no session it offers the console's sign-in; signed in, it learns who the member is
// (`/v1/auth/me`), the names of the regions and SKUs it may see, and draws every panel at once, each from its
// own endpoints, each with its own loading and error state, so one failing endpoint leaves the rest drawn.
// The brand (and auditors) choose a region or see all; regional staff see their region, which the API
// enforces and the filter only reflects. When every panel has drawn or failed, `main` gets `data-ready` and
// `data-ready-ms` (milliseconds since navigation): the figure the board's load time is measured by.

import { api, currentSession, signInUrl } from "./session.js";
import { chooseLanguage, language, tr } from "./board-i18n.js";
import { chartLibrary, h, named, said, when } from "./board-util.js";
import { panels } from "./board-panels.js";

const main = document.getElementById("board");
const filter = document.querySelector("[data-testid=region-filter]");
const filterLabel = document.querySelector("[data-testid=region-filter-label]");

/** The error as the API named it: `Name (status)` and its message when it has one; an ended session (401)
 * offers the sign-in again. */
function errorView(path, error) {
  const name = error.error || "Error";
  const text = said(error);
  return h("div", { class: "error", role: "alert", testid: "panel-error", data: { error: name } },
    h("strong", {}, error.status ? `${name} (${error.status})` : name),
    " ", h("span", {}, tr("from {path}", { path: path.split("?")[0] })), text ? h("p", {}, text) : null,
    error.status === 401 ? h("p", {}, h("a", { href: signInUrl("/board" + location.search) }, tr("Sign in again")))
      : null);
}

function shell(panel) {
  const heading = `panel-${panel.id}-title`;
  const section = h("section", { class: "panel", testid: `panel-${panel.id}`, "aria-labelledby": heading,
    "aria-busy": "true", data: { state: "loading" } },
  h("h2", { id: heading }, panel.title), h("p", { class: "intro" }, panel.intro));
  for (const part of panel.parts) {
    part.node = h("div", { class: "part", testid: `part-${part.id}`, data: { state: "loading" } },
      h("p", { class: "loading", role: "status" }, tr("Loading…")));
    section.append(part.node);
  }
  return section;
}

async function drawPart(part, names) {
  try {
    const answer = await api(part.path);
    part.answer = answer;
    part.node.replaceChildren(part.draw(answer, await names));
    const charts = part.node.querySelectorAll(".chart");
    if (charts.length) await chartLibrary;
    for (const wrap of charts) wrap.draw();
    part.node.dataset.state = "ready";
  } catch (thrown) {
    part.node.replaceChildren(errorView(part.path, named(thrown)));
    part.node.dataset.state = "error";
  }
}

async function drawPanel(panel, section, names) {
  await Promise.all(panel.parts.map((part) => drawPart(part, names)));
  section.dataset.state = panel.parts.some((part) => part.node.dataset.state === "error") ? "error" : "ready";
  section.setAttribute("aria-busy", "false");
}

// ------------------------------------------------------------------------------------ who and what names

/** Region and SKU names, asked for together with who the member is (not after it): the board's load time
 * is the API's round trips. Names only decorate the figures: without them a panel still draws, by ids. */
async function loadNames(who) {
  const [me, orgs, catalog] = await Promise.all([
    who, api("/v1/organisations?kind=region").catch(() => []), api("/v1/skus").catch(() => []),
  ]);
  // "Shanghai Regional Marketing Centre" reads as "Shanghai" under a bar.
  const place = (name) => name.replace(/ Regional Marketing Cent(re|er)$/i, "");
  const regions = new Map(orgs.map((org) => [org.id, place(org.name)]));
  const byCode = new Map(orgs.map((org) => [org.code, place(org.name)]));
  if (me.org_kind === "region") regions.set(me.org, place(me.org_name));
  const skus = new Map(catalog.map((s) => [s.id, s.name]));
  // A column head names the product without its strength and size, unless two products would read the same.
  const short = (name) => name.split(/ \d+% vol/)[0];
  const heads = new Map();
  for (const name of skus.values()) heads.set(short(name), (heads.get(short(name)) || 0) + 1);
  return {
    regions,
    // A distributor or store sees no region organisation but its own region's figures.
    region: (id) => regions.get(id) ?? (id === me.region ? tr("your region") : `Region #${id}`),
    /** The region of a row that names it (`region`, `region_name`), shortened like the filter's. */
    regionOf: (row) => regions.get(row.region) ?? (row.region_name ? place(row.region_name) : `Region #${row.region}`),
    /** A scan's region as the scan log has it (the geo proxy's label, a region's code where it is one). */
    scanRegion: (label) => (label ? byCode.get(label) ?? label : tr("unknown region")),
    sku: (id) => skus.get(id) ?? `SKU #${id}`,
    skuShort: (id) => {
      if (!skus.has(id)) return `#${id}`;
      const name = skus.get(id);
      return heads.get(short(name)) > 1 ? name : short(name);
    },
  };
}

function regionFromUrl() {
  const value = new URLSearchParams(location.search).get("region");
  return value && /^\d+$/.test(value) ? Number(value) : null;
}

function offerRegions(me, names, chosen) {
  filter.replaceChildren();
  if (me.reach === "ledger") {
    filter.append(h("option", { value: "" }, tr("All regions")),
      ...[...names.regions].map(([id, name]) => h("option", { value: id, selected: id === chosen }, name)));
    filter.disabled = false;
  } else if (me.org_kind === "region") {
    filter.append(h("option", { value: me.org }, names.region(me.org)));
    filter.disabled = true; // regional staff see their own region: the API answers nothing else
  } else {
    return;
  }
  filterLabel.hidden = false;
}

// ------------------------------------------------------------------------------------ the board

let drawing = 0; // the latest render: an earlier one still drawing (the filter changed) no longer reports ready

async function render(names, region) {
  const mine = ++drawing;
  main.dataset.ready = "false";
  main.setAttribute("aria-busy", "true");
  for (const canvas of main.querySelectorAll("canvas")) window.Chart?.getChart(canvas)?.destroy();
  const list = panels(region);
  const sections = list.map(shell);
  main.replaceChildren(...sections);
  const asOf = document.querySelector("[data-testid=as-of]");
  asOf.textContent = "";
  await Promise.all(list.map(async (panel, i) => {
    await drawPanel(panel, sections[i], names);
    const answered = panel.parts.find((p) => p.answer && p.answer.as_of);
    if (answered && !asOf.textContent) {
      asOf.textContent = tr("ledger as of {time}", { time: when(answered.answer.as_of) });
      asOf.dataset.asOf = answered.answer.as_of;
    }
  }));
  if (mine === drawing) ready();
}

function ready() {
  main.setAttribute("aria-busy", "false");
  main.dataset.readyMs = String(Math.round(performance.now()));
  main.dataset.ready = "true";
}

function signedOut(reason) {
  drawing += 1; // a render under way stops reporting
  main.replaceChildren(h("section", { class: "panel sign-in", testid: "signed-out" },
    h("h2", {}, tr("Sign in to see the board")),
    h("p", {}, reason
      || tr("The board shows what your organisation may see of the ledger, so it needs you signed in.")),
    h("a", { class: "button", href: signInUrl("/board" + location.search), testid: "sign-in" }, tr("Sign in"))));
  ready();
}

/** The page's own words (title, filter, toggle) in the current language. */
function translatePage() {
  document.title = tr("Fulfilment and risk board");
  document.querySelector(".brand").textContent = tr("Fulfilment and risk board");
  filterLabel.querySelector("span").textContent = tr("Region");
  filter.setAttribute("aria-label", tr("Show the board for a region"));
  const all = filter.querySelector("option[value='']");
  if (all) all.textContent = tr("All regions");
  const toggle = document.querySelector("[data-testid=lang-toggle]");
  toggle.textContent = language() === "zh" ? "English" : "中文";
  toggle.setAttribute("aria-label", language() === "zh" ? "Switch to English" : "切换到中文");
}

let redraw = () => signedOut(); // what the language toggle draws again: the sign-in, or the board

async function start() {
  chooseLanguage(language());
  translatePage();
  // Another language redraws the board from the API: every text, legend and label is drawn in it.
  document.querySelector("[data-testid=lang-toggle]").addEventListener("click", () => {
    chooseLanguage(language() === "zh" ? "en" : "zh");
    translatePage();
    const shown = document.querySelector("[data-testid=as-of]");
    if (shown.dataset.asOf) shown.textContent = tr("ledger as of {time}", { time: when(Number(shown.dataset.asOf)) });
    redraw();
  });
  if (!currentSession()) return signedOut();
  // Every request leaves at once; who the member is decides only the region filter.
  const region = regionFromUrl();
  const who = api("/v1/auth/me");
  const names = loadNames(who);
  names.catch(() => {}); // a failed /v1/auth/me is answered below, by the sign-in
  const drawn = render(names, region);
  let me;
  try {
    me = await who;
  } catch (error) {
    if (!error.status) { // not the API's answer: the API is out of reach, and a sign-in would not help
      main.replaceChildren(h("section", { class: "panel" }, errorView("/v1/auth/me", named(error))));
      return ready();
    }
    return signedOut(tr("{error}: your session is no longer valid; sign in again.", { error: error.error }));
  }
  document.querySelector("[data-testid=signed-in-as]").textContent = `${me.name} · ${me.org_name}`;
  // Only the brand and auditors choose a region: anyone else's board is of all they may see.
  let shown = me.reach === "ledger" ? region : null;
  names.then((known) => offerRegions(me, known, shown));
  redraw = () => render(names, shown);
  filter.addEventListener("change", () => {
    shown = filter.value ? Number(filter.value) : null;
    const url = new URL(location.href);
    if (shown) url.searchParams.set("region", shown);
    else url.searchParams.delete("region");
    history.replaceState(null, "", url);
    render(names, shown);
  });
  return shown === region ? drawn : render(names, shown);
}

start();
