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
/** Lines the Logs view asks for when it opens, and the most it keeps while following. */
const LOG_LINES = 200;
const LOG_KEEP = 1000;
const SVG = "http://www.w3.org/2000/svg";
let token = null;
let ws = null;
let me = null;
let nextId = 1;
let state = null;
let selectedIncident = null;
let feedPaused = false;
let logView = null; // { name, sub } while the Logs view is open
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
      // A Logs view open across a reconnect follows again from its last lines.
      if (logView) openLogs(logView.name);
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
    case "logs":
      if (m.id === null) return onLogLines(m);
    // fall through: the first answer to a logs request
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
        el("td", { class: "cpu num" }, typeof w.cpuPct === "number" ? `${w.cpuPct.toFixed(1)} %` : "-"),
        el("td", { class: "mem num" }, typeof w.rssBytes === "number" ? `${(w.rssBytes / 1048576).toFixed(1)} MiB` : "-"),
        el("td", {}, fmtAgo(w.startedAt)),
        el("td", { class: "mono" }, w.incident ? w.incident.slice(0, 8) : "-"),
        el(
          "td",
          { class: "actions" },
          ["restart", "pause", "resume", "kill", "start", "stop"].map((a) =>
            el("button", { type: "button", "data-action": a, disabled: !canAct || !w.declared, title: canAct ? `${a} ${w.name}` : "operators only", onclick: () => sendCommand(a, w.name) }, a),
          ),
          // Viewers may read logs too.
          el("button", { type: "button", class: "logs-button", "data-logs": w.name, disabled: !w.declared, title: `${w.name}'s output`, onclick: () => openLogs(w.name) }, "logs"),
        ),
      ),
    ),
  );
}

// ───────── logs ─────────
// A worker's last lines from its bounded log on the device, then new lines as it prints them (the
// gateway's `logs` op with follow), until the view is closed.
function appendLogLines(lines) {
  const pre = $("#log-lines");
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.append(...lines.map((l) => el("span", { class: "line" }, l, "\n")));
  while (pre.children.length > LOG_KEEP) pre.firstChild.remove();
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

function openLogs(name) {
  if (logView && logView.sub) request({ op: "unsubscribe", sub: logView.sub });
  logView = { name, sub: null };
  $("#logs-section").hidden = false;
  $("#logs-section").dataset.worker = name;
  $("#logs-name").textContent = name;
  $("#log-lines").replaceChildren();
  $("#logs-status").textContent = "loading…";
  request({ op: "logs", name, lines: LOG_LINES, follow: true }, (m) => {
    if (!logView || logView.name !== name) return m.sub && request({ op: "unsubscribe", sub: m.sub });
    if (m.type === "error") return void ($("#logs-status").textContent = `cannot read ${name}'s log: ${m.message}`);
    logView.sub = m.sub;
    appendLogLines(m.lines);
    $("#logs-status").textContent = `${m.truncated ? `last ${m.lines.length} lines` : m.lines.length ? "the whole log" : "nothing printed yet"} · following`;
  });
  $("#logs-section").scrollIntoView({ block: "nearest" });
}

function onLogLines(m) {
  if (!logView || m.sub !== logView.sub) return;
  if (m.dropped) appendLogLines([`[console] ${m.dropped} line(s) not shown: the page fell behind`]);
  appendLogLines(m.lines);
}

$("#logs-close").addEventListener("click", () => {
  if (logView && logView.sub) request({ op: "unsubscribe", sub: logView.sub });
  logView = null;
  $("#logs-section").hidden = true;
});

// ───────── health charts ─────────
const CHART = { cpu: { label: "CPU", unit: "%", threshold: "cpu" }, mem: { label: "Memory", unit: "%", threshold: "memory" }, temp: { label: "Temperature", unit: "°C", threshold: "temperature" } };
const CHART_H = 150;
const PAD = { left: 38, right: 8, top: 8, bottom: 20 };

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const hhmm = (t) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

/** Nice tick values between lo and hi (about four). */
function ticks(lo, hi) {
  const raw = (hi - lo) / 4;
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Math.round(v * 100) / 100);
  return out;
}

