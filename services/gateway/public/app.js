// The Vigil console: plain JavaScript, no build. Talks to the gateway over its WebSocket protocol v1
// (docs/console-protocol.md) and reads incidents over the HTTP API with the same token.
const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};

const FEED_MAX = 500;
const SVG = "http://www.w3.org/2000/svg";
let token = null;
let ws = null;
let me = null;
let nextId = 1;
let state = null;
let selectedIncident = null;
let feedPaused = false;
const pending = new Map(); // request id → callback
const feed = []; // events (newest last)

// ───────── token ─────────
function readToken() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem("vigil.token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search); // keep it out of the address bar
  }
  return sessionStorage.getItem("vigil.token");
}

function showLogin(message) {
  $("#login").hidden = false;
  $("#app").hidden = true;
  $("#login-error").textContent = message || "";
}

$("#login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const t = $("#token").value.trim();
  if (!t) return;
  sessionStorage.setItem("vigil.token", t);
  token = t;
  connect();
});

// ───────── WebSocket ─────────
function request(msg, cb) {
  const id = String(nextId++);
  if (cb) pending.set(id, cb);
  ws.send(JSON.stringify({ v: 1, id, ...msg }));
  return id;
}

function setConn(text, on) {
  const c = $("#conn");
  c.textContent = text;
  c.className = `badge ${on ? "on" : "off"}`;
}

function connect() {
  if (ws) ws.close();
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  ws = new WebSocket(url);
  setConn("connecting", false);
  ws.onopen = () => ws.send(JSON.stringify({ v: 1, id: "auth", op: "auth", token }));
  ws.onmessage = (m) => onMessage(JSON.parse(m.data));
  ws.onclose = (ev) => {
    setConn("disconnected", false);
    if (ev.code === 4401) {
      sessionStorage.removeItem("vigil.token");
      showLogin(`The gateway refused the token (${ev.reason || "unauthorized"}).`);
      return;
    }
    setTimeout(connect, 2000);
  };
}

function onMessage(m) {
  switch (m.type) {
    case "hello":
      $("#device").textContent = `· ${m.device}`;
      return;
    case "authenticated":
      me = { user: m.user, role: m.role };
      $("#who").textContent = `${m.user} (${m.role})`;
      $("#login").hidden = true;
      $("#app").hidden = false;
      setConn("live", true);
      request({ op: "state", watch: true });
      // The last 10 minutes first, then live: one ordered stream, no gap, no repeat.
      feed.length = 0;
      request({ op: "subscribe", from: { time: new Date(Date.now() - 10 * 60_000).toISOString() } });
      return;
    case "state":
      state = m.state;
      renderState();
      return;
    case "events":
      for (const e of m.events) onEvent(e);
      renderFeed();
      return;
    case "lagged":
      $("#feed-note").textContent = `${m.dropped} events were not shown (the page fell behind).`;
      return;
    case "error": {
      const cb = pending.get(m.id);
      pending.delete(m.id);
      if (cb) cb(m);
      else console.warn("gateway:", m.code, m.message);
      return;
    }
    case "command": {
      const cb = pending.get(m.id);
      pending.delete(m.id);
      if (cb) cb(m);
      return;
    }
    case "replay.started":
    case "replay.event":
    case "replay.done":
      onReplay(m);
      return;
  }
}

