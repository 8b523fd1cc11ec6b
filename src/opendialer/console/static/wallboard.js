// The wallboard: the tenant's document pushed over server-sent events (whole first, then what
// changed); start/stop and the agent actions go to the native API with the login's CSRF token.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const byId = (id) => document.getElementById(id);
let board = null; // the last document received
let clockOffset = 0; // server time minus this browser's time, in ms
let sortKey = "name", sortUp = true;

function put(el, value) { el.textContent = value == null ? "" : String(value); }
function pct(value) { return value == null ? "–" : (value * 100).toFixed(1) + " %"; }
function num(value) { return value == null ? "–" : (+value.toFixed(2)).toString(); }

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(r).padStart(2, "0");
}

function localTime(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone: board.time_zone });
}

function cell(row, value, className) {
  const td = document.createElement("td");
  put(td, value);
  if (className) td.className = className;
  row.append(td);
  return td;
}

function button(label, onClick, quiet) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (quiet) b.className = "quiet";
  b.addEventListener("click", onClick);
  return b;
}

async function act(path, body) {
  const box = byId("message");
  box.hidden = true;
  const response = await fetch("/api/v1/" + path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body || {}),
  });
  if (response.status === 401) { window.location.assign("/console/login?expired=1"); return; }
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    put(box, data.error ? data.error.message : "Request failed");
    box.hidden = false;
  }
}

function renderCampaigns() {
  const body = byId("campaigns").querySelector("tbody");
  body.replaceChildren();
  for (const c of board.campaigns) {
    const row = document.createElement("tr");
    row.dataset.campaign = c.name;
    const th = document.createElement("th"); th.scope = "row"; put(th, c.name); row.append(th);
    cell(row, c.status === "enabled" ? "running" : "stopped", "status");
    const calls = c.calls;
    cell(row, calls ? `${calls.dialling}/${calls.ringing}/${calls.waiting}/${calls.talking}` : "–", "calls");
    cell(row, `${c.attempts_today} / ${c.connects_today}`, "today");
    const agents = Object.entries(c.agents).map(([state, n]) => `${n} ${state.replace("_", " ")}`);
    cell(row, agents.join(", ") || "none", "agents");
    cell(row, pct(c.occupancy));
    cell(row, pct(c.answer_rate));
    cell(row, num(c.dials_per_connect));
    cell(row, `${pct(c.abandonment_today)}`, "abandon-today");
    const month = cell(row, `${pct(c.abandonment_30_days)} (${pct(c.abandon_cap)})`, "cap");
    month.dataset.level = c.cap_level;
    cell(row, c.contacts_left, "left");
    cell(row, c.contacts_left === 0 ? "empty" : localTime(c.runs_out_at));
    const actions = cell(row, "");
    const running = c.status === "enabled";
    actions.append(button(running ? "Stop" : "Start",
      () => act(`campaigns/${c.id}:${running ? "stop" : "start"}`), !running));
    actions.firstChild.setAttribute("aria-label", `${running ? "Stop" : "Start"} ${c.name}`);
    body.append(row);
  }
}

function agentValue(a, key) {
  if (key === "name") return (a.display_name || a.username).toLowerCase();
  if (key === "since") return -Date.parse(a.since);
  const value = a[key];
  return value == null ? "" : value;
}

function renderAgents() {
  const body = byId("agents").querySelector("tbody");
  const agents = [...board.agents].sort((x, y) => {
    const a = agentValue(x, sortKey), b = agentValue(y, sortKey);
    return (a < b ? -1 : a > b ? 1 : 0) * (sortUp ? 1 : -1);
  });
  body.replaceChildren();
  for (const a of agents) {
    const row = document.createElement("tr");
    row.dataset.agent = a.username;
    const th = document.createElement("th"); th.scope = "row"; put(th, a.display_name || a.username); row.append(th);
    const state = cell(row, "");
    const badge = document.createElement("span");
    badge.className = "badge"; badge.dataset.state = a.state;
    put(badge, a.state.replace("_", " ") + (a.pause_reason ? ` (${a.pause_reason})` : ""));
    state.append(badge);
    const since = cell(row, "", "timer"); since.dataset.since = a.since;
    cell(row, a.campaign || "");
    cell(row, a.contact || "");
    cell(row, a.calls_today, "calls");
    cell(row, clock(a.talk_seconds), "timer");
    cell(row, clock(a.wait_seconds), "timer");
    cell(row, clock(a.wrap_up_seconds), "timer");
    cell(row, clock(a.pause_seconds), "timer");
    const actions = cell(row, "");
    if (a.state !== "logged_out") {
      if (a.state !== "paused") {
        const pause = button("Pause", () => act(`agents/${a.user_id}:pause`, { reason: "supervisor" }), true);
        pause.setAttribute("aria-label", `Pause ${a.username}`);
        actions.append(pause);
      }
      const out = button("Log out", () => act(`agents/${a.user_id}:logout`, { force: true }), true);
      out.setAttribute("aria-label", `Log out ${a.username}`);
      actions.append(out);
    }
    body.append(row);
  }
  tick();
}