/** One chart: y axis with unit, x axis with clock times, the series, and the configured threshold (crossing and recovery lines). */
function drawChart(box, series, metric, from, now) {
  const w = Math.max(240, box.clientWidth || 300);
  const th = state.thresholds && state.thresholds[CHART[metric].threshold];
  const vals = series.map((p) => p[metric]);
  const pct = metric !== "temp";
  const lo = pct ? 0 : Math.floor(Math.min(...vals, th ? th.recoverBelow : Infinity) - 2);
  const hi = pct ? 100 : Math.ceil(Math.max(...vals, th ? th.above : -Infinity) + 2);
  const x = (t) => PAD.left + ((t - from) / (now - from || 1)) * (w - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - (v - lo) / (hi - lo || 1)) * (CHART_H - PAD.top - PAD.bottom);
  const svg = svgEl("svg", { viewBox: `0 0 ${w} ${CHART_H}`, width: w, height: CHART_H, role: "img", "aria-label": `${CHART[metric].label} over time` });
  for (const v of ticks(lo, hi)) {
    svg.append(svgEl("line", { class: "grid", x1: PAD.left, x2: w - PAD.right, y1: y(v), y2: y(v) }));
    svg.append(svgEl("text", { class: "tick", x: PAD.left - 4, y: y(v) + 3, "text-anchor": "end" }, `${v}`));
  }
  svg.append(svgEl("text", { class: "unit", x: 2, y: PAD.top + 8 }, CHART[metric].unit));
  const span = now - from;
  const step = span > 10 * 60_000 ? 5 * 60_000 : span > 4 * 60_000 ? 2 * 60_000 : 60_000;
  for (let t = Math.ceil(from / step) * step; t <= now; t += step) {
    svg.append(svgEl("line", { class: "grid", x1: x(t), x2: x(t), y1: PAD.top, y2: CHART_H - PAD.bottom }));
    svg.append(svgEl("text", { class: "tick", x: x(t), y: CHART_H - 5, "text-anchor": "middle" }, hhmm(t)));
  }
  svg.append(svgEl("line", { class: "axis", x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: CHART_H - PAD.bottom }));
  svg.append(svgEl("line", { class: "axis", x1: PAD.left, x2: w - PAD.right, y1: CHART_H - PAD.bottom, y2: CHART_H - PAD.bottom }));
  if (th && th.above <= hi && th.above >= lo) {
    svg.append(svgEl("line", { class: "threshold", "data-threshold": "above", x1: PAD.left, x2: w - PAD.right, y1: y(th.above), y2: y(th.above) }));
    svg.append(svgEl("text", { class: "threshold-label", x: w - PAD.right - 2, y: y(th.above) - 3, "text-anchor": "end" }, `threshold ${th.above} ${CHART[metric].unit}`));
    if (th.recoverBelow >= lo) svg.append(svgEl("line", { class: "threshold recover", "data-threshold": "recoverBelow", x1: PAD.left, x2: w - PAD.right, y1: y(th.recoverBelow), y2: y(th.recoverBelow) }));
  }
  svg.append(svgEl("polyline", { class: "series", points: series.map((p) => `${x(p.t).toFixed(1)},${y(p[metric]).toFixed(1)}`).join(" ") }));
  box.replaceChildren(svg);
}

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
    const last = series.length ? `${series[series.length - 1][metric].toFixed(1)} ${CHART[metric].unit}` : "";
    cap.replaceChildren(el("span", {}, `${CHART[metric].label} (${CHART[metric].unit})`), el("span", { class: "mono" }, last));
    if (series.length === 0) {
      // Samples arrive but carry no temperature: the device has no sensor Vigil can read.
      const noSensor = metric === "temp" && pts.some((p) => p.temp === null);
      box.replaceChildren(el("span", { class: "muted no-data" }, noSensor ? "no thermal sensor" : "no health data"));
      continue;
    }
    drawChart(box, series, metric, from, now);
  }
}

// ───────── incidents ─────────
/** "open" is what still needs a human, as `vigil status` counts it: open, and escalated until resolved or acknowledged. */
function incidentMatches(i, status) {
  if (status === "all") return true;
  if (status === "open") return !i.closedAt && (i.status === "open" || i.status === "escalated");
  return i.status === status;
}
function renderIncidents() {
  const body = $("#incidents tbody");
  const status = $("#incident-status").value;
  const list = state.incidents.filter((i) => incidentMatches(i, status));
  if (list.length === 0) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "muted" }, status === "all" ? "no incidents" : `no ${status} incidents`)));
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

// Each event from the gateway carries `summary` (the line a person reads) and `stage` (its place in an
// incident's chain), made by the one summariser in libs/events (docs/console-protocol.md).
const describe = (e) => e.summary ?? e.type.replace("io.vigil.", "");

function timelineItem(e, i) {
  const stage = e.stage ?? "other";
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
  if (q && !`${e.type} ${e.incident ?? ""} ${e.summary ?? ""}`.toLowerCase().includes(q)) return false;
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
$("#incident-status").addEventListener("change", () => state && renderIncidents());
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