// ───────── workers ─────────
function fmtAgo(ms) {
  if (!ms) return "-";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

function sendCommand(action, worker) {
  if (action === "kill" && !confirm(`Kill ${worker}? Vigil will not restart it until you do.`)) return;
  $("#command-status").textContent = `${action} ${worker}: sent…`;
  request({ op: "command", action, worker }, (r) => {
    $("#command-status").textContent = r.type === "error" ? `${action} ${worker}: refused — ${r.message}` : `${action} ${worker}: accepted (command ${r.command.id.slice(0, 8)})`;
  });
}

function renderWorkers() {
  const body = $("#workers tbody");
  const canAct = me && me.role === "operator";
  body.replaceChildren(
    ...state.workers.map((w) =>
      el(
        "tr",
        { "data-worker": w.name },
        el("td", {}, w.name, w.essential ? el("span", { class: "muted" }, " essential") : null),
        el("td", { class: `status st-${w.status}` }, w.status),
        el("td", { class: "pid num" }, w.pid ?? "-"),
        el("td", { class: "restarts num" }, w.restarts),
        el("td", {}, fmtAgo(w.startedAt)),
        el("td", { class: "mono" }, w.incident ? w.incident.slice(0, 8) : "-"),
        el(
          "td",
          { class: "actions" },
          ["restart", "pause", "resume", "kill"].map((a) =>
            el("button", { type: "button", "data-action": a, disabled: !canAct || !w.declared, title: canAct ? `${a} ${w.name}` : "operators only", onclick: () => sendCommand(a, w.name) }, a),
          ),
        ),
      ),
    ),
  );
}

// ───────── health charts ─────────
function renderCharts() {
  const pts = state.health || [];
  const now = Date.now();
  // The last 15 minutes, or since the first sample when there is less: a fresh device still gets a readable line.
  const first = pts.length ? pts[0].t : now;
  const from = Math.min(now - 60_000, Math.max(now - 15 * 60_000, first));
  for (const fig of document.querySelectorAll("#charts figure")) {
    const metric = fig.dataset.metric;
    const box = $(".chart", fig);
    const series = pts.filter((p) => typeof p[metric] === "number" && p.t >= from);
    const cap = $("figcaption", fig);
    cap.replaceChildren(el("span", {}, { cpu: "CPU %", mem: "Memory %", temp: "Temperature °C" }[metric]), el("span", { class: "mono" }, series.length ? series[series.length - 1][metric].toFixed(1) : ""));
    if (series.length === 0) {
      box.replaceChildren(el("span", { class: "muted no-data" }, "no health data"));
      continue;
    }
    const vals = series.map((p) => p[metric]);
    const lo = metric === "temp" ? Math.min(...vals) - 2 : 0;
    const hi = metric === "temp" ? Math.max(...vals) + 2 : Math.max(100, ...vals);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 1000 100");
    svg.setAttribute("preserveAspectRatio", "none");
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", series.map((p) => `${(((p.t - from) / (now - from)) * 1000).toFixed(1)},${(100 - ((p[metric] - lo) / (hi - lo || 1)) * 100).toFixed(1)}`).join(" "));
    svg.append(line);
    box.replaceChildren(svg);
  }
}

// ───────── incidents ─────────
function renderIncidents() {
  const body = $("#incidents tbody");
  const list = state.incidents;
  if (list.length === 0) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "no incidents")));
    return;
  }
  body.replaceChildren(
    ...list.map((i) =>
      el(
        "tr",
        { "data-incident": i.id, class: i.id === selectedIncident ? "selected" : "", onclick: () => openIncident(i.id) },
        el("td", {}, new Date(i.openedAt).toLocaleTimeString()),
        el("td", {}, i.worker),
        el("td", { class: `st-${i.status}` }, i.status),
        el("td", {}, i.reason),
      ),
    ),
  );
}

const STAGE_LABEL = { exit: "exit", opened: "incident", decision: "decision", command: "command", outcome: "outcome", stable: "stable", resolved: "resolved", escalated: "escalated", other: "event" };

function stageOf(e) {
  const n = e.type.replace("io.vigil.", "");
  if (n === "obs.worker.exited") return "exit";
  if (n === "obs.worker.stable") return "stable";
  if (n === "dec.incident.opened") return "opened";
  if (n === "dec.incident.resolved") return "resolved";
  if (n === "dec.incident.escalated") return "escalated";
  if (n.startsWith("dec.")) return "decision";
  if (n.startsWith("cmd.")) return "command";
  if (n.startsWith("out.")) return "outcome";
  return "other";
}

function describe(e) {
  const n = e.type.replace("io.vigil.", "");
  const d = e.data || {};
  switch (n) {
    case "obs.worker.exited":
      return d.error ? `${d.worker} could not start: ${d.error}` : `${d.worker} (pid ${d.pid}) ${d.expected ? "stopped" : "exited"}: ${d.signal ? `signal ${d.signal}` : `code ${d.code}`} after ${d.uptimeMs} ms`;
    case "obs.worker.started":
      return `${d.worker} started, pid ${d.pid}`;
    case "obs.worker.stable":
      return `${d.worker} stable (pid ${d.pid}, up ${d.uptimeMs} ms)`;
    case "dec.remediation.decided":
      return `${d.action} ${d.worker} — policy ${d.policy}, attempt ${d.attempt}, delay ${d.delayMs} ms: ${d.reason}`;
    case "dec.incident.opened":
    case "dec.incident.resolved":
    case "dec.incident.escalated":
      return d.reason;
    case "out.command.rejected":
      return `${d.action} ${d.worker} rejected: ${d.reason}`;
    case "out.command.failed":
      return `${d.action} ${d.worker} failed: ${d.error}`;
    case "sys.service.heartbeat":
      return `${d.service} alive, ${Math.round((d.rssBytes || 0) / 1048576)} MiB`;
    case "obs.health.sample":
      return `cpu ${d.cpuPct?.toFixed?.(1)} % · mem ${d.memPct?.toFixed?.(1)} %${d.tempC != null ? ` · ${d.tempC} °C` : ""}`;
  }
  if (n.startsWith("cmd.")) return `${n.slice(11)} ${d.worker}${d.delayMs ? ` in ${d.delayMs} ms` : ""} (by ${d.requestedBy})`;
  if (n.startsWith("out.")) return `${n.slice(11)} ${d.worker}${d.pid ? ` pid ${d.pid}` : ""}${d.previousPid ? ` (was ${d.previousPid})` : ""} (by ${d.requestedBy})`;
  if (n.startsWith("sys.service.")) return `${d.service} ${n.slice(12)}`;
  return JSON.stringify(d).slice(0, 160);
}

