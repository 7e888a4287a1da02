// The scan page: asks POST /v1/scans for the verdict on the bottle whose Digital Link path it was opened on
// and shows it (verdict, product, journey, brand story, AR view, proof), or, on /scan, offers the camera to
// scan a code. Every text node that depends on the language carries `data-i18n` (and its variables), so the
// language toggle rewrites texts in place: nothing is re-fetched and playing media keep playing.

import { closeCamera, bottlePath, isBottlePath, openCamera, readCodes } from "./camera.js";
import { formatTime, has, initialLanguage, rememberLanguage, t } from "./i18n.js";
import { checkProof } from "./proof.js";

const DEVICE = "baijiu.device";
const state = { lang: initialLanguage() };

// ------------------------------------------------------------------ DOM helpers

/** An element; `i18n`/`vars` make its text a translated message, `testid` sets data-testid, `on*` listens. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "testid") el.dataset.testid = value;
    else if (key === "i18n") el.dataset.i18n = value;
    else if (key === "vars") el.dataset.vars = JSON.stringify(value);
    else if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "muted") el.muted = el.defaultMuted = true; // autoplay looks at the property, not the attribute
    else el.setAttribute(key, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  if (props.i18n) el.textContent = message(props.i18n, props.vars);
  return el;
}

/** A message's variables may themselves be times (`{time}`) or messages (`{i18n}`), resolved per language. */
function message(key, vars = {}) {
  const resolved = {};
  for (const [name, value] of Object.entries(vars || {})) {
    if (value && typeof value === "object" && "time" in value) resolved[name] = formatTime(state.lang, value.time);
    else if (value && typeof value === "object" && "i18n" in value) resolved[name] = t(state.lang, value.i18n);
    else resolved[name] = value;
  }
  return t(state.lang, key, resolved);
}

function localized(texts) {
  if (!texts) return "";
  if (typeof texts === "string") return texts;
  return texts[state.lang] ?? texts.en ?? texts.zh ?? Object.values(texts)[0] ?? "";
}

/** Rewrites every language-dependent text under `root` in the current language. */
function translate(root = document) {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.title = t(state.lang, "page.title");
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = message(el.dataset.i18n, el.dataset.vars ? JSON.parse(el.dataset.vars) : {});
  }
  for (const el of root.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(state.lang, el.dataset.i18nLabel));
  }
  for (const el of root.querySelectorAll("time[datetime]")) el.textContent = formatTime(state.lang, el.dateTime);
  for (const el of root.querySelectorAll("[data-localized]")) {
    el.textContent = localized(JSON.parse(el.dataset.localized));
  }
}

function time(iso) {
  return iso ? h("time", { datetime: iso }, formatTime(state.lang, iso)) : null;
}

function short(hash) {
  return hash && hash.length > 14 ? `${hash.slice(0, 8)}…${hash.slice(-6)}` : hash || "";
}

// ------------------------------------------------------------------ the scan endpoint

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

let visitDevice = null;

/** The anonymous id this phone scans with: random, kept on the phone, never tied to a person. */
function deviceId() {
  try {
    let id = localStorage.getItem(DEVICE);
    if (!id || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
      id = uuid();
      localStorage.setItem(DEVICE, id);
    }
    return id;
  } catch {
    visitDevice ??= uuid(); // no storage: one id for this visit, so a reload still counts as the same phone
    return visitDevice;
  }
}

/** POSTs to a scan endpoint: `{answer}` or `{error: {kind, ...}}` with a kind the page has words for. */
async function ask(path) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST", cache: "no-store", credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: location.href, device: deviceId() }),
    });
  } catch {
    return { error: { kind: "unreachable" } };
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // a proxy's HTML error page: treated as unreachable below
  }
  if (response.ok && body && typeof body.verdict === "string") return { answer: body };
  const detail = body?.detail && typeof body.detail === "object" ? body.detail : {};
  if (body?.error === "InvalidCode") {
    return { error: { kind: "InvalidCode", message: detail.message || detail.reason || "" } };
  }
  if (body?.error === "RateLimited" || response.status === 429) {
    const seconds = Number(detail.retry_after ?? response.headers.get("retry-after")) || 60;
    return { error: { kind: "RateLimited", seconds } };
  }
  if (body?.error === "NotFound" && path.endsWith("/opened")) return { error: { kind: "NotFound" } };
  return { error: { kind: "unreachable" } };
}

