// The admin pages: each section works through the native API (/api/v1) with the page's login
// (session cookie + CSRF header); errors are the API's own, shown in words.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const section = document.currentScript.dataset.section;
const $ = (id) => document.getElementById(id);

function text(el, value) { el.textContent = value == null ? "" : String(value); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "onclick") node.addEventListener("click", value);
    else if (key === "text") text(node, value);
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function showError(message) { text($("message"), message); $("message").hidden = !message; }
function notice(message) { text($("notice"), message); }

class ApiError extends Error {}

function errorText(data, status) {
  const error = data && data.error;
  if (!error) return "The server answered " + status;
  const details = Array.isArray(error.details)
    ? error.details.map((d) => (d.loc ? d.loc.slice(1).join(".") + ": " : "") + (d.msg || "")).join("; ")
    : "";
  return error.message + (details && !error.message.includes(details) ? " (" + details + ")" : "");
}

// One call of the native API; a refused call shows its message and throws.
async function api(method, path, body, options) {
  showError("");
  const init = { method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } };
  if (body instanceof Blob || body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  Object.assign(init.headers, (options && options.headers) || {});
  const response = await fetch("/api/v1" + path, init);
  if (response.status === 401) { window.location.assign("/console/login?expired=1"); throw new ApiError("signed out"); }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) { const message = errorText(data, response.status); showError(message); throw new ApiError(message); }
  return data;
}

// Runs an action of a button or form; an ApiError is already on screen.
function guarded(action) {
  return async (event) => {
    if (event) event.preventDefault();
    notice("");
    try { await action(event); } catch (error) { if (!(error instanceof ApiError)) showError(String(error)); }
  };
}

async function allPages(path) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api("GET", path + sep + "limit=200" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor != null);
  return items;
}

function options(select, entries, chosen) {
  select.replaceChildren(...entries.map(([value, label]) => {
    const option = new Option(label, value);
    option.selected = String(value) === String(chosen);
    return option;
  }));
}

function csvCell(value) {
  const s = value == null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\n\r;]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function csvUrl(rows) {
  const body = rows.map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
  return URL.createObjectURL(new Blob([body], { type: "text/csv" }));
}

// --- Campaigns -------------------------------------------------------------------------------

// Every setting of CampaignCreate / CampaignUpdate: [name, label, kind, choices].
const CAMPAIGN_FIELDS = [
  ["name", "Name", "text"],
  ["dial_mode", "Dial mode", "select", ["preview", "progressive", "predictive"]],
  ["status", "Status", "select", ["disabled", "enabled"]],
  ["description", "Description", "text"],
  ["timezone", "Time zone", "text"],
  ["calling_hours_start", "Calling hours from", "time"],
  ["calling_hours_end", "Calling hours until", "time"],
  ["calling_days", "Calling days", "days"],
  ["begin_at", "Begins", "datetime"],
  ["end_at", "Ends", "datetime"],
  ["abandon_target", "Abandonment target (share, e.g. 0.03)", "number"],
  ["abandon_rolling_24h", "Abandonment over a rolling 24 h (Ofcom)", "checkbox"],
  ["pacing_coefficient", "Pacing coefficient", "number"],
  ["max_parallel_lines", "Max parallel lines", "integer"],
  ["max_waiting_callers", "Max waiting callers", "integer"],
  ["preview_seconds", "Preview seconds", "integer"],
  ["ring_timeout_seconds", "Ring timeout (s)", "integer"],
  ["caller_id", "Caller ID", "text"],
  ["caller_id_strategy", "Caller ID strategy", "select", ["fixed", "rotation", "local"]],
  ["max_tries_per_number", "Max tries per number", "integer"],
  ["retry_delay_seconds", "Retry delay (s)", "integer"],
  ["max_attempts_per_number", "Max attempts per number in the window", "integer"],
  ["max_attempts_per_contact", "Max attempts per contact in the window", "integer"],
  ["max_conversations", "Max conversations in the window", "integer"],
  ["cap_window_hours", "Cap window (hours)", "integer"],
  ["holiday_calendars", "Holiday calendars (comma separated, e.g. DE, US-CA)", "list"],
  ["closed_dates", "Closed dates (comma separated, YYYY-MM-DD)", "list"],
  ["require_consent", "Require consent", "checkbox"],
  ["amd_enabled", "Answering-machine detection", "checkbox"],
  ["amd_false_positive_rate", "AMD false-positive rate", "number"],
  ["machine_message_uri", "Message left on machines", "text"],
  ["abandon_announcement_uri", "Announcement for abandoned calls", "text"],
  ["record_calls", "Record calls", "checkbox"],
  ["wrap_up_seconds", "Wrap-up time (s; empty: the agent ends it)", "integer"],
  ["language_id", "Language (1 English, 2 German)", "integer"],
  ["agent_group_id", "Agent group", "group"],
  ["script", "Script ({first_name}, {company}, custom data keys)", "textarea"],
  ["modules", 'Modules (JSON: [{"name", "url", "open_in": "frame" | "tab"}])', "json"],
];
const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
let campaign = null; // the campaign in the editor (null: a new one)
let groups = [];
let agents = [];

