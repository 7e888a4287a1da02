// The member console. Signed out, it shows the sign-in: an exported keystore file and its password, decrypted in
// this browser, or a browser wallet when the browser has one (window.ethereum). Signed in, it asks the API who
// the member is (`/v1/auth/me`) and shows a tab per page its roles give (console-pages.js). Every action is
// signed here and relayed (console-signer.js), and shows its transaction hash, its progress and the resulting
// object. `/console?next=<path on this site>` goes there after sign-in (the board sends signed-out visitors
// here); any other `next` is ignored. When a view has drawn, `main` carries `data-ready` and `data-ready-ms`
// (milliseconds since navigation), and a role's page also `data-draw-ms` (from asking for it to drawn, with all
// its reads): the figures the console's load times are measured by.

import { api, currentSession, endSession, saveSession } from "./session.js";
import {
  ConsoleError,
  keystoreSigner,
  openKeystore,
  perform,
  signIn,
  walletAvailable,
  walletSigner,
} from "./console-signer.js";
import { errorView, h, short, txCard } from "./console-ui.js";
import { pagesFor } from "./console-pages.js";

const main = document.getElementById("console");
const tabs = document.querySelector("[data-testid=tabs]");
const who = document.querySelector("[data-testid=signed-in-as]");
let signer = null; // the keystore's wallet or the browser wallet: in this tab's memory only

/** `next` if it names a page of this site; null for anything that would leave it. */
export function safeNext(next) {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return null;
  try {
    const url = new URL(next, location.origin);
    return url.origin === location.origin ? url.pathname + url.search + url.hash : null;
  } catch {
    return null;
  }
}

const next = safeNext(new URLSearchParams(location.search).get("next"));

function ready(began = null) {
  main.dataset.readyMs = String(Math.round(performance.now()));
  if (began !== null) main.dataset.drawMs = String(Math.round(performance.now() - began));
  main.dataset.ready = "true";
}

// ------------------------------------------------------------------------------------------------ sign-in

function signInView(note) {
  delete main.dataset.page;
  tabs.hidden = true;
  who.replaceChildren();
  const file = h("input", { type: "file", accept: ".json,application/json", required: true, testid: "keystore-file" });
  const password = h("input", {
    type: "password",
    required: true,
    autocomplete: "current-password",
    testid: "keystore-password",
  });
  const status = h("div", { class: "signin__status", testid: "signin-status", "aria-live": "polite" });
  const button = h(
    "button",
    { type: "submit", class: "primary", testid: "keystore-signin" },
    "Open keystore and sign in",
  );

  const finish = async (chosen) => {
    status.replaceChildren(h("p", { role: "status" }, `Signing in as ${short(chosen.address)}…`));
    const session = await signIn(chosen);
    saveSession(session);
    signer = chosen;
    if (next) {
      location.assign(next);
      return;
    }
    await shell(session.account);
  };
  const failed = (error) => {
    if (!error.error && !error.status) console.error(error);
    const named =
      error.status === 403 && error.error === "NotAMember"
        ? new ConsoleError(
            "NotAMember",
            "The ledger has no active account with this address: it is unknown or deactivated.",
            { account: error.detail.account },
          )
        : error;
    status.replaceChildren(errorView(named, "signin-error"));
    button.disabled = false;
  };

  const keystoreForm = h(
    "form",
    {
      class: "card signin",
      testid: "keystore-form",
      onsubmit: async (event) => {
        event.preventDefault(); // the page's policy allows no form submission: everything happens here
        button.disabled = true;
        try {
          if (!file.files.length) throw new ConsoleError("NoFile", "Choose your keystore file.");
          const text = await file.files[0].text();
          const wallet = await openKeystore(text, password.value, (share) => {
            status.replaceChildren(h("p", { role: "status" }, `Opening the keystore… ${Math.round(share * 100)} %`));
          });
          password.value = "";
          await finish(keystoreSigner(wallet));
        } catch (error) {
          failed(error);
        }
      },
    },
    h("h2", {}, "Sign in with your keystore"),
    h(
      "p",
      { class: "intro" },
      "Your key file is decrypted in this browser; neither it nor the password is sent anywhere.",
    ),
    h("label", { class: "field" }, h("span", {}, "Keystore file"), file),
    h("label", { class: "field" }, h("span", {}, "Password"), password),
    button,
  );

  const wallet = walletAvailable()
    ? h(
        "div",
        { class: "card signin" },
        h("h2", {}, "Or use your browser wallet"),
        h(
          "button",
          {
            type: "button",
            class: "primary",
            testid: "wallet-signin",
            onclick: async () => {
              try {
                await finish(await walletSigner());
              } catch (error) {
                failed(error.code === 4001 ? new ConsoleError("SignatureDeclined", "The wallet declined.") : error);
              }
            },
          },
          "Sign in with browser wallet",
        ),
      )
    : null;

  main.replaceChildren(
    note ? h("p", { class: "note", testid: "signin-note" }, note) : "",
    keystoreForm,
    wallet || "",
    status,
  );
  ready();
}