function errorMessage(error) {
  if (error.kind === "InvalidCode") return { i18n: "error.InvalidCode", vars: { message: error.message } };
  if (error.kind === "RateLimited") return { i18n: "error.RateLimited", vars: { seconds: error.seconds } };
  if (error.kind === "NotFound") return { i18n: "error.NotFound" };
  return { i18n: "error.unreachable" };
}

// ------------------------------------------------------------------ the verdict

/** Where a bottle was meant to be sold: the last distributor or store its case was shipped to. */
function meantFor(journey) {
  const sellers = (stop) => stop && ["distributor", "store"].includes(stop.kind);
  for (const stop of [...journey].reverse()) {
    if (stop.step === "received" && sellers(stop.location)) return stop.location;
    if (stop.step === "dispatched" && sellers(stop.to)) return stop.to;
  }
  return null;
}

function reasonProps(answer) {
  const code = answer.reason_code;
  if (code === "outside_region") {
    const seller = meantFor(answer.journey || []);
    const region = seller?.region || seller?.region_code;
    if (seller) return { i18n: "reason.outside_region", vars: { seller: seller.name, region: region || "" } };
    return state.lang === "en" && answer.reason ? { text: answer.reason } : { i18n: "reason.outside_region.unnamed" };
  }
  // A reason this page has no words for yet is shown as the endpoint's own English sentence.
  if (has(state.lang, `reason.${code}`)) return { i18n: `reason.${code}` };
  return { text: answer.reason || "" };
}

function placeOf(scan) {
  return scan?.place || scan?.region || null;
}

function renderVerdict(answer) {
  const section = document.getElementById("verdict");
  section.className = `verdict verdict--${answer.verdict}`;
  const reason = reasonProps(answer);
  const first = answer.first_scan;
  const here = placeOf(answer.this_scan);
  section.replaceChildren(...[
    h("h1", { testid: "verdict", "data-verdict": answer.verdict, i18n: `verdict.${answer.verdict}` }),
    h("p", { testid: "verdict-reason", class: "reason", i18n: reason.i18n, vars: reason.vars }, reason.text),
    answer.lot?.recalled && answer.lot.recall_reason
      ? h("p", { testid: "recall-reason", i18n: "recall.reason", vars: { reason: answer.lot.recall_reason } }) : null,
    h("p", { testid: "scan-count", "data-count": answer.scan_count, vars: { count: answer.scan_count },
             i18n: answer.scan_count > 1 ? "scans.many" : "scans.first" }),
    first ? h("p", { testid: "first-scan", i18n: placeOf(first) ? "first.scan" : "first.scan.nowhere",
                     vars: { at: { time: first.at }, place: placeOf(first) } }) : null,
    here ? h("p", { testid: "this-scan", i18n: "this.scan", vars: { place: here } }) : null,
  ].filter(Boolean));
}

function renderError(error, retry) {
  const section = document.getElementById("verdict");
  section.className = "verdict verdict--error";
  const text = errorMessage(error);
  section.replaceChildren(...[
    h("h1", { testid: "verdict", "data-verdict": "error", i18n: "error.title" }),
    h("p", { testid: "error", "data-error": error.kind, class: "reason", i18n: text.i18n, vars: text.vars }),
    retry ? h("button", { type: "button", class: "secondary", testid: "retry-button", i18n: "retry", onclick: retry })
      : null,
  ].filter(Boolean));
}

// ------------------------------------------------------------------ product, journey, story

function field(labelKey, value, testid) {
  return value || value === 0 ? [h("dt", { i18n: labelKey }), h("dd", { testid }, String(value))] : [];
}