function fieldInput(name, label, kind, choices) {
  const id = "cf-" + name;
  const wrap = el("div", { class: "field" });
  if (kind === "days") {
    const set = el("fieldset", { id }, el("legend", { text: label }));
    DAYS.forEach((day, i) => set.append(el("label", {}, el("input", { type: "checkbox", value: String(i + 1) }), " " + day)));
    wrap.append(set);
    return wrap;
  }
  let input;
  if (kind === "select" || kind === "group") {
    input = el("select", { id });
    const entries = kind === "group" ? [["", "none"], ...groups.map((g) => [g.id, g.name])] : choices.map((c) => [c, c]);
    options(input, entries);
  } else if (kind === "textarea" || kind === "json") input = el("textarea", { id, rows: "3" });
  else {
    const type = { checkbox: "checkbox", time: "time", datetime: "datetime-local", number: "number", integer: "number" }[kind] || "text";
    input = el("input", { id, type });
    if (kind === "number") input.step = "any";
  }
  if (kind === "checkbox") wrap.append(el("label", { for: id }, input, " " + label));
  else wrap.append(el("label", { for: id, text: label }), input);
  return wrap;
}

function readField(name, kind) {
  const input = $("cf-" + name);
  if (kind === "days") return [...input.querySelectorAll("input:checked")].map((box) => Number(box.value));
  if (kind === "checkbox") return input.checked;
  const value = input.value.trim();
  if (kind === "list") return value.split(",").map((s) => s.trim()).filter(Boolean);
  if (value === "") return null;
  if (kind === "number" || kind === "integer" || kind === "group") return Number(value);
  if (kind === "datetime") return new Date(value).toISOString();
  if (kind === "json") {
    try { return JSON.parse(value); } catch (error) {
      const message = "Modules are not valid JSON: " + error.message;
      showError(message);
      throw new ApiError(message);
    }
  }
  return value;
}

function localInput(iso) {
  const at = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return at.getFullYear() + "-" + pad(at.getMonth() + 1) + "-" + pad(at.getDate()) + "T" + pad(at.getHours()) + ":" + pad(at.getMinutes());
}

function writeField(name, kind, value) {
  const input = $("cf-" + name);
  if (kind === "days") { input.querySelectorAll("input").forEach((box) => { box.checked = (value || []).includes(Number(box.value)); }); return; }
  if (kind === "checkbox") { input.checked = Boolean(value); return; }
  if (value == null) { input.value = ""; return; }
  if (kind === "list") input.value = value.join(", ");
  else if (kind === "json") input.value = JSON.stringify(value);
  else if (kind === "datetime") input.value = localInput(value);
  else if (kind === "time") input.value = String(value).slice(0, 5);
  else input.value = String(value);
}

function campaignBody() {
  const body = {};
  for (const [name, , kind] of CAMPAIGN_FIELDS) {
    const value = readField(name, kind);
    const before = campaign ? campaign[name] : undefined;
    if (campaign && JSON.stringify(value) === JSON.stringify(before === undefined ? null : before)) continue;
    if (!campaign && (value === null || (Array.isArray(value) && !value.length && kind !== "days"))) continue;
    body[name] = value;
  }
  return body;
}

async function openEditor(chosen) {
  campaign = chosen;
  $("campaign-editor").hidden = false;
  text($("editor-title"), chosen ? "Campaign: " + chosen.name : "New campaign");
  const defaults = { dial_mode: "predictive", status: "disabled", timezone: "Europe/Berlin", calling_days: [1, 2, 3, 4, 5],
                     calling_hours_start: "09:00", calling_hours_end: "20:00" };
  for (const [name, , kind] of CAMPAIGN_FIELDS) writeField(name, kind, chosen ? chosen[name] : defaults[name]);
  $("campaign-parts").hidden = !chosen;
  if (chosen) await loadParts();
  $("cf-name").focus();
}

async function saveCampaign() {
  const body = campaignBody();
  const saved = campaign
    ? await api("PATCH", "/campaigns/" + campaign.id, body)
    : await api("POST", "/campaigns", body);
  await loadCampaigns();
  await openEditor(saved);
  notice("Campaign " + saved.name + " saved.");
}

function runButtons(row) {
  const start = el("button", { type: "button", text: "Start", "aria-label": "Start " + row.name, onclick: guarded(async () => {
    const run = await api("POST", "/campaigns/" + row.id + ":start");
    notice(row.name + ": " + run.message);
    await loadCampaigns();
  }) });
  const stop = el("button", { type: "button", class: "quiet", text: "Stop", "aria-label": "Stop " + row.name, onclick: guarded(async () => {
    const run = await api("POST", "/campaigns/" + row.id + ":stop");
    notice(row.name + ": " + run.message);
    await loadCampaigns();
  }) });
  const edit = el("button", { type: "button", class: "quiet", text: "Edit", "aria-label": "Edit " + row.name, onclick: guarded(() => openEditor(row)) });
  return el("td", {}, edit, start, stop);
}