function renderPacing() {
  const list = byId("pacing");
  list.replaceChildren();
  if (!board.pacing.length) {
    const li = document.createElement("li"); li.className = "muted";
    put(li, "No pacing decision in the last 10 minutes."); list.append(li);
  }
  for (const p of board.pacing) {
    const li = document.createElement("li");
    const when = document.createElement("span"); when.className = "muted";
    put(when, `${localTime(p.decided_at)} ${p.campaign}: `);
    const why = document.createElement("span"); put(why, p.reason);
    li.append(when, why);
    list.append(li);
  }
}

function renderCharts() {
  const q = board.quarters;
  const labels = q.map((p) => localTime(p.at));
  drawChart(byId("chart-calls"), labels, [
    { name: "attempts", values: q.map((p) => p.attempts) },
    { name: "connects", values: q.map((p) => p.connects) },
  ], { title: "Attempts and connects per 15 minutes" });
  drawChart(byId("chart-rates"), labels, [
    { name: "occupancy", values: q.map((p) => p.occupancy), kind: "line" },
    { name: "abandonment", values: q.map((p) => p.abandonment), kind: "line" },
  ], { percent: true, title: "Occupancy and abandonment per 15 minutes" });
  drawChart(byId("chart-budget"), labels, [
    { name: "allowed so far", values: q.map((p) => p.abandon_budget), kind: "line" },
    { name: "abandoned so far", values: q.map((p) => p.abandon_spent), kind: "line" },
  ], { title: "Abandoned calls allowed and spent today" });
}

function tick() {
  const now = Date.now() + clockOffset;
  for (const el of document.querySelectorAll("[data-since]")) {
    put(el, clock((now - Date.parse(el.dataset.since)) / 1000));
  }
}

// Replace the items with the same key, add the new ones, drop the keys gone.
function merged(items, changed, gone, key) {
  const byKey = new Map(items.map((x) => [x[key], x]));
  for (const k of gone) byKey.delete(k);
  for (const x of changed) byKey.set(x[key], x);
  return [...byKey.values()];
}

function applied(delta) {
  const byName = (x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : x.id - y.id);
  return {
    ...board,
    at: delta.at,
    campaigns: merged(board.campaigns, delta.campaigns, delta.removed_campaigns, "id").sort(byName),
    agents: merged(board.agents, delta.agents, delta.removed_agents, "user_id"),
    quarters: merged(board.quarters, delta.quarters, delta.removed_quarters, "at")
      .sort((x, y) => Date.parse(x.at) - Date.parse(y.at)),
    pacing: delta.pacing || board.pacing,
  };
}

function render(document_) {
  board = document_;
  clockOffset = Date.parse(board.at) - Date.now();
  put(byId("updated"), "updated " + localTime(board.at));
  renderCampaigns();
  renderAgents();
  renderPacing();
  renderCharts();
}

for (const header of document.querySelectorAll("button.sort")) {
  header.addEventListener("click", () => {
    sortUp = sortKey === header.dataset.key ? !sortUp : true;
    sortKey = header.dataset.key;
    for (const other of document.querySelectorAll("button.sort")) other.parentElement.removeAttribute("aria-sort");
    header.parentElement.setAttribute("aria-sort", sortUp ? "ascending" : "descending");
    if (board) renderAgents();
  });
}

const events = new EventSource("/console/api/wallboard/events");
events.addEventListener("wallboard", (event) => { put(byId("connection"), "Live"); render(JSON.parse(event.data)); });
events.addEventListener("wallboard_delta", (event) => { if (board) render(applied(JSON.parse(event.data))); });
events.addEventListener("signed_out", () => { events.close(); window.location.assign("/console/login?expired=1"); });
events.addEventListener("error", () => put(byId("connection"), "Reconnecting…"));
setInterval(tick, 1000);