function renderProduct(answer) {
  const { product, lot, code } = answer;
  if (!product) return null;
  return h("section", { class: "card", testid: "product" },
    h("h2", { i18n: "product" }),
    h("p", { class: "product-name", testid: "product-name" }, product.name),
    h("dl", {},
      field("product.gtin", product.gtin || code?.gtin, "product-gtin"),
      field("product.lot", lot?.number || code?.lot, "product-lot"),
      lot?.commissioned_at ? [h("dt", { i18n: "product.commissioned" }), h("dd", {}, time(lot.commissioned_at))] : [],
      field("product.per.case", product.bottles_per_case, "product-per-case")));
}

function site(location) {
  if (!location) return null;
  const kind = location.kind && has(state.lang, `kind.${location.kind}`) ? { i18n: `kind.${location.kind}` } : null;
  return [h("span", { class: "site-name" }, location.name),
          kind || location.region ? h("span", { class: "site-kind" }, " (", kind ? h("span", kind) : null,
                                      kind && location.region ? " · " : "", location.region || "", ")") : null];
}

function journeyStep(stop) {
  const details = [];
  if (stop.location) details.push(h("p", {}, h("span", { i18n: "step.at", vars: { name: "" } }), site(stop.location)));
  if (stop.to) details.push(h("p", {}, h("span", { i18n: "step.to", vars: { name: "" } }), site(stop.to)));
  if (stop.place) details.push(h("p", {}, stop.place));
  if (stop.carrier) details.push(h("p", { i18n: "step.carrier", vars: { carrier: stop.carrier } }));
  if (stop.eta) details.push(h("p", { i18n: "step.eta", vars: { eta: { time: stop.eta } } }));
  if (stop.tx_hash) {
    details.push(h("p", { class: "tx", title: stop.tx_hash, i18n: "step.tx", vars: { tx: short(stop.tx_hash) } }));
  }
  const title = has(state.lang, `step.${stop.step}`) ? { i18n: `step.${stop.step}` } : {};
  return h("li", { testid: "journey-step", "data-step": stop.step, class: `step step--${stop.step}` },
    h("h3", title, title.i18n ? null : stop.step), time(stop.at), details);
}

function renderJourney(answer) {
  const journey = answer.journey || [];
  return h("section", { class: "card", testid: "journey-section" },
    h("h2", { i18n: "journey" }),
    journey.length
      ? h("ol", { class: "timeline", testid: "journey" }, journey.map(journeyStep))
      : h("p", { testid: "journey-empty", i18n: "journey.none" }));
}

/** One story media item as a plain element (the AR view lays the same over the camera). */
function mediaElement(item) {
  if (item.kind === "video") {
    return h("video", { src: item.url, controls: true, playsinline: true, muted: true, loop: true, preload: "metadata",
                        testid: "media", "data-kind": "video" });
  }
  if (item.kind === "model") {
    // glTF needs a 3D renderer this page does not carry: the model is offered as a file instead.
    return h("a", { href: item.url, download: "", testid: "media", "data-kind": "model", i18n: "media.model" });
  }
  return h("img", { src: item.url, alt: "", loading: "lazy", testid: "media", "data-kind": "image" });
}

/** A story's title or text ({zh, en}), shown in the chosen language and switched with it. */
function storyText(tag, testid, texts, className) {
  if (!texts) return null;
  return h(tag, { testid, class: className, "data-localized": JSON.stringify(texts) }, localized(texts));
}

function renderStory(story) {
  if (!story) return null;
  return h("section", { class: "card story", testid: "story" },
    h("h2", { i18n: "story" }),
    storyText("h3", "story-title", story.title),
    storyText("p", "story-text", story.text),
    h("div", { class: "media" }, (story.media || []).map(mediaElement)),
    h("button", { type: "button", class: "secondary", testid: "ar-button", i18n: "ar.button",
                  onclick: () => openAr(story) }));
}

// ------------------------------------------------------------------ proof

