// The agent's browser phone: JsSIP registers at Kamailio over a WebSocket and answers the
// dialer's calls by itself (with a short tone); microphone, connection and call state are shown,
// with mute and hang up. window.odPhone tells console.js whether Ready must stay blocked.
"use strict";

(() => {
  const box = document.getElementById("phone");
  if (!box || !window.JsSIP) return;
  const el = (id) => document.getElementById(id);
  const STATS_MS = 100;
  const AUDIBLE_LEVEL = 0.001; // inbound audioLevel (0..1) above which the far end is heard
  const PAGE_CLOSED_REASON = 'Reason: Q.850;cause=27;text="the agent\'s page closed"';
  const phone = { mic: "asking", connection: "offline", call: "idle", stream: null, session: null };
  let statsTimer = null;

  function show(id, state, label) {
    const dd = el(id);
    dd.dataset.state = state;
    dd.textContent = label;
  }

  function problem(message) {
    const p = el("phone-problem");
    p.textContent = message || "";
    p.hidden = !message;
  }

  function changed() {
    el("phone-mute").disabled = phone.call !== "talking";
    el("phone-hangup").disabled = phone.session === null;
    document.dispatchEvent(new CustomEvent("phonechange"));
  }

  window.odPhone = {
    blocksReady: () => phone.mic !== "allowed" || phone.connection !== "registered",
    inCall: () => phone.session !== null && phone.call === "talking",
  };

  function beep() {
    // The agent hears that a call is being put through.
    try {
      const ctx = new AudioContext();
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.1;
      osc.connect(gain).connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.15);
      osc.onended = () => ctx.close();
    } catch (e) { /* no audio output: the call still goes on */ }
  }

  async function askMicrophone() {
    try {
      phone.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      phone.mic = "allowed";
      show("phone-mic", "allowed", "allowed");
      return true;
    } catch (err) {
      const denied = err && (err.name === "NotAllowedError" || err.name === "SecurityError");
      phone.mic = denied ? "blocked" : "missing";
      show("phone-mic", phone.mic, denied ? "blocked" : "no microphone");
      problem(denied
        ? "Microphone access is blocked. Allow it for this site in the browser, then reload: you cannot go ready without it."
        : "No microphone was found. Connect a headset, then reload: you cannot go ready without it.");
      changed();
      return false;
    }
  }

  function register() {
    const socket = new JsSIP.WebSocketInterface(box.dataset.wsUrl);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri: box.dataset.uri,
      password: box.dataset.password,
      register: true,
      register_expires: 120,
      session_timers: false,
      user_agent: "opendialer console",
    });
    const connection = (state, label) => { phone.connection = state; show("phone-connection", state, label); changed(); };
    ua.on("connecting", () => connection("connecting", "connecting…"));
    ua.on("connected", () => connection("connected", "connected, registering…"));
    ua.on("disconnected", () => connection("offline", "offline (reconnecting)"));
    ua.on("registered", () => { problem(""); connection("registered", "ready for calls"); });
    ua.on("unregistered", () => connection("connected", "not registered"));
    ua.on("registrationFailed", (e) => {
      connection("failed", "registration failed");
      problem("The phone could not register (" + e.cause + "). Reload the page; if it persists, tell your supervisor.");
    });
    ua.on("newRTCSession", (e) => { if (e.originator === "remote") answer(e.session); });
    ua.start();
    window.addEventListener("pagehide", () => {
      // Not the agent's choice: the BYE says the phone is going away (Q.850 27), so the dialer
      // gives a caller put through moments ago the campaign's abandon handling.
      if (phone.session && !phone.session.isEnded()) {
        phone.session.terminate({ extraHeaders: [PAGE_CLOSED_REASON] });
      }
      ua.stop();
    });
  }

  function answer(session) {
    if (phone.session !== null) { session.terminate({ status_code: 486 }); return; }
    phone.session = session;
    keepMicrophoneThroughHold(session);
    callState("ringing", "answering…");
    session.on("peerconnection", (e) => {
      e.peerconnection.addEventListener("track", (t) => { el("phone-audio").srcObject = t.streams[0]; });
    });
    session.on("confirmed", () => {
      document.body.dataset.phoneAnsweredAt = String(Date.now());
      callState("talking", "talking");
      watchAudio(session.connection);
    });
    session.on("ended", ended);
    session.on("failed", ended);
    beep();
    const iceServers = JSON.parse(box.dataset.iceServers || "[]");
    session.answer({ mediaStream: phone.stream, pcConfig: { iceServers } });
  }

  // The dialer may park the phone first (agent-first dialling: an inactive offer) and
  // re-INVITE it when the customer answers. An inactive offer does not take over the
  // transceiver that holds the microphone (JSEP 5.10), so the later re-INVITE would get a
  // receive-only answer: the browser treats the park as sendrecv and still answers inactive.
  function keepMicrophoneThroughHold(session) {
    let parked = false;
    session.on("sdp", (e) => {
      if (e.originator === "remote" && e.type === "offer") {
        parked = /^a=inactive\r?$/m.test(e.sdp);
        if (parked) e.sdp = e.sdp.replace(/^a=inactive(\r?)$/gm, "a=sendrecv$1");
      } else if (e.originator === "local" && e.type === "answer" && parked) {
        e.sdp = e.sdp.replace(/^a=(sendrecv|sendonly|recvonly)(\r?)$/gm, "a=inactive$2");
      }
    });
  }

  function callState(state, label) { phone.call = state; show("phone-call", state, label); changed(); }

  function ended() {
    clearInterval(statsTimer);
    statsTimer = null;
    phone.session = null;
    el("phone-audio").srcObject = null;
    setMuted(false);
    callState("idle", "no call");
  }

  // Two-way audio: packets leave and audible packets arrive; written on <body> for tests.
  function watchAudio(pc) {
    const body = document.body.dataset;
    body.phoneTwoWayAt = "";
    statsTimer = setInterval(async () => {
      if (!pc || pc.connectionState === "closed") return;
      let sent = 0, received = 0, energy = 0, level = 0, codecId = "";
      const stats = await pc.getStats();
      stats.forEach((s) => {
        if (s.kind !== "audio") return;
        if (s.type === "outbound-rtp") { sent += s.packetsSent || 0; codecId = s.codecId || codecId; }
        if (s.type === "inbound-rtp") {
          received += s.packetsReceived || 0;
          energy += s.totalAudioEnergy || 0;
          level = Math.max(level, s.audioLevel || 0);
        }
      });
      body.phonePacketsSent = String(sent);
      body.phonePacketsReceived = String(received);
      body.phoneInboundEnergy = String(energy);
      const codec = codecId && stats.get(codecId);
      if (codec) body.phoneCodec = codec.mimeType; // the codec negotiated with rtpengine
      if (!body.phoneTwoWayAt && sent > 0 && received > 0 && level > AUDIBLE_LEVEL) {
        body.phoneTwoWayAt = String(Date.now());
      }
    }, STATS_MS);
  }

  function setMuted(muted) {
    const button = el("phone-mute");
    button.setAttribute("aria-pressed", String(muted));
    button.textContent = muted ? "Unmute" : "Mute";
  }

  el("phone-mute").addEventListener("click", () => {
    const session = phone.session;
    if (!session) return;
    const muted = !session.isMuted().audio;
    if (muted) session.mute({ audio: true }); else session.unmute({ audio: true });
    setMuted(muted);
  });

  function hangUp() {
    if (phone.session && !phone.session.isEnded()) phone.session.terminate();
  }
  el("phone-hangup").addEventListener("click", hangUp);
  // The console's own Hang up: with the call on this phone, the phone ends it (SIP BYE).
  document.addEventListener("click", (e) => {
    if (e.target.closest("#btn-hangup") && window.odPhone.inCall()) {
      e.stopImmediatePropagation();
      hangUp();
    }
  }, true);

  askMicrophone().then((ok) => { if (ok) register(); });
})();