// ------------------------------------------------------------------------------------------------ the shell

/** Runs one write as the member, showing its card in `holder`; `after(txHash)` reads the resulting object. */
async function run(holder, title, path, body, after) {
  const card = txCard(title);
  holder.prepend(card.node);
  try {
    if (!signer)
      throw new ConsoleError("SignerLocked", "Sign in again to sign transactions: the key is not open in this tab.");
    const txHash = await perform(signer, path, body, card);
    card.show(...[await after(txHash)].flat());
  } catch (error) {
    if (!error.error && !error.status) console.error(error);
    card.step(error.error === "TransactionFailed" ? "failed" : "refused");
    card.show(errorView(error, "tx-error"));
    if (error.status === 401) signInView("Your session has ended: sign in again."); // session.js has ended it
  }
}

async function shell(account) {
  const me = account || (await api("/v1/auth/me"));
  const pages = pagesFor(me);
  who.replaceChildren(
    h("span", { testid: "account" }, `${me.name} · ${me.org_name}`),
    h("code", { title: me.address }, short(me.address)),
    h(
      "button",
      {
        type: "button",
        class: "quiet",
        testid: "sign-out",
        onclick: () => {
          endSession();
          signer = null;
          signInView();
        },
      },
      "Sign out",
    ),
  );
  const ctx = { me, run };
  tabs.replaceChildren(...pages.map((page) => h("a", { href: `#${page.id}`, testid: `tab-${page.id}` }, page.title)));
  tabs.hidden = pages.length === 0;

  const show = async () => {
    const began = performance.now();
    main.dataset.ready = "false";
    const page = pages.find((p) => `#${p.id}` === location.hash) || pages[0];
    for (const link of tabs.children)
      link.setAttribute("aria-current", link.hash === `#${page?.id}` ? "page" : "false");
    if (!page) {
      main.replaceChildren(
        h(
          "p",
          { class: "card", testid: "no-pages" },
          `Your roles (${me.roles.join(", ") || "none"}) have no page in the console; ` +
            "the API's /docs lists what you may do.",
        ),
      );
      ready();
      return;
    }
    main.dataset.page = page.id;
    main.replaceChildren(h("p", { class: "loading", role: "status" }, "Loading…"));
    try {
      main.replaceChildren(...[await page.draw(ctx)].flat());
    } catch (error) {
      if (!error.error && !error.status) console.error(error);
      main.replaceChildren(errorView(error, "load-error"));
    }
    ready(began);
  };
  window.onhashchange = show;
  await show();
}

async function boot() {
  const session = currentSession();
  if (!session) return signInView();
  if (next) return location.replace(next);
  if (session.signer === "wallet" && walletAvailable()) {
    try {
      signer = await walletSigner(session.address);
    } catch {
      signer = null;
    }
  }
  if (!signer) return signInView("Your key is not open in this tab any more: sign in again to sign transactions.");
  return shell();
}

// ethers is a deferred classic script: it has run before a module script, which is deferred too, in order.
boot().catch((error) => {
  main.replaceChildren(errorView(error, "load-error"));
  ready();
});