function renderProof(answer) {
  const proof = answer.proof;
  if (!proof) return null;
  const check = h("p", { class: "browser-check", testid: "proof-browser-check", "data-state": "checking",
                         i18n: "proof.browser.checking", role: "status" });
  checkProof(proof).then(
    (result) => {
      check.dataset.state = result.ok ? "verified" : "failed";
      check.dataset.i18n = result.ok ? "proof.browser.ok" : "proof.browser.bad";
    },
    () => {
      check.dataset.state = "unavailable";
      check.dataset.i18n = "proof.browser.unavailable";
    },
  ).finally(() => {
    check.textContent = message(check.dataset.i18n);
  });
  const hash = (key, value, testid) => [h("dt", { i18n: key }), h("dd", { class: "hash", testid }, value ?? "")];
  const chainVars = { lot: proof.lot_id, chain: proof.chain_id, contract: proof.inventory };
  return h("section", { class: "card proof", testid: "proof" },
    h("h2", { i18n: "proof" }),
    h("dl", {},
      hash("proof.lot", proof.lot_id, "proof-lot"),
      hash("proof.serial", proof.serial, "proof-serial"),
      hash("proof.case", String(proof.case), "proof-case"),
      hash("proof.root", proof.root, "proof-root"),
      hash("proof.leaf", proof.leaf, "proof-leaf"),
      hash("proof.siblings", String(proof.siblings.length), "proof-siblings"),
      hash("proof.contract", proof.inventory, "proof-contract"),
      hash("proof.chain", String(proof.chain_id), "proof-chain"),
      answer.lot?.tx_hash ? hash("proof.tx", answer.lot.tx_hash, "proof-tx") : []),
    check,
    h("div", { class: "explain", testid: "verify-explain" },
      h("h3", { i18n: "verify.title" }),
      h("p", { i18n: "verify.intro" }),
      h("ol", {},
        h("li", { i18n: "verify.leaf" }),
        h("li", { i18n: "verify.up" }),
        h("li", { i18n: "verify.chain", vars: chainVars }),
        h("li", {}, h("span", { i18n: "verify.command" }),
          h("code", { testid: "verify-command" }, proof.verify_command)))));
}

// ------------------------------------------------------------------ the consumer opened the bottle

function renderOpened() {
  const failure = h("p", { class: "failure", testid: "opened-error", hidden: true, role: "alert" });
  const button = h("button", { type: "button", class: "primary", testid: "opened-button", i18n: "opened.button" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    failure.hidden = true;
    const { answer, error } = await ask("/v1/scans/opened");
    if (answer) return showAnswer(answer);
    button.disabled = false;
    const text = error.kind === "RateLimited" ? errorMessage(error) : { i18n: "opened.failed" };
    failure.dataset.i18n = text.i18n;
    failure.dataset.vars = JSON.stringify(text.vars || {});
    failure.textContent = message(text.i18n, text.vars);
    failure.hidden = false;
  });
  return h("section", { class: "card opened" }, button, h("p", { class: "note", i18n: "opened.explain" }), failure);
}

function scanButton(key, big) {
  return h("button", { type: "button", class: big ? "primary big" : "secondary", testid: "scan-button", i18n: key,
                       onclick: openScanner });
}

function showAnswer(answer) {
  renderVerdict(answer);
  const details = document.getElementById("details");
  if (answer.verdict === "unknown") {
    // A code never issued has no product, journey or proof to show: only the warning and a way to scan again.
    details.replaceChildren(scanButton("scan.again", false));
    return;
  }
  details.replaceChildren(...[
    answer.verdict === "genuine" ? renderOpened() : null,
    renderProduct(answer),
    renderJourney(answer),
    renderStory(answer.product?.story),
    renderProof(answer),
    scanButton("scan.again", false),
  ].filter(Boolean));
}

async function checkBottle() {
  const section = document.getElementById("verdict");
  section.className = "verdict verdict--checking";
  section.replaceChildren(h("p", { testid: "checking", i18n: "checking" }));
  const { answer, error } = await ask("/v1/scans");
  if (answer) return showAnswer(answer);
  renderError(error, error.kind === "InvalidCode" ? null : checkBottle);
  document.getElementById("details").replaceChildren(scanButton("scan.again", false));
}

function showScanMode() {
  const section = document.getElementById("verdict");
  section.className = "verdict verdict--scan";
  section.replaceChildren(h("h1", { testid: "scan-title", i18n: "scan.title" }), h("p", { i18n: "scan.intro" }),
                          scanButton("scan.button", true));
  document.getElementById("details").replaceChildren();
}

// ------------------------------------------------------------------ full-screen views over the camera

