// The dashboard's behaviour: plain JavaScript, no dependencies. Every action goes through the
// sandbox's JSON controls with the chosen world's x-api-key, so the page gets the same checks
// and messages as any client, and says what each action did in the status line.
"use strict";

const state = {
  key: null, env: "", masked: "", worldsOffset: 0, walletsOffset: 0, customersOffset: 0, journalSeen: "",
};
const $ = (selector) => document.querySelector(selector);

function headers(asWorld) {
  const sent = { "Content-Type": "application/json" };
  if (asWorld && state.key) sent["x-api-key"] = state.key;
  if (asWorld && state.env) sent["X-Environment-ID"] = state.env;
  return sent;
}

// A control called as the chosen world (its x-api-key), or as nobody in particular (asWorld false).
async function call(method, path, body, asWorld = true) {
  const reply = await fetch(path, {
    method, headers: headers(asWorld), body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await reply.text();
  const data = text ? JSON.parse(text) : null;
  if (!reply.ok) {
    const error = data && (data.error || data);
    throw new Error(`${reply.status}: ${(error && error.message) || reply.statusText}`);
  }
  return data;
}

function say(message, failed) {
  const status = $("#status");
  status.textContent = message;
  status.className = failed ? "failed" : "done";
}

async function act(label, work) {
  try {
    const message = await work();
    say(message || `${label}: done`);
  } catch (error) {
    say(`${label} failed: ${error.message}`, true);
  }
}

function cell(row, value, className) {
  const td = row.insertCell();
  td.textContent = value === null || value === undefined ? "" : String(value);
  if (className) td.className = className;
  return td;
}

// Fill a table's body: one row per item, drawn by draw(row, item); a line saying so when empty.
function rows(selector, items, draw, empty) {
  const body = $(selector);
  body.replaceChildren();
  for (const item of items) draw(body.insertRow(), item);
  if (!items.length && empty) cell(body.insertRow(), empty);
}

function button(row, label, onClick, name) {
  const td = row.insertCell();
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (name) b.setAttribute("aria-label", name);
  b.addEventListener("click", onClick);
  td.appendChild(b);
  return b;
}

// ---- views ------------------------------------------------------------------------------

const views = { worlds: loadWorlds, world: loadWorld, requests: loadJournal, faults: loadFaults, webhooks: loadWebhooks };

function show(view) {
  if (!views[view]) view = "worlds";
  if (view !== "worlds" && !state.key) {
    say("Choose a world first.", true);
    view = "worlds";
    history.replaceState(null, "", "#worlds"); // so that choosing one changes the address again
  }
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.dataset.view !== view; });
  document.querySelectorAll("nav a").forEach((a) => {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  views[view]().catch((error) => say(`Loading ${view} failed: ${error.message}`, true));
}

window.addEventListener("hashchange", () => show(location.hash.slice(1)));

function choose(key, env, masked) {
  Object.assign(state, { key, env, masked, walletsOffset: 0, customersOffset: 0, journalSeen: "" });
  sessionStorage.setItem("world", JSON.stringify({ key, env, masked }));
  $("#current").textContent = `World: ${masked}${env ? ` (environment ${env})` : ""}`;
  location.hash = "world";
}

async function loadWorlds() {
  const data = await call("GET", `/_mock/ui/worlds?offset=${state.worldsOffset}`);
  rows("#worlds-table tbody", data.items, (row, w) => {
    const code = document.createElement("code");
    code.textContent = w.masked;
    row.insertCell().appendChild(code);
    cell(row, w.environment_id || "(none)");
    cell(row, w.customers); cell(row, w.wallets); cell(row, w.transactions); cell(row, w.active_at);
    const open = button(row, "Open", () => act("Open", async () => {
      const world = await call("GET", `/_mock/ui/worlds/${w.world}`, undefined, false);
      choose(world.api_key, world.environment_id, world.masked);
      return `World ${world.masked} opened`;
    }), `Open world ${w.masked}`);
    open.className = "open-world";
  }, "No world yet: call the API with an x-api-key header.");
  pager("#worlds-pager", data, "worldsOffset", "worlds", loadWorlds);
}

async function loadWorld() {
  const query = `wallets_offset=${state.walletsOffset}&customers_offset=${state.customersOffset}`;
  const data = await call("GET", `/_mock/ui/world?${query}`);
  $("#clock-now").textContent = data.clock.now;
  $("#clock-frozen").textContent = data.clock.frozen ? "frozen" : "running";
  rows("#wallets-table tbody", data.wallets.items, (row, w) => {
    cell(row, w.id, "id"); cell(row, w.customer); cell(row, w.currency); cell(row, w.wallet_status);
    cell(row, w.balance, "number"); cell(row, w.credit_balance, "number");
    button(row, "Ledger", () => act("Ledger", async () => {
      const shown = await loadLedger(w.id);
      return `Ledger of ${w.id}: ${shown} transactions`;
    }), `Ledger of ${w.id}`);
  });
  pager("#wallets-pager", data.wallets, "walletsOffset", "wallets", loadWorld);
  rows("#customers-table tbody", data.customers.items, (row, c) => {
    cell(row, c.id, "id"); cell(row, c.external_id); cell(row, c.name); cell(row, c.wallets, "number");
  });
  pager("#customers-pager", data.customers, "customersOffset", "customers", loadWorld);
}

function pager(selector, page, field, what, reload) {
  const box = $(selector);
  box.replaceChildren();
  const last = Math.min(page.offset + page.limit, page.total);
  const text = document.createElement("span");
  text.textContent = page.total ? `${what} ${page.offset + 1}–${last} of ${page.total}` : `no ${what}`;
  box.appendChild(text);
  const move = (label, offset, enabled) => {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = label; b.disabled = !enabled;
    b.addEventListener("click", () => act(label, async () => {
      state[field] = offset;
      await reload();
      return `Showing ${what} ${offset + 1}–${Math.min(offset + page.limit, page.total)} of ${page.total}`;
    }));
    box.appendChild(b);
  };
  move(`Previous ${what}`, Math.max(0, page.offset - page.limit), page.offset > 0);
  move(`Next ${what}`, page.offset + page.limit, last < page.total);
}

async function loadLedger(walletId) {
  const data = await call("GET", `/_mock/ui/wallets/${encodeURIComponent(walletId)}/ledger`);
  const section = $("#ledger");
  section.hidden = false;
  const shown = data.transactions;
  const more = shown.total > shown.items.length ? ` (the newest ${shown.items.length} of ${shown.total})` : "";
  $("#ledger-title").textContent = `Ledger of ${walletId}, newest first${more}`;
  rows("#ledger-table tbody", shown.items, (row, t) => {
    cell(row, t.created_at); cell(row, t.type); cell(row, t.credit_amount, "number");
    cell(row, t.transaction_reason); cell(row, t.transaction_status);
    cell(row, t.credit_balance_after, "number"); cell(row, t.expiry_date || "");
  });
  const pending = data.pending_invoices.map((i) => `${i.id} (${i.amount}, pending)`);
  $("#ledger-invoices").textContent = pending.length ? `Invoices waiting: ${pending.join(", ")}` : "";
  $("#ledger-title").focus();
  return shown.total;
}

async function loadJournal(live) {
  const form = new FormData($("#journal-filter"));
  const query = new URLSearchParams();
  for (const [name, value] of form) if (value) query.set(name, value);
  query.set("limit", "200");
  const data = await call("GET", `/_mock/journal?${query}`);
  const items = data.items;
  const newest = items.length ? items[0].request_id + items[0].time : "";
  if (live && newest === state.journalSeen) return;
  state.journalSeen = newest;
  rows("#journal-table tbody", items, (row, entry) => {
    cell(row, entry.time); cell(row, entry.method);
    const path = row.insertCell();
    const open = document.createElement("button");
    open.type = "button"; open.className = "link"; open.textContent = entry.path;
    open.addEventListener("click", () => showEntry(entry));
    path.appendChild(open);
    cell(row, entry.status, "number"); cell(row, entry.duration_ms, "number");
    // The documented operation that answered and how faithfully (empty: no operation matched).
    cell(row, entry.operation_id); cell(row, entry.fidelity);
    // A fault injected, or why the API could not take the request (what verification calls unexpected).
    const note = entry.fault ? entry.fault.kind || JSON.stringify(entry.fault) : entry.unexpected ? `unexpected: ${entry.unexpected}` : "";
    cell(row, note);
  });
}

function showEntry(entry) {
  $("#entry").hidden = false;
  $("#entry-title").textContent = `${entry.method} ${entry.path}: ${entry.status}`;
  $("#entry-body").textContent = JSON.stringify(entry, null, 2);
  $("#entry-body").focus();
}

async function loadFaults() {
  const own = await call("GET", "/_mock/faults");
  const every = await call("GET", "/_mock/faults", undefined, false);
  const rules = [...own.items, ...every.items.filter((rule) => !rule.api_key)];
  rows("#faults-table tbody", rules, (row, rule) => {
    const { id, matches, hits, expired, api_key, ...rest } = rule;
    cell(row, `${id}: ${JSON.stringify(rest)}${expired ? " (used up)" : ""}`);
    cell(row, api_key ? `key ${api_key}` : "every key");
    cell(row, matches, "number"); cell(row, hits, "number");
    button(row, "Remove", () => act("Remove rule", async () => {
      await call("DELETE", `/_mock/faults/${encodeURIComponent(id)}`);
      await loadFaults();
      return `Rule ${id} removed`;
    }), `Remove rule ${id}`);
  }, "No rules.");
}

async function loadWebhooks() {
  const endpoints = await call("GET", "/_mock/webhooks");
  rows("#endpoints-table tbody", endpoints.items, (row, e) => {
    cell(row, e.id, "id"); cell(row, e.url); cell(row, e.events ? e.events.join(", ") : "all"); cell(row, e.mode);
  }, "No endpoints.");
  const deliveries = await call("GET", "/_mock/webhooks/deliveries");
  rows("#deliveries-table tbody", deliveries.items, (row, d) => {
    cell(row, d.id, "id"); cell(row, d.event_type); cell(row, d.status);
    cell(row, d.attempts.map((a) => `${a.status_code === null ? "no answer" : a.status_code}${a.error ? ` (${a.error})` : ""}`).join("; "));
    button(row, "Redeliver", () => act("Redeliver", async () => {
      await call("POST", `/_mock/webhooks/deliveries/${encodeURIComponent(d.id)}/redeliver`);
      await loadWebhooks();
      return `Delivery ${d.id} queued again`;
    }), `Redeliver ${d.id}`);
  }, "No deliveries.");
}

// ---- actions ----------------------------------------------------------------------------

// What a clock move expired: the credits, and the grants they came from (one debit each).
function expiredText(expired) {
  if (!expired.length) return "no credits expired";
  const credits = expired.reduce((sum, t) => sum + Number(t.credit_amount), 0);
  return `${credits} credits expired (${expired.length} grant${expired.length === 1 ? "" : "s"})`;
}

$("#clock-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act("Set clock", async () => {
    const body = { frozen: $("#clock-freeze").checked };
    if ($("#clock-set").value) body.now = $("#clock-set").value;
    const data = await call("PUT", "/_mock/clock", body);
    await loadWorld();
    return `Clock set to ${data.now}${data.frozen ? ", frozen" : ""}; ${expiredText(data.expired)}`;
  });
});