async function liveCells(row) {
  const live = await api("GET", "/campaigns/" + row.id + "/live");
  const calls = live.calls ? live.calls.dialling + live.calls.ringing + live.calls.talking : "";
  return [el("td", { class: "run-state", text: live.run.state.replaceAll("_", " ") }),
          el("td", { text: live.contacts.due }), el("td", { class: "calls", text: calls })];
}

async function loadCampaigns() {
  const rows = await allPages("/campaigns");
  const body = $("campaign-table").tBodies[0];
  const lines = await Promise.all(rows.map(async (row) => el("tr", { "data-campaign": row.id },
    el("th", { scope: "row", text: row.name }), el("td", { text: row.dial_mode }), el("td", { text: row.status }),
    ...(await liveCells(row)), runButtons(row))));
  body.replaceChildren(...lines);
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: "7", text: "No campaigns yet." })));
}

function removeButton(label, path) {
  return el("button", { type: "button", class: "quiet", text: "Remove", "aria-label": "Remove " + label, onclick: guarded(async () => {
    await api("DELETE", path);
    await loadParts();
  }) });
}

async function loadParts() {
  const base = "/campaigns/" + campaign.id;
  const [codes, rules, fields, members] = await Promise.all([
    api("GET", base + "/result-codes"), api("GET", base + "/retry-rules"),
    api("GET", base + "/form-fields"), api("GET", base + "/members")]);
  $("code-table").tBodies[0].replaceChildren(...codes.map((c) => el("tr", {},
    el("td", { text: c.code }), el("td", { text: c.text_en }), el("td", { text: c.text_de }),
    el("td", { text: c.action }), el("td", { text: c.is_success ? "yes" : "no" }),
    el("td", {}, removeButton(c.code, base + "/result-codes/" + c.id)))));
  $("rule-table").tBodies[0].replaceChildren(...rules.map((r) => el("tr", {},
    el("td", { text: r.outcome }), el("td", { text: r.retry_delay_seconds }), el("td", { text: r.max_tries == null ? "" : r.max_tries }),
    el("td", {}, removeButton(r.outcome, base + "/retry-rules/" + r.id)))));
  $("field-table").tBodies[0].replaceChildren(...fields.map((f) => el("tr", {},
    el("td", { text: f.name }), el("td", { text: f.label }), el("td", { text: f.position }),
    el("td", {}, removeButton(f.name, base + "/form-fields/" + encodeURIComponent(f.name))))));
  const named = new Map(agents.map((a) => [a.id, a.display_name || a.username]));
  $("member-list").replaceChildren(...members.map((m) => el("li", {}, (named.get(m.user_id) || "user " + m.user_id) + " ",
    removeButton(named.get(m.user_id) || String(m.user_id), base + "/members/" + m.user_id))));
  options($("member-user"), agents.filter((a) => a.role === "agent" && !members.some((m) => m.user_id === a.id)).map((a) => [a.id, a.display_name || a.username]));
}

function partForm(id, build) {
  $(id).addEventListener("submit", guarded(async () => {
    const [method, path, body] = build();
    await api(method, "/campaigns/" + campaign.id + path, body);
    $(id).reset();
    await loadParts();
  }));
}

async function campaignsPage() {
  [groups, agents] = await Promise.all([allPages("/groups"), allPages("/users")]);
  $("campaign-fields").replaceChildren(...CAMPAIGN_FIELDS.map(([n, l, k, c]) => fieldInput(n, l, k, c)));
  $("btn-new-campaign").addEventListener("click", guarded(() => openEditor(null)));
  $("btn-close-editor").addEventListener("click", () => { $("campaign-editor").hidden = true; });
  $("campaign-form").addEventListener("submit", guarded(saveCampaign));
  partForm("code-form", () => ["POST", "/result-codes", {
    code: $("code-code").value, text_en: $("code-en").value, text_de: $("code-de").value || null,
    action: $("code-action").value, is_success: $("code-success").checked }]);
  partForm("rule-form", () => ["PUT", "/retry-rules", {
    outcome: $("rule-outcome").value, retry_delay_seconds: Number($("rule-delay").value),
    max_tries: $("rule-max").value ? Number($("rule-max").value) : null }]);
  partForm("field-form", () => ["PUT", "/form-fields", {
    name: $("field-name").value, label: $("field-label").value || null, position: Number($("field-position").value || 0) }]);
  partForm("member-form", () => ["POST", "/members", { user_id: Number($("member-user").value) }]);
  await loadCampaigns();
}

// --- Import ----------------------------------------------------------------------------------

const PREVIEW_BYTES = 65536;
const OUTCOMES = [["imported", "Imported"], ["updated", "Updated"], ["duplicate", "Duplicates"],
  ["invalid_number", "Invalid numbers"], ["dnc", "Do not call"], ["malformed", "Malformed rows"]];
let preview = null;

function importQuery(extra) {
  const params = new URLSearchParams({ encoding: $("import-encoding").value, ...extra });
  return "?" + params.toString();
}

