// The agent console: state pushed over server-sent events, actions sent with the CSRF token.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
let current = null; // the last state received
let clockOffset = 0; // server time minus this browser's time, in ms
let formContact = null; // the contact whose form is on screen (not overwritten while typing)

const FIELDS = [
  ["salutation", "Salutation"], ["title", "Title"], ["first_name", "First name"],
  ["name", "Name"], ["company", "Company"], ["address", "Street"],
  ["street_number", "No."], ["postal_code", "Postal code"], ["city", "City"],
  ["country", "Country"], ["email", "E-mail"], ["external_id", "External id"],
];

function text(el, value) { el.textContent = value == null ? "" : String(value); }

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
}

function serverNow() { return Date.now() + clockOffset; }

// The browser phone (phone.js), when the agent has one: no microphone or no registration, no Ready.
function phoneBlocksReady() { return Boolean(window.odPhone && window.odPhone.blocksReady()); }
document.addEventListener("phonechange", () => { if (current) renderState(current); });

function showError(message) {
  const box = $("message");
  text(box, message);
  box.hidden = !message;
}

async function send(path, body) {
  showError("");
  const response = await fetch("/console/api/" + path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body || {}),
  });
  if (response.status === 401) { window.location.assign("/console/login?expired=1"); return null; }
  const data = await response.json();
  if (!response.ok) { showError(data.error ? data.error.message : "Request failed"); return null; }
  render(data);
  return data;
}

function pairs(dl, entries) {
  dl.replaceChildren();
  for (const [label, value] of entries) {
    if (value == null || value === "") continue;
    const dt = document.createElement("dt"); text(dt, label);
    const dd = document.createElement("dd"); text(dd, value);
    dl.append(dt, dd);
  }
}

function renderState(state) {
  const badge = $("state");
  text(badge, state.agent.state.replace("_", " "));
  badge.dataset.state = state.agent.state;
  text($("pause-reason"), state.agent.state === "paused" ? state.agent.pause_reason : "");
  const s = state.agent.state;
  $("btn-login").disabled = s !== "logged_out";
  $("btn-ready").disabled = !(s === "paused" || s === "wrap_up") || phoneBlocksReady();
  $("btn-logout").disabled = !(s === "ready" || s === "paused" || s === "wrap_up");
  $("btn-pause").disabled = s === "logged_out";
  const select = $("pause-reason-select");
  if (select.options.length !== state.pause_reasons.length) {
    select.replaceChildren(...state.pause_reasons.map((r) => new Option(r, r)));
  }
  text($("campaigns"), state.campaigns.map((c) => c.name).join(", ") || "none");
  text($("day-calls"), state.my_day.calls);
  text($("day-talk"), duration(state.my_day.talk_seconds));
  $("day-results").replaceChildren(...state.my_day.results.map((r) => {
    const li = document.createElement("li"); text(li, r.result + ": " + r.count); return li;
  }));
}

function renderContact(call) {
  const c = call.contact;
  const name = [c.salutation, c.title, c.first_name, c.name].filter(Boolean).join(" ");
  text($("contact-name"), name || "Contact " + c.id);
  text($("contact-company"), c.company);
  pairs($("contact-details"), FIELDS.map(([k, label]) => [label, c[k]]));
  pairs($("custom-data"), Object.entries(c.custom_data));
  $("phones").replaceChildren(...c.phones.map((p) => {
    const li = document.createElement("li");
    text(li, p.position + ": " + p.raw + (p.invalid ? " (invalid)" : ""));
    return li;
  }));
  text($("contact-zone"), c.time_zone);
  text($("script"), call.script || "");
  $("history").replaceChildren(...call.history.map((h) => {
    const tr = document.createElement("tr");
    for (const v of [new Date(h.started_at).toLocaleString(), h.number, h.outcome, h.result, h.agent]) {
      const td = document.createElement("td"); text(td, v); tr.append(td);
    }
    return tr;
  }));
  const codes = $("result-code");
  const pending = codes.value; // a choice not sent yet outlives the state pushed meanwhile
  codes.replaceChildren(new Option("Choose…", ""), ...call.result_codes.map((r) => new Option(r.text, r.id)));
  if ([...codes.options].some((o) => o.value === pending)) codes.value = pending;
  const chosen = call.result_codes.find((r) => r.id === call.result_code_id);
  text($("result-current"), chosen ? "Result: " + chosen.text : "");
  // Once per contact: the agent's typing and the modules' frames outlive the states pushed.
  if (formContact !== c.id) { renderForm(call); renderModules(call.modules); formContact = c.id; }
}

function renderForm(call) {
  const box = $("form-fields");
  box.replaceChildren();
  for (const f of call.form_fields) {
    const id = "form-" + f.name;
    const label = document.createElement("label");
    label.htmlFor = id; text(label, (f.label || f.name) + (f.required ? " *" : ""));
    let input;
    if (f.options && f.options.length) {
      input = document.createElement("select");
      input.append(new Option("", ""), ...f.options.map((o) => new Option(String(o), String(o))));
    } else {
      input = document.createElement("input");
      input.type = ["number", "date", "email", "tel"].includes(f.field_type) ? f.field_type : "text";
    }
    input.id = id; input.name = f.name; input.required = f.required;
    const value = call.contact.form_data[f.name];
    input.value = value == null ? "" : String(value);
    box.append(label, input);
  }
  $("notes").value = call.contact.comment || "";
}