$("#clock-advance").addEventListener("click", () => act("Advance clock", async () => {
  const raw = $("#clock-by").value.trim();
  const by = /^\d+$/.test(raw) ? Number(raw) : raw;
  const data = await call("POST", "/_mock/clock/advance", { by });
  await loadWorld();
  return `Clock advanced to ${data.now}; ${expiredText(data.expired)}`;
}));

$("#world-reset").addEventListener("click", () => act("Reset", async () => {
  await call("POST", "/_mock/reset");
  await loadWorld();
  return `World ${state.masked} reset: it is empty`;
}));

$("#state-export").addEventListener("click", () => act("Export", async () => {
  const data = await call("GET", "/_mock/state");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  link.download = `sandbox-state-${state.masked.replace(/[^a-z0-9]/gi, "")}.json`;
  link.click();
  return `State exported: ${data.wallets.length} wallets, ${data.transactions.length} transactions`;
}));

$("#state-import").addEventListener("change", (event) => act("Import", async () => {
  const file = event.target.files[0];
  if (!file) return "Nothing chosen";
  await call("PUT", "/_mock/state", JSON.parse(await file.text()));
  event.target.value = "";
  await loadWorld();
  return `State imported from ${file.name}`;
}));

$("#journal-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  state.journalSeen = "";
  loadJournal().catch((error) => say(`Filter failed: ${error.message}`, true));
});

$("#fault-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act("Add rule", async () => {
    const rule = {};
    for (const [name, value] of new FormData(event.target)) {
      if (!value) continue;
      rule[name] = /^\d+$/.test(value) && name !== "path" && name !== "latency" ? Number(value) : value;
    }
    const added = await call("POST", "/_mock/faults", rule);
    await loadFaults();
    return `Rule ${added.id} added`;
  });
});

// New requests appear without reloading: the journal is read again every second while shown.
setInterval(() => {
  if (!$("#requests").hidden && state.key) loadJournal(true).catch(() => {});
}, 1000);

const saved = sessionStorage.getItem("world");
if (saved) {
  const { key, env, masked } = JSON.parse(saved);
  Object.assign(state, { key, env, masked });
  $("#current").textContent = `World: ${masked}${env ? ` (environment ${env})` : ""}`;
}
show(location.hash.slice(1) || "worlds");