function timelineItem(e, i) {
  const stage = stageOf(e);
  return el(
    "li",
    { "data-stage": stage, "data-index": i, "data-seq": e.seq },
    el("span", { class: "stage" }, STAGE_LABEL[stage]),
    el("span", { class: "mono muted" }, `#${e.seq} ${e.time.slice(11, 23)} `),
    el("span", {}, describe(e)),
  );
}

async function openIncident(id) {
  selectedIncident = id;
  renderIncidents();
  const box = $("#incident-detail");
  box.replaceChildren(el("p", { class: "muted" }, "loading…"));
  const r = await fetch(`/api/incidents/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${token}` } });
  if (!r.ok) {
    box.replaceChildren(el("p", { class: "error" }, `cannot load incident: ${r.status}`));
    return;
  }
  const { incident, events } = await r.json();
  const speed = el("select", { id: "replay-speed" }, [1, 5, 20, 0].map((s) => el("option", { value: s }, s === 0 ? "instant" : `${s}×`)));
  box.replaceChildren(
    el("h3", {}, `Incident ${id.slice(0, 8)} · ${incident.worker ?? ""} · `, el("span", { class: `st-${incident.status}` }, incident.status ?? "")),
    el("p", { class: "muted" }, incident.reason ?? ""),
    el("div", {}, el("button", { type: "button", id: "replay", onclick: () => request({ op: "replay", incident: id, speed: Number(speed.value) }) }, "▶ replay"), " speed ", speed, el("span", { id: "replay-status", class: "muted" }, "")),
    el("ol", { class: "timeline", "data-incident": id }, events.map(timelineItem)),
    el("p", { class: "muted" }, "Re-deciding with the current policies (what a policy change would have done) is in the CLI: ", el("code", {}, `vigil replay ${id.slice(0, 8)} --decide`)),
  );
}

function onReplay(m) {
  const list = $("#incident-detail ol.timeline");
  if (!list || list.dataset.incident !== m.incident && m.type === "replay.started") return;
  const status = $("#replay-status");
  if (m.type === "replay.started") {
    for (const li of list.children) li.classList.add("pending");
    status.textContent = ` replaying ${m.count} events…`;
  } else if (m.type === "replay.event") {
    const li = list.children[m.index];
    for (const x of list.children) x.classList.remove("replaying");
    if (li) li.classList.remove("pending"), li.classList.add("replaying");
  } else {
    for (const x of list.children) x.classList.remove("pending", "replaying");
    status.textContent = m.cancelled ? " replay cancelled" : " replay done";
  }
}

// ───────── feed ─────────
function onEvent(e) {
  feed.push(e);
  if (feed.length > FEED_MAX * 2) feed.splice(0, feed.length - FEED_MAX);
  // An incident the page is showing grows as events arrive.
  if (selectedIncident && (e.incident === selectedIncident || e.correlation === selectedIncident)) {
    const list = $("#incident-detail ol.timeline");
    if (list && ![...list.children].some((li) => li.dataset.seq === String(e.seq))) list.append(timelineItem(e, list.children.length));
  }
}

function feedVisible(e) {
  const kinds = new Set([...document.querySelectorAll('input[name="kind"]:checked')].map((i) => i.value));
  const kind = e.subject.split(".")[2];
  if (!kinds.has(kind)) return false;
  if ($("#hide-heartbeats").checked && /heartbeat$|health\.sample$/.test(e.type)) return false;
  const q = $("#feed-text").value.trim().toLowerCase();
  if (q && !`${e.type} ${e.incident ?? ""} ${JSON.stringify(e.data)}`.toLowerCase().includes(q)) return false;
  return true;
}

function renderFeed() {
  if (feedPaused) return;
  const rows = feed.filter(feedVisible).slice(-FEED_MAX).reverse();
  $("#feed tbody").replaceChildren(
    ...rows.map((e) =>
      el(
        "tr",
        { "data-seq": e.seq },
        el("td", { class: "num" }, e.seq),
        el("td", {}, e.time.slice(11, 23)),
        el("td", {}, e.subject.split(".")[2]),
        el("td", {}, e.type.replace(/^io\.vigil\.[a-z]+\./, "")),
        el("td", {}, describe(e)),
        el("td", {}, e.incident ? el("a", { href: "#", onclick: (ev) => (ev.preventDefault(), openIncident(e.incident)) }, e.incident.slice(0, 8)) : ""),
      ),
    ),
  );
}

for (const i of document.querySelectorAll("#feed-filters input")) i.addEventListener("input", renderFeed);
$("#feed-pause").addEventListener("click", (ev) => {
  feedPaused = !feedPaused;
  ev.target.textContent = feedPaused ? "resume" : "pause";
  if (!feedPaused) renderFeed();
});

function renderState() {
  renderWorkers();
  renderIncidents();
  renderCharts();
}
setInterval(() => state && renderCharts(), 10_000);

token = readToken();
if (token) connect();
else showLogin();