function renderModules(modules) {
  $("modules-box").hidden = !modules.length;
  $("modules").replaceChildren(...modules.map((m) => {
    const wrap = document.createElement("div");
    const link = document.createElement("a");
    link.href = m.url; link.target = "_blank"; link.rel = "noopener noreferrer";
    text(link, m.name + " (opens in a new tab)");
    wrap.append(link);
    if (m.open_in === "frame") {
      const frame = document.createElement("iframe");
      frame.src = m.url; frame.title = m.name;
      frame.setAttribute("sandbox", "allow-forms allow-scripts allow-same-origin allow-popups");
      wrap.append(frame);
    }
    return wrap;
  }));
}

// What the screen says with no call, by the agent's state.
const IDLE_TEXT = {
  logged_out: "You are logged out. Log in to start your shift.",
  paused: "No call. Go Ready to receive calls.",
  ready: "Ready: waiting for the next call.",
};

function render(state) {
  // An action's answer can arrive after a push read later (the skip's "ready", overtaken by the
  // next preview's push): a state read before the one shown is stale and must not replace it.
  if (current && new Date(state.now) < new Date(current.now)) return;
  // The screen pop: a call bridged to the agent shown (its contact may show earlier, reserved).
  const bridged = state.call ? state.call.bridged_at : null;
  const popped = bridged && !(current && current.call && current.call.bridged_at === bridged);
  current = state;
  clockOffset = new Date(state.now).getTime() - Date.now();
  renderState(state);
  const call = state.call;
  $("idle").hidden = !!call;
  text($("idle-text"), IDLE_TEXT[state.agent.state] || IDLE_TEXT.paused);
  $("call").hidden = !call;
  if (!call) { formContact = null; tick(); return; }
  renderContact(call);
  const s = state.agent.state;
  $("preview-box").hidden = s !== "preview";
  $("oncall-box").hidden = s !== "on_call";
  $("wrapup-box").hidden = s !== "wrap_up";
  text($("wrapup-auto"), call.wrap_up_until ? "(ready by itself at the end of the wrap-up time)" : "");
  if (popped) {
    document.body.dataset.poppedAt = String(Date.now());
    document.body.dataset.contactId = String(call.contact.id);
    document.body.dataset.bridgedAt = String(new Date(bridged).getTime());
  }
  tick();
}

function tick() {
  if (!current) return;
  const now = serverNow();
  text($("state-time"), duration((now - new Date(current.agent.since).getTime()) / 1000));
  // The day's wait and pause times as of the state's reading, and running on in the state now.
  const sinceRead = Math.max(0, (now - new Date(current.now).getTime()) / 1000);
  const s = current.agent.state;
  text($("day-wait"), duration(current.my_day.wait_seconds + (s === "ready" ? sinceRead : 0)));
  text($("day-pause"), duration(current.my_day.pause_seconds + (s === "paused" ? sinceRead : 0)));
  const call = current.call;
  if (call && call.preview_until) {
    text($("preview-countdown"), Math.max(0, Math.ceil((new Date(call.preview_until).getTime() - now) / 1000)));
  }
  if (call && current.agent.state === "wrap_up") {
    text($("wrapup-timer"), duration((now - new Date(current.agent.since).getTime()) / 1000));
  }
}

function connect() {
  const source = new EventSource("/console/api/events");
  source.addEventListener("state", (e) => render(JSON.parse(e.data)));
  source.addEventListener("signed_out", () => { source.close(); window.location.assign("/console/login?expired=1"); });
  source.onerror = async () => {
    // Closed by the server or the network: find out whether the login is still good.
    const r = await fetch("/console/api/state", { credentials: "same-origin" });
    if (r.status === 401) { source.close(); window.location.assign("/console/login?expired=1"); }
  };
}

document.addEventListener("click", (e) => {
  const button = e.target.closest("button[data-agent], button[data-call]");
  if (!button) return;
  if (button.dataset.agent) send("agent/" + button.dataset.agent);
  else send("call/" + button.dataset.call);
});

$("pause-form").addEventListener("submit", (e) => {
  e.preventDefault();
  send("agent/pause", { reason: $("pause-reason-select").value });
});

$("result-form").addEventListener("submit", (e) => {
  e.preventDefault();
  send("result", { result_code_id: Number($("result-code").value) });
});

$("order-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const form_data = {};
  for (const input of $("form-fields").querySelectorAll("input, select")) {
    if (input.value !== "") form_data[input.name] = input.value;
  }
  send("form", { form_data, notes: $("notes").value }).then((ok) => {
    if (ok) { formContact = null; render(ok); }
  });
});

$("callback-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const data = new FormData(e.target);
  send("callback", {
    date: data.get("date"), time: data.get("time"),
    personal: data.get("personal") === "true", note: data.get("note") || null,
  }).then((ok) => {
    const done = $("callback-done");
    done.hidden = !ok;
    if (ok) text(done, "Callback scheduled for " + data.get("date") + " " + data.get("time"));
  });
});

setInterval(tick, 1000);
connect();