function overlay(testid, titleKey, ...content) {
  const view = h("div", { class: "overlay", testid, role: "dialog", "aria-modal": "true",
                          "aria-labelledby": `${testid}-title` },
    h("div", { class: "overlay-bar" },
      h("h2", { id: `${testid}-title`, i18n: titleKey }),
      h("button", { type: "button", class: "close", testid: `${testid.split("-")[0]}-close`, i18n: "close" })),
    ...content);
  document.getElementById("layer").replaceChildren(view);
  document.body.classList.add("covered");
  return view;
}

function closeOverlay(video, stop) {
  stop?.();
  closeCamera(video);
  document.getElementById("layer").replaceChildren();
  document.body.classList.remove("covered");
}

function say(el, key, vars) {
  el.dataset.i18n = key;
  el.dataset.vars = JSON.stringify(vars || {});
  el.textContent = message(key, vars);
}

async function openAr(story) {
  const video = h("video", { testid: "ar-camera", class: "camera", autoplay: true, playsinline: true, muted: true });
  const media = (story.media || []).filter((m) => m.kind !== "model");
  const layer = h("div", { class: "ar-overlay", testid: "ar-overlay" },
    media.length ? media.map(mediaElement) : [h("p", { i18n: "ar.no.media" })],
    storyText("p", null, story.title, "ar-caption"));
  const status = h("p", { class: "status", testid: "ar-status", role: "status", i18n: "ar.starting" });
  const stage = h("div", { class: "stage" }, video, layer);
  const view = overlay("ar-view", "ar.title", stage, status);
  view.querySelector("[data-testid=ar-close]").addEventListener("click", () => closeOverlay(video));
  for (const m of layer.querySelectorAll("video")) m.autoplay = true;
  const { stream, failure } = await openCamera();
  if (!view.isConnected) return closeCamera({ srcObject: stream }); // closed while the camera was starting
  if (stream) {
    video.srcObject = stream;
    await video.play().catch(() => {});
    say(status, "ar.live");
    return;
  }
  // No camera: the story's media shown plainly, with the reason.
  stage.classList.add("fallback");
  video.remove();
  status.dataset.testid = "ar-fallback";
  say(status, failure === "denied" ? "ar.denied" : "ar.unavailable");
}

async function openScanner() {
  const video = h("video", { testid: "scanner-video", class: "camera", autoplay: true, playsinline: true,
                             muted: true });
  const status = h("p", { class: "status", testid: "scanner-status", role: "status", i18n: "scan.starting" });
  const stage = h("div", { class: "stage" }, video, h("div", { class: "frame" }));
  const view = overlay("scanner", "scan.title", stage, status);
  let stop = null;
  view.querySelector("[data-testid=scanner-close]").addEventListener("click", () => closeOverlay(video, stop));
  const { stream, failure } = await openCamera();
  if (!view.isConnected) return closeCamera({ srcObject: stream });
  if (!stream) return say(status, failure === "denied" ? "scan.denied" : "scan.unavailable");
  video.srcObject = stream;
  await video.play().catch(() => {});
  say(status, "scan.aim");
  const found = (text) => {
    const bottle = bottlePath(text);
    if (!bottle) {
      say(status, "scan.not.bottle", { text: text.length > 80 ? `${text.slice(0, 80)}…` : text });
      return false;
    }
    // Another site's Digital Link is checked here, on this ledger; the reader is told before leaving the view.
    say(status, bottle.foreignHost ? "scan.foreign" : "scan.found", { host: bottle.foreignHost });
    setTimeout(() => {
      closeOverlay(video);
      location.assign(bottle.path);
    }, bottle.foreignHost ? 1500 : 0);
    return true;
  };
  try {
    stop = await readCodes(video, found);
  } catch {
    say(status, "scan.no.decoder");
  }
}

// ------------------------------------------------------------------ start

document.querySelector("[data-testid=lang-toggle]").addEventListener("click", () => {
  state.lang = state.lang === "zh" ? "en" : "zh";
  rememberLanguage(state.lang);
  translate();
});

translate();
if (isBottlePath(location.pathname)) checkBottle();
else showScanMode();