async function showColumns() {
  const file = $("import-file").files[0];
  if (!file) { showError("Choose a file first."); return; }
  const head = file.slice(0, PREVIEW_BYTES, "text/csv");
  preview = await api("POST", "/campaigns/" + $("import-campaign").value + ":import-preview" + importQuery({ format: "csv" }),
    head, { headers: { "Content-Type": "text/csv" } });
  const ignore = [["", "(not imported)"]];
  $("mapping-table").tBodies[0].replaceChildren(...preview.columns.map((column, index) => {
    const select = el("select", { id: "map-" + index, "aria-label": "Field for column " + column.name, "data-column": column.name });
    const extra = ["custom_data." + column.name];
    options(select, [...ignore, ...preview.targets.concat(extra).map((t) => [t, t])], column.target || "");
    return el("tr", {}, el("th", { scope: "row", text: column.name }),
      el("td", {}, el("ul", { class: "plain samples" }, ...column.samples.map((s) => el("li", { text: s })))),
      el("td", {}, select));
  }));
  $("mapping").hidden = false;
  $("report").hidden = true;
  notice("The file has " + preview.columns.length + " columns; check the fields and import.");
}

function chosenMapping() {
  const mapping = {};
  $("mapping-table").querySelectorAll("select").forEach((select) => { mapping[select.dataset.column] = select.value || null; });
  return mapping;
}

// The upload with its progress (XMLHttpRequest reports the bytes sent), then the report.
function upload(url, file, onSent) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/api/v1" + url);
    request.setRequestHeader("X-CSRF-Token", csrf);
    request.setRequestHeader("Content-Type", "text/csv");
    request.upload.addEventListener("progress", (event) => onSent(event.loaded, event.total));
    request.addEventListener("load", () => {
      let data = null;
      try { data = JSON.parse(request.responseText); } catch (error) { data = null; }
      if (request.status >= 200 && request.status < 300) resolve(data);
      else { const message = errorText(data, request.status); showError(message); reject(new ApiError(message)); }
    });
    request.addEventListener("error", () => reject(new Error("The upload failed: the server could not be reached")));
    request.send(file);
  });
}

function setProgress(label, done, total) {
  const bar = $("import-progress");
  bar.max = Math.max(total, 1);
  bar.value = Math.min(done, bar.max);
  bar.dataset.updates = String(Number(bar.dataset.updates || 0) + 1);
  text($("progress-label"), label + " " + Math.round((100 * bar.value) / bar.max) + " %");
}

