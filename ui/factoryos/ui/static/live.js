// Factory OS dashboard: the live channel. One small module, no framework.
//
// Every page: a WebSocket on /api/watch tells the page which resources changed;
// htmx re-fetches the fragments that listen for "factory-change" (lists) or
// "factory-run-change" (this run). A run page also follows the run's events
// from the cursor it was rendered at (data-cursor), so nothing is lost or shown
// twice across reloads and reconnects; stage events recolour the graph and the
// stages table at once. The indicator in the header says live / reconnecting.

const body = document.body;
const indicator = document.getElementById("live");
const sockets = new Set();

function setLive(state) {
  if (!indicator) return;
  indicator.dataset.state = state;
  indicator.textContent = state;
}

function wsUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

// A WebSocket that reconnects with backoff; `path()` is asked again each time so
// a stream resumes from its latest cursor. `onOpen` runs on every (re)connection.
function connect(path, onMessage, onOpen = () => {}) {
  let delay = 250;
  const open = () => {
    const ws = new WebSocket(wsUrl(path()));
    sockets.add(ws);
    ws.onopen = () => { delay = 250; updateIndicator(); onOpen(); };
    ws.onmessage = (m) => onMessage(JSON.parse(m.data));
    ws.onclose = (e) => {
      sockets.delete(ws);
      setLive("reconnecting");
      if (e.code === 4401) { location.reload(); return; }  // signed out: go to the sign-in page
      if (e.code === 4404) return;                          // the run is gone
      setTimeout(open, e.code === 4008 ? 0 : delay);
      delay = Math.min(delay * 2, 5000);
    };
  };
  open();
}

function updateIndicator() {
  const all = [...sockets];
  setLive(all.length && all.every((ws) => ws.readyState === WebSocket.OPEN) ? "live" : "reconnecting");
}

// -- resource changes ---------------------------------------------------------

const watching = body.dataset.watch;
const runNs = body.dataset.namespace;
const runName = body.dataset.run;

if (watching) {
  const changed = (msg) => {
    body.dispatchEvent(new CustomEvent("factory-change", { detail: msg }));
    if (watching === "run") body.dispatchEvent(new CustomEvent("factory-run-change", { detail: msg }));
  };
  connect(() => "/api/watch", (msg) => {
    if (msg.kind === "heartbeat") return;
    const r = msg.resource;
    if (msg.kind === "resync" || (r && r.kind === "Run" && r.name === runName && r.namespace === runNs)) {
      changed(msg);
    } else {
      body.dispatchEvent(new CustomEvent("factory-change", { detail: msg }));
    }
  // The watch reports only changes made after it connects: whatever changed since the
  // page was rendered, or while the socket was down, is fetched once on (re)connection.
  }, () => changed({ kind: "resync" }));
} else {
  setLive("static");
}

// -- a run's events -----------------------------------------------------------

const RANK = { pending: 0, running: 1, retrying: 1, succeeded: 2, failed: 2, skipped: 2 };
const liveStates = new Map();  // stage -> state, from this candidate's events
const candidate = Number(body.dataset.candidate || 0);
let cursor = Number(body.dataset.cursor || 0);

function stageStateOf(event) {
  const t = event.type;
  if (t === "dev.factoryos.stage.started") return "running";
  if (t === "dev.factoryos.stage.retrying") return "retrying";
  if (t === "dev.factoryos.stage.completed") {
    const s = String(event.data.status || "");
    if (s === "success" || s === "partial_success") return "succeeded";
    if (s === "skipped") return "skipped";
    return "failed";
  }
  return null;
}

function setNode(stage, state) {
  const node = document.querySelector(`#graph g.node[data-node="${CSS.escape(stage)}"]`);
  if (node) node.dataset.state = state;
}

function setRow(stage, state) {
  const row = document.querySelector(`#stages tr[data-stage="${CSS.escape(stage)}"]`);
  if (!row) return;
  row.dataset.state = state;
  const cell = row.querySelector("td.state");
  if (cell) cell.textContent = state.charAt(0).toUpperCase() + state.slice(1);
}