async function followImport(key, finished) {
  while (!finished.done) {
    try {
      const response = await fetch("/api/v1/imports/" + key, { credentials: "same-origin" });
      if (response.ok) {
        const state = await response.json();
        if (!finished.done) setProgress("Importing", state.bytes_read, state.size);
      }
    } catch (error) { /* the next look may answer */ }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// The list the contacts go to: a new one (made first), a chosen one, or none.
async function importList() {
  const name = $("import-new-list").value.trim();
  if (!name) return $("import-list").value;
  const made = await api("POST", "/campaigns/" + $("import-campaign").value + "/lists", { name });
  await loadLists();
  $("import-list").value = String(made.id);
  $("import-new-list").value = "";
  return String(made.id);
}

async function loadLists() {
  const lists = await allPages("/lists?campaign_id=" + $("import-campaign").value);
  options($("import-list"), [["", "no list"], ...lists.map((l) => [l.id, l.name])], $("import-list").value);
}

async function runImport() {
  const file = $("import-file").files[0];
  const key = "page-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
  const listId = await importList();
  const query = importQuery({ format: "csv", duplicates: $("import-duplicates").value,
    mapping: JSON.stringify(chosenMapping()), default_mapping: "false", progress: key,
    ...(listId ? { list_id: listId } : {}) });
  $("progress-card").hidden = false;
  $("import-progress").dataset.updates = "0";
  $("btn-import").disabled = true;
  setProgress("Uploading", 0, file.size);
  const finished = { done: false };
  let report;
  try {
    const sent = upload("/campaigns/" + $("import-campaign").value + "/contacts:import" + query, file, (loaded, total) => {
      setProgress(loaded < total ? "Uploading" : "Importing", loaded < total ? loaded : 0, total);
      if (loaded >= total) followImport(key, finished);
    });
    report = await sent;
  } finally {
    finished.done = true;
    $("btn-import").disabled = false;
  }
  setProgress("Done", file.size, file.size);
  $("progress-card").dataset.state = "done";
  showReport(report);
}

function showReport(report) {
  const counts = $("report-counts");
  counts.replaceChildren(el("dt", { text: "Rows read" }), el("dd", { id: "count-total", text: report.total }));
  for (const [key, label] of OUTCOMES) counts.append(el("dt", { text: label }), el("dd", { id: "count-" + key, text: report.counts[key] }));
  counts.append(el("dt", { text: "Seconds" }), el("dd", { text: report.seconds }));
  const rows = report.rows.map((r) => el("tr", {}, el("td", { text: r.line }), el("td", { text: r.outcome }),
    el("td", { text: r.message }), el("td", { text: typeof r.data === "object" ? JSON.stringify(r.data) : r.data })));
  $("report-rows").tBodies[0].replaceChildren(...rows.slice(0, 500));
  if (rows.length > 500) $("report-rows").tBodies[0].append(el("tr", {}, el("td", { colspan: "4", text: (rows.length - 500) + " more rows in the CSV" })));
  const table = [["line", "outcome", "message", "row"], ...report.rows.map((r) => [r.line, r.outcome, r.message, r.data])];
  $("report-download").href = csvUrl(table);
  $("report").hidden = false;
  notice("Imported " + report.counts.imported + " of " + report.total + " rows.");
}

async function importPage() {
  const campaigns = await allPages("/campaigns");
  const wanted = new URLSearchParams(window.location.search).get("campaign");
  options($("import-campaign"), campaigns.map((c) => [c.id, c.name]), wanted);
  $("import-campaign").addEventListener("change", guarded(loadLists));
  if (campaigns.length) await loadLists();
  $("import-file-form").addEventListener("submit", guarded(showColumns));
  $("btn-import").addEventListener("click", guarded(runImport));
}

// --- Recordings ------------------------------------------------------------------------------

// The signed link names the server's public address; this page plays it from where it came.
function sameOrigin(link) { const url = new URL(link, window.location.href); return url.pathname + url.search; }

function seconds(value) { return Number(value).toFixed(1) + " s"; }

async function searchRecordings() {
  const params = new URLSearchParams();
  const put = (name, value) => { if (value) params.set(name, value); };
  put("contact_id", $("rec-contact").value);
  put("phone", $("rec-phone").value.trim());
  put("user_id", $("rec-agent").value);
  put("day", $("rec-day").value);
  const found = await api("GET", "/recordings?" + params.toString());
  const named = new Map(agents.map((a) => [a.id, a.display_name || a.username]));
  $("rec-table").tBodies[0].replaceChildren(...found.map((r) => {
    const url = r.url ? sameOrigin(r.url) : null;
    const play = url ? el("audio", { controls: "", preload: "metadata", src: url, "aria-label": "Recording " + r.id, "data-recording": r.id }) : el("span", { text: "deleted" });
    const link = url ? el("a", { href: url, download: r.voice_id + ".wav", text: "Download" }) : el("span", { text: "" });
    return el("tr", {}, el("td", { text: new Date(r.recorded_at).toLocaleString() }), el("td", { text: r.contact_id }),
      el("td", { text: named.get(r.user_id) || "" }), el("td", { text: seconds(r.duration_seconds) }), el("td", {}, play), el("td", {}, link));
  }));
  if (!found.length) $("rec-table").tBodies[0].append(el("tr", {}, el("td", { colspan: "6", text: "No recordings found." })));
  notice(found.length + " recordings.");
}

async function recordingsPage() {
  agents = await allPages("/users");
  options($("rec-agent"), [["", "any"], ...agents.map((a) => [a.id, a.display_name || a.username])]);
  $("rec-search").addEventListener("submit", guarded(searchRecordings));
  const wanted = new URLSearchParams(window.location.search).get("contact");
  if (wanted) $("rec-contact").value = wanted;
  await searchRecordings();
}

// --- Contacts --------------------------------------------------------------------------------

const CONTACT_FIELDS = [["salutation", "Salutation"], ["title", "Title"], ["first_name", "First name"],
  ["name", "Last name"], ["company", "Company"], ["email", "E-mail"], ["address", "Street"],
  ["street_number", "No."], ["postal_code", "Postal code"], ["city", "City"], ["country", "Country"],
  ["user_data", "User data"], ["external_id", "External id"], ["comment", "Comment"]];
let contact = null;
let contactCursor = null;

function contactQuery() {
  const params = new URLSearchParams({ limit: "50" });
  const put = (name, value) => { if (value) params.set(name, value); };
  put("campaign_id", $("cs-campaign").value);
  put("list_id", $("cs-list").value);
  put("phone", $("cs-phone").value.trim());
  put("user_data", $("cs-user-data").value.trim());
  put("external_id", $("cs-external-id").value.trim());
  put("status", $("cs-status").value);
  put("locked", $("cs-locked").value);
  return params;
}

function contactRow(c) {
  const first = (c.phones || [])[0];
  return el("tr", { "data-contact": c.id }, el("td", { text: c.id }),
    el("td", { text: [c.first_name, c.name].filter(Boolean).join(" ") }), el("td", { text: c.company }),
    el("td", { text: first ? first.e164 || first.raw : "" }), el("td", { text: c.status }), el("td", { text: c.locked ? "yes" : "no" }),
    el("td", {}, el("button", { type: "button", class: "quiet", text: "Open", "aria-label": "Open contact " + c.id, onclick: guarded(() => openContact(c.id)) })));
}

async function searchContacts(more) {
  const params = contactQuery();
  if (more && contactCursor != null) params.set("cursor", contactCursor);
  const page = await api("GET", "/contacts?" + params.toString());
  const body = $("contact-table").tBodies[0];
  if (!more) body.replaceChildren();
  body.append(...page.items.map(contactRow));
  contactCursor = page.next_cursor;
  $("btn-more-contacts").hidden = contactCursor == null;
  if (!more) notice(page.items.length + (contactCursor == null ? "" : "+") + " contacts found.");
}

function showContact(c) {
  contact = c;
  $("contact-editor").hidden = false;
  text($("contact-title"), "Contact " + c.id + ": " + [c.first_name, c.name].filter(Boolean).join(" "));
  text($("contact-state"), "Status " + c.status + (c.locked ? ", locked" : ""));
  for (const [name] of CONTACT_FIELDS) $("ct-" + name).value = c[name] == null ? "" : c[name];
  for (let n = 1; n <= 6; n++) {
    const phone = (c.phones || []).find((p) => p.position === n);
    $("ct-phone" + n).value = phone ? phone.raw : "";
  }
  $("contact-recordings").href = "/console/admin/recordings?contact=" + c.id;
}

async function openContact(id) {
  const [c, history] = await Promise.all([api("GET", "/contacts/" + id), api("GET", "/contacts/" + id + "/history?limit=50")]);
  showContact(c);
  const named = new Map(agents.map((a) => [a.id, a.display_name || a.username]));
  $("contact-history").tBodies[0].replaceChildren(...history.items.map((h) => el("tr", {},
    el("td", { text: new Date(h.started_at).toLocaleString() }), el("td", { text: h.b_number }),
    el("td", { text: h.outcome || "in progress" }), el("td", { text: named.get(h.user_id) || "" }))));
}

async function saveContact() {
  const body = {};
  for (const [name] of CONTACT_FIELDS) {
    const value = $("ct-" + name).value.trim() || null;
    if (value !== (contact[name] == null ? null : String(contact[name]))) body[name] = value;
  }
  const phones = {};
  for (let n = 1; n <= 6; n++) {
    const old = (contact.phones || []).find((p) => p.position === n);
    const value = $("ct-phone" + n).value.trim() || null;
    if (value !== (old ? old.raw : null)) phones[String(n)] = value;
  }
  if (Object.keys(phones).length) body.phones = phones;
  showContact(await api("PATCH", "/contacts/" + contact.id, body));
  notice("Contact " + contact.id + " saved.");
}

function contactAction(action) {
  return guarded(async () => {
    showContact(await api("POST", "/contacts/" + contact.id + ":" + action));
    notice("Contact " + contact.id + ": " + action + " done.");
  });
}

async function contactsPage() {
  const [campaigns, lists] = await Promise.all([allPages("/campaigns"), allPages("/lists")]);
  agents = await allPages("/users");
  options($("cs-campaign"), [["", "any"], ...campaigns.map((c) => [c.id, c.name])]);
  options($("cs-list"), [["", "any"], ...lists.map((l) => [l.id, l.name])]);
  const fields = CONTACT_FIELDS.map(([name, label]) => el("div", { class: "field" }, el("label", { for: "ct-" + name, text: label }), el("input", { id: "ct-" + name })));
  for (let n = 1; n <= 6; n++) fields.push(el("div", { class: "field" }, el("label", { for: "ct-phone" + n, text: "Number " + n }), el("input", { id: "ct-phone" + n })));
  $("contact-fields").replaceChildren(...fields);
  $("contact-search").addEventListener("submit", guarded(() => searchContacts(false)));
  $("btn-more-contacts").addEventListener("click", guarded(() => searchContacts(true)));
  $("contact-form").addEventListener("submit", guarded(saveContact));
  $("btn-lock").addEventListener("click", contactAction("lock"));
  $("btn-unlock").addEventListener("click", contactAction("unlock"));
  $("btn-reset").addEventListener("click", contactAction("reset"));
  await searchContacts(false);
}

// --- Do not call -----------------------------------------------------------------------------

const DNC_BATCH = 10000; // the API takes up to 10,000 numbers a request

async function dncNumbers() {
  const typed = $("dnc-numbers").value.split(/\r?\n/);
  const file = $("dnc-file").files[0];
  const lines = file ? typed.concat((await file.text()).split(/\r?\n/)) : typed;
  // A CSV's first column; a header line that holds no digit is not a number.
  return lines.map((line) => line.split(/[,;\t]/)[0].replace(/^"|"$/g, "").trim()).filter((n) => /\d/.test(n));
}

async function changeDnc(path, verb) {
  const numbers = await dncNumbers();
  if (!numbers.length) { showError("Type numbers or choose a file first."); return; }
  const totals = {};
  for (let i = 0; i < numbers.length; i += DNC_BATCH) {
    const body = { numbers: numbers.slice(i, i + DNC_BATCH) };
    if ($("dnc-campaign").value) body.campaign_id = Number($("dnc-campaign").value);
    if (path === "/dnc" && $("dnc-note").value.trim()) body.note = $("dnc-note").value.trim();
    const result = await api("POST", path, body);
    for (const [outcome, n] of Object.entries(result.counts)) totals[outcome] = (totals[outcome] || 0) + n;
  }
  text($("dnc-outcome"), verb + ": " + Object.entries(totals).filter(([, n]) => n).map(([o, n]) => o.replace("_", " ") + " " + n).join(", "));
  $("dnc-add").reset();
  await listDnc();
}

let campaignNames = new Map();

async function listDnc() {
  const number = $("dnc-filter-number").value.trim();
  const page = await api("GET", "/dnc?limit=200" + (number ? "&number=" + encodeURIComponent(number) : ""));
  $("dnc-table").tBodies[0].replaceChildren(...page.items.map((entry) => el("tr", {},
    el("td", { text: entry.e164 }), el("td", { text: entry.campaign_id ? campaignNames.get(entry.campaign_id) || entry.campaign_id : "every campaign" }),
    el("td", { text: entry.source }), el("td", { text: entry.note }), el("td", { text: new Date(entry.created_at).toLocaleString() }),
    el("td", {}, el("button", { type: "button", class: "quiet", text: "Remove", "aria-label": "Remove " + entry.e164, onclick: guarded(async () => {
      await api("DELETE", "/dnc/" + entry.id);
      await listDnc();
    }) })))));
}

async function downloadDnc() {
  const entries = await allPages("/dnc");
  const link = el("a", { href: csvUrl([["number", "campaign_id", "source", "note", "created_at", "expires_at"],
    ...entries.map((e) => [e.e164, e.campaign_id, e.source, e.note, e.created_at, e.expires_at])]), download: "dnc.csv" });
  document.body.append(link);
  link.click();
  link.remove();
}

async function dncPage() {
  const campaigns = await allPages("/campaigns");
  campaignNames = new Map(campaigns.map((c) => [c.id, c.name]));
  options($("dnc-campaign"), [["", "every campaign (tenant-wide)"], ...campaigns.map((c) => [c.id, c.name])]);
  $("dnc-check").addEventListener("submit", guarded(async () => {
    const result = await api("GET", "/dnc/check?number=" + encodeURIComponent($("dnc-check-number").value.trim()));
    text($("dnc-check-result"), result.e164 + (result.blocked ? " is on the do-not-call list" : " may be called"));
  }));
  $("dnc-add").addEventListener("submit", guarded(() => changeDnc("/dnc", "Added")));
  $("btn-dnc-remove").addEventListener("click", guarded(() => changeDnc("/dnc:remove", "Removed")));
  $("dnc-filter").addEventListener("submit", guarded(listDnc));
  $("btn-dnc-download").addEventListener("click", guarded(downloadDnc));
  await listDnc();
}

// --- Users and groups ------------------------------------------------------------------------

async function loadUsers() {
  const [users, groupList] = await Promise.all([allPages("/users"), allPages("/groups")]);
  const memberships = await Promise.all(users.map((u) => allPages("/users/" + u.id + "/groups")));
  $("user-table").tBodies[0].replaceChildren(...users.map((u, i) => {
    const role = el("select", { "aria-label": "Role of " + u.username });
    options(role, ["agent", "supervisor", "admin"].map((r) => [r, r]), u.role);
    role.addEventListener("change", guarded(async () => {
      await api("PATCH", "/users/" + u.id, { role: role.value });
      notice(u.username + " is now " + role.value + ".");
    }));
    const reset = el("button", { type: "button", class: "quiet", text: "Reset password", "aria-label": "Reset password of " + u.username, onclick: guarded(async () => {
      const password = window.prompt("New password for " + u.username + " (at least 8 characters)");
      if (!password) return;
      await api("PATCH", "/users/" + u.id, { password });
      notice("The password of " + u.username + " was changed.");
    }) });
    const active = el("button", { type: "button", class: u.active ? "danger" : "quiet", text: u.active ? "Deactivate" : "Activate",
      "aria-label": (u.active ? "Deactivate " : "Activate ") + u.username, onclick: guarded(async () => {
        await api("PATCH", "/users/" + u.id, { active: !u.active });
        await loadUsers();
        notice(u.username + (u.active ? " deactivated." : " activated."));
      }) });
    return el("tr", { "data-user": u.id }, el("th", { scope: "row", text: u.username }), el("td", { text: u.display_name }), el("td", {}, role),
      el("td", { class: "active", text: u.active ? "yes" : "no" }), el("td", { text: memberships[i].map((g) => g.name).join(", ") }), el("td", {}, reset, active));
  }));
  $("group-list").replaceChildren(...groupList.map((g) => el("li", { text: g.name + (g.description ? " — " + g.description : "") })));
  options($("gm-group"), groupList.map((g) => [g.id, g.name]), $("gm-group").value);
  options($("gm-user"), users.map((u) => [u.id, u.username]), $("gm-user").value);
}

async function usersPage() {
  $("user-form").addEventListener("submit", guarded(async () => {
    const body = { username: $("user-name").value.trim(), role: $("user-role").value };
    if ($("user-display").value.trim()) body.display_name = $("user-display").value.trim();
    if ($("user-password").value) body.password = $("user-password").value;
    if ($("user-extension").value.trim()) body.extension = $("user-extension").value.trim();
    const made = await api("POST", "/users", body);
    $("user-form").reset();
    await loadUsers();
    notice("User " + made.username + " created.");
  }));
  $("group-form").addEventListener("submit", guarded(async () => {
    const made = await api("POST", "/groups", { name: $("group-name").value.trim() });
    $("group-form").reset();
    await loadUsers();
    notice("Group " + made.name + " created.");
  }));
  $("group-member-form").addEventListener("submit", guarded(async () => {
    await api("POST", "/groups/" + $("gm-group").value + "/members", { user_id: Number($("gm-user").value) });
    await loadUsers();
    notice("Added to the group.");
  }));
  await loadUsers();
}

// --- Exports ---------------------------------------------------------------------------------

function exportRow(item) {
  const file = item.url ? el("a", { href: sameOrigin(item.url), text: "Download" }) : el("span", { text: item.error || "" });
  return el("tr", { "data-export": item.file_id }, el("td", { text: item.file_id.slice(0, 8) }), el("td", { class: "export-state", text: item.state }),
    el("td", { text: item.rows == null ? "" : item.rows }), el("td", { text: item.size == null ? "" : item.size }), el("td", {}, file));
}

async function followExport(first) {
  let item = first;
  const row = () => $("export-table").querySelector('[data-export="' + item.file_id + '"]');
  while (item.state === "building") {
    await new Promise((resolve) => setTimeout(resolve, 500));
    item = await api("GET", "/exports/" + item.file_id);
    row().replaceWith(exportRow(item));
  }
  notice("Export " + item.state + (item.rows == null ? "" : ": " + item.rows + " rows") + ".");
}

async function exportsPage() {
  const campaigns = await allPages("/campaigns");
  options($("export-campaign"), campaigns.map((c) => [c.id, c.name]));
  $("export-form").addEventListener("submit", guarded(async () => {
    const fields = $("export-fields").value.split(",").map((f) => f.trim()).filter(Boolean);
    const item = await api("POST", "/exports", { campaign_id: Number($("export-campaign").value), fields, encoding: $("export-encoding").value });
    $("export-table").tBodies[0].prepend(exportRow(item));
    await followExport(item);
  }));
}

// --- CRM -------------------------------------------------------------------------------------

let endpointNames = new Map();

async function loadEndpoints() {
  const endpoints = await api("GET", "/crm/endpoints");
  endpointNames = new Map(endpoints.map((e) => [e.id, e.name]));
  $("endpoint-table").tBodies[0].replaceChildren(...endpoints.map((e) => el("tr", {},
    el("th", { scope: "row", text: e.name }), el("td", { text: e.kind }), el("td", { text: e.url }), el("td", { text: e.active ? "yes" : "no" }),
    el("td", {}, el("button", { type: "button", class: "quiet", text: e.active ? "Pause" : "Resume", "aria-label": (e.active ? "Pause " : "Resume ") + e.name,
      onclick: guarded(async () => { await api("PATCH", "/crm/endpoints/" + e.id, { active: !e.active }); await loadEndpoints(); }) }),
    el("button", { type: "button", class: "quiet", text: "Remove", "aria-label": "Remove " + e.name,
      onclick: guarded(async () => { await api("DELETE", "/crm/endpoints/" + e.id); await loadEndpoints(); }) })))));
}

async function loadOutbox() {
  const status = $("outbox-status").value;
  const page = await api("GET", "/crm/outbox?limit=200" + (status ? "&status=" + status : ""));
  $("outbox-table").tBodies[0].replaceChildren(...page.items.map((m) => el("tr", { "data-message": m.id },
    el("td", { text: m.id }), el("td", { text: endpointNames.get(m.endpoint_id) || m.endpoint_id }), el("td", { text: m.event_type }),
    el("td", { class: "outbox-status", text: m.status }), el("td", { text: m.attempts }), el("td", { text: m.last_error }),
    el("td", {}, el("button", { type: "button", class: "quiet", text: "Retrigger", "aria-label": "Retrigger message " + m.id,
      onclick: guarded(() => retrigger({ message_ids: [m.id] })) })))));
  if (!page.items.length) $("outbox-table").tBodies[0].append(el("tr", {}, el("td", { colspan: "7", text: "No messages." })));
}

async function retrigger(body) {
  const result = await api("POST", "/crm/outbox:retrigger", body);
  await loadOutbox();
  notice(result.retriggered + " messages sent again.");
}

async function crmPage() {
  $("endpoint-form").addEventListener("submit", guarded(async () => {
    const body = { name: $("ep-name").value.trim(), kind: $("ep-kind").value, url: $("ep-url").value.trim() };
    if ($("ep-key").value.trim()) body.api_key = $("ep-key").value.trim();
    await api("POST", "/crm/endpoints", body);
    $("endpoint-form").reset();
    await loadEndpoints();
  }));
  $("outbox-filter").addEventListener("submit", guarded(loadOutbox));
  $("btn-retrigger-dead").addEventListener("click", guarded(() => retrigger({})));
  await loadEndpoints();
  await loadOutbox();
}

const PAGES = { campaigns: campaignsPage, import: importPage, recordings: recordingsPage, contacts: contactsPage,
  dnc: dncPage, users: usersPage, exports: exportsPage, crm: crmPage };
// The page is busy until its data is loaded and its buttons work (assistive technology and
// tests wait for aria-busy="false").
async function startPage() {
  const main = $("main");
  main.setAttribute("aria-busy", "true");
  try { await guarded(PAGES[section])(); } finally { main.setAttribute("aria-busy", "false"); }
}
if (PAGES[section]) startPage();