// After the status fragment is swapped in: the table is the controller's view;
// events newer than it (a higher rank) still win until the next refresh.
function reconcileStages() {
  document.querySelectorAll("#stages tr[data-stage]").forEach((row) => {
    const stage = row.dataset.stage;
    const fromEvents = liveStates.get(stage);
    if (fromEvents && RANK[fromEvents] > RANK[row.dataset.state]) setRow(stage, fromEvents);
    setNode(stage, row.dataset.state);
  });
  liveStates.forEach((state, stage) => {
    if (!document.querySelector(`#stages tr[data-stage="${CSS.escape(stage)}"]`)) setNode(stage, state);
  });
}

function pad(n) { return String(n).padStart(2, "0"); }

function summary(event) {
  const d = event.data || {};
  const t = event.type.replace("dev.factoryos.", "");
  let detail = "";
  if (t === "stage.started") detail = `attempt ${d.attempt}`;
  else if (t === "stage.completed" || t === "run.finished") {
    detail = String(d.status || "");
    const reason = d.failure_reason || d.reason;
    if (reason) detail += `: ${reason}`;
  } else if (t === "log") detail = `${d.level || "info"}: ${d.message || ""}`;
  else if (t === "engine.event") detail = String(d.kilroy_event || "");
  return { t, detail, who: d.candidate === undefined ? "--" : `c${d.candidate}` };
}

function appendEvent(event) {
  const list = document.getElementById("events");
  if (!list) return;
  const { t, detail, who } = summary(event);
  const when = new Date(event.time);
  const li = document.createElement("li");
  li.dataset.seq = event.sequence;
  li.dataset.type = t;
  const parts = [
    ["seq", `#${event.sequence}`],
    ["time", `${pad(when.getHours())}:${pad(when.getMinutes())}:${pad(when.getSeconds())}`],
    ["who", who], ["subject", event.subject || ""], ["type", t], ["detail", detail],
  ];
  for (const [cls, text] of parts) {
    const el = document.createElement(cls === "time" ? "time" : "span");
    if (cls !== "time") el.className = cls;
    el.textContent = text;
    li.append(el, " ");
  }
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
  list.append(li);
  if (atBottom) list.scrollTop = list.scrollHeight;
  const count = document.getElementById("event-count");
  if (count) count.textContent = String(event.sequence);
}

function onRunMessage(msg) {
  if (msg.kind !== "event") return;
  const event = msg.event;
  if (event.sequence <= cursor) return;  // already shown
  cursor = event.sequence;
  body.dataset.cursor = String(cursor);
  appendEvent(event);
  const state = stageStateOf(event);
  if (state && Number(event.data.candidate || 0) === candidate && event.subject) {
    liveStates.set(event.subject, state);
    setNode(event.subject, state);
    setRow(event.subject, state);
  }
  if (event.type === "dev.factoryos.run.finished" || event.type === "dev.factoryos.run.stop_requested") {
    body.dispatchEvent(new CustomEvent("factory-run-change", { detail: msg }));
  }
}

if (watching === "run" && runName) {
  connect(
    () => `/api/runs/${encodeURIComponent(runNs)}/${encodeURIComponent(runName)}/events?after=${cursor}`,
    onRunMessage,
  );
  document.addEventListener("htmx:afterSwap", reconcileStages);
  reconcileStages();
  const graph = document.getElementById("graph");
  if (graph) {
    graph.addEventListener("click", (e) => {
      const node = e.target.closest("g.node");
      if (node) location.href = graph.dataset.base + encodeURIComponent(node.dataset.node);
    });
  }
}

// -- confirmations and the diff view --------------------------------------------

document.addEventListener("submit", (e) => {
  const button = e.submitter;
  if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) e.preventDefault();
});

const diffTarget = document.getElementById("diff");
const patchData = document.getElementById("patch-data");
if (diffTarget && patchData) {
  const draw = () => {
    const ui = new window.Diff2HtmlUI(diffTarget, JSON.parse(patchData.textContent), {
      outputFormat: diffTarget.dataset.view || "side-by-side",
      drawFileList: true,
      matching: "lines",
      highlight: false,
    });
    ui.draw();
  };
  if (window.Diff2HtmlUI) draw(); else window.addEventListener("load", draw);
}
