// SPDX-License-Identifier: AGPL-3.0-only
// The live monitor: the pipeline of runtime.yaml as a graph (a column per group, bots as nodes,
// queues as edges with their depth and the messages sent per second), each bot's state and
// instances per host, actions per bot and per group, a bot's last log lines and its dumps
// (recover, delete), and replay of an archived queue with its progress. No build step: this
// module and index.html are all. Talks to the API like the IntelMQ Manager (token in
// sessionStorage, `Authorization: <token>`); /v1/monitor/state gives the graph in one answer.
const V1 = new URL("v1/", location.href).href;
const GROUPS = ["Collector", "Parser", "Expert", "Output"];
const SVG = "http://www.w3.org/2000/svg";
const STATE_EVERY_MS = 2000;
const LOG_EVERY_MS = 5000;
const $ = (id) => document.getElementById(id);

let state = null;
let selected = null;
/** The previous counter samples, for rates: key -> {t (ms), n}. */
const samples = new Map();
/** Messages per second: `sent|<bot>|<path>` and `processed|<bot>`. */
const rates = new Map();

async function call(path, init = {}) {
  const token = sessionStorage.getItem("login_token");
  const r = await fetch(V1 + path, { cache: "no-store", ...init, headers: { ...(init.headers ?? {}), ...(token ? { Authorization: token } : {}) } });
  if (r.status === 401) {
    sessionStorage.removeItem("login_token");
    show();
    throw new Error("not logged in");
  }
  const text = await r.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  if (!r.ok) throw new Error(body?.error ?? body?.message ?? body?.detail?.[0]?.msg ?? `${r.status} ${text}`);
  return body;
}
const post = (path, data) => call(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(data) });

function say(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

// ---- login

function show() {
  const logged = !!sessionStorage.getItem("login_token");
  $("login").hidden = logged;
  $("monitor").hidden = !logged;
  $("logout").hidden = !logged;
  $("who").textContent = logged ? sessionStorage.getItem("username") ?? "" : "";
  if (logged) start();
  else stop();
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await fetch(V1 + "api/login", { method: "POST", body: new URLSearchParams(new FormData(e.target)) });
  if (!r.ok) { $("login-error").textContent = "Invalid user name or password."; return; }
  const d = await r.json();
  sessionStorage.setItem("login_token", d.login_token);
  sessionStorage.setItem("username", d.username);
  $("login-error").textContent = "";
  show();
});
$("logout").addEventListener("click", () => { sessionStorage.clear(); show(); });

// ---- polling

let running = false;
let stateTimer = 0;
let logTimer = 0;

function start() {
  if (running) return;
  running = true;
  void pollState();
  logTimer = setInterval(() => { if (selected) void loadLog(); }, LOG_EVERY_MS);
}

function stop() {
  running = false;
  clearTimeout(stateTimer);
  clearInterval(logTimer);
}

async function pollState() {
  if (!running) return;
  try {
    const s = await call("monitor/state");
    const dumpsBefore = selected ? state?.bots[selected]?.dumps : undefined;
    state = s;
    measure();
    draw();
    if (selected && state.bots[selected]) {
      panel();
      if (state.bots[selected].dumps !== dumpsBefore) void loadDumps();
    }
    replayQueues();
  } catch (err) {
    say(`Refreshing failed: ${err.message}`, true);
  }
  // One request at a time: the next after this one answered.
  stateTimer = setTimeout(pollState, STATE_EVERY_MS);
}

/** Rates from the counters of the bots' instances (each instance counts since it started). */
function measure() {
  const t = Date.parse(state.time);
  const sample = (key, n) => {
    const prev = samples.get(key);
    samples.set(key, { t, n });
    // A restarted instance counts from 0 again: no rate for that interval.
    if (prev && t > prev.t && n >= prev.n) rates.set(key, ((n - prev.n) * 1000) / (t - prev.t));
    else if (prev) rates.delete(key);
  };
  for (const [id, b] of Object.entries(state.bots)) {
    const sent = {};
    let processed = 0;
    for (const i of b.instances) {
      processed += i.processed ?? 0;
      for (const [path, n] of Object.entries(i.sent ?? {})) sent[path] = (sent[path] ?? 0) + n;
    }
    sample(`processed|${id}`, processed);
    for (const path of Object.keys(b.destinations)) sample(`sent|${id}|${path}`, sent[path] ?? 0);
  }
}

function rateText(key) {
  const r = rates.get(key);
  if (r === undefined) return "";
  return `${r >= 10 ? Math.round(r) : r.toFixed(1)}/s`;
}

// ---- the graph

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const depthOf = (q) => state.queues[q]?.depth ?? 0;

/** "2× host-a, 1× host-b", or why there is none. */
function instancesText(b) {
  if (!b.instances.length) return "no instance";
  const byHost = new Map();
  for (const i of b.instances) byHost.set(i.host, (byHost.get(i.host) ?? 0) + 1);
  return [...byHost].map(([h, n]) => `${n}× ${h}`).join(", ");
}

/** Columns by group; each column ordered by where the bots feeding it sit, so edges cross less. */
function layout(list) {
  const cols = GROUPS.map((g) => list.filter(([, b]) => (GROUPS.includes(b.group) ? b.group : "Expert") === g));
  const row = new Map();
  cols.forEach((col, c) => {
    if (c > 0) {
      // The mean row of the bots feeding it; bots nobody feeds keep the file's order, below.
      const score = ([, b]) => {
        const rows = list.filter(([fid, f]) => row.has(fid) && Object.values(f.destinations).some((qs) => qs.includes(b.source))).map(([fid]) => row.get(fid));
        return rows.length ? rows.reduce((a, x) => a + x, 0) / rows.length : 1e9;
      };
      col.sort((a, z) => score(a) - score(z));
    }
    col.forEach(([id], r) => row.set(id, r));
  });
  return cols;
}

function draw() {
  const list = Object.entries(state.bots);
  const svg = $("graph");
  const W = 210, H = 64, GX = 120, GY = 20, TOP = 30, LEFT = 10;
  const cols = layout(list);
  const pos = new Map();
  cols.forEach((col, c) => col.forEach(([id], r) => pos.set(id, { x: LEFT + c * (W + GX), y: TOP + r * (H + GY) })));
  svg.setAttribute("height", String(TOP + 10 + Math.max(1, ...cols.map((c) => c.length)) * (H + GY)));
  svg.setAttribute("width", String(LEFT * 2 + GROUPS.length * W + (GROUPS.length - 1) * GX));
  const defs = el("defs");
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#9aa5b1" }));
  defs.append(marker);
  svg.replaceChildren(defs);
  GROUPS.forEach((g, c) => svg.append(el("text", { class: "col-title", x: LEFT + c * (W + GX), y: 16 }, `${g}s`)));
  const labels = [];
  for (const [id, b] of list) {
    const a = pos.get(id);
    for (const [path, qs] of Object.entries(b.destinations)) {
      for (const q of qs) {
        const n = depthOf(q);
        for (const [tid] of list.filter(([, t]) => t.source === q)) {
          const z = pos.get(tid);
          const x1 = a.x + W, y1 = a.y + H / 2, x2 = z.x, y2 = z.y + H / 2;
          const bend = Math.max(40, Math.abs(x2 - x1) / 2);
          svg.append(el("path", { class: `edge${n > 0 ? " busy" : ""}`, "data-queue": q, d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}` }));
          const rate = rateText(`sent|${id}|${path}`);
          const text = `${n}${rate ? ` · ${rate}` : ""}${path !== "_default" ? ` (${path})` : ""}`;
          labels.push(el("text", { class: "edge-label", "data-queue": q, x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 5, "text-anchor": "middle" }, text));
        }
      }
    }
  }
  for (const [id, b] of list) {
    const { x, y } = pos.get(id);
    const g = el("g", { class: `bot ${b.status}${id === selected ? " selected" : ""}`, "data-bot": id, "data-state": b.status, transform: `translate(${x},${y})` });
    g.append(el("title", {}, `${id}: ${b.status}${b.error ? ` (${b.error})` : ""}\n${b.module}`));
    g.append(el("rect", { class: "box", width: W, height: H }));
    g.append(el("text", { class: "id", x: 9, y: 18 }, id.length > 28 ? `${id.slice(0, 27)}…` : id));
    g.append(el("text", { class: "line state", x: 9, y: 35 }, `${b.status} · ${instancesText(b)}`));
    const rate = rateText(`processed|${id}`);
    if (b.source) g.append(el("text", { class: "line queue", "data-queue": b.source, x: 9, y: 52 }, `queue ${depthOf(b.source)}${rate ? ` · ${rate}` : ""}`));
    else if (rate) g.append(el("text", { class: "line", x: 9, y: 52 }, rate));
    if (b.dumps > 0) g.append(el("text", { class: "dumps", x: W - 8, y: 52, "text-anchor": "end" }, `${b.dumps} dump${b.dumps === 1 ? "" : "s"}`));
    g.addEventListener("click", () => select(id));
    svg.append(g);
  }
  // Labels last: above the nodes and edges they would otherwise hide under.
  svg.append(...labels);
}

// ---- actions

async function act(what, path) {
  const buttons = [...document.querySelectorAll("[data-bot-action], [data-group-action]")];
  for (const b of buttons) b.disabled = true;
  say(`${what} ...`);
  try {
    const r = await call(path);
    say(`${what}: ${typeof r === "string" ? r : Array.isArray(r) ? r.join(", ") : Object.entries(r).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  } catch (err) {
    say(`${what} failed: ${err.message}`, true);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
  clearTimeout(stateTimer);
  void pollState();
}

for (const b of document.querySelectorAll("[data-group-action]")) {
  b.addEventListener("click", () => {
    const a = b.dataset.groupAction;
    const g = $("group").value;
    void act(`${a} ${g === "botnet" ? "all bots" : g}`, `api/botnet?action=${a}&group=${g}`);
  });
}
for (const b of document.querySelectorAll("[data-bot-action]")) {
  b.addEventListener("click", () => {
    const a = b.dataset.botAction;
    if (selected) void act(`${a} ${selected}`, `api/bot?action=${a}&id=${encodeURIComponent(selected)}`);
  });
}

// ---- the bot panel: instances, log, dumps

function select(id) {
  selected = id;
  $("bot-hint").hidden = true;
  $("bot-detail").hidden = false;
  $("log").textContent = "";
  $("dumps").replaceChildren();
  draw();
  panel();
  void loadLog();
  void loadDumps();
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function panel() {
  const b = state.bots[selected];
  $("bot-id").textContent = selected;
  $("bot-state").textContent = b.status;
  $("bot-state").className = `state-badge ${b.status}`;
  $("bot-module").textContent = `${b.group ?? ""} · ${b.module}${b.managed_by.length ? ` · managed on ${b.managed_by.join(", ")}` : ""}${b.error ? ` · ${b.error}` : ""}`;
  const rows = b.instances.map((i) => {
    const tr = document.createElement("tr");
    tr.append(cell(i.host), cell(String(i.pid)), cell(i.state), cell(i.processed ?? "–"), cell(i.failed ?? "–"));
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell("no instance runs");
    td.colSpan = 5;
    td.className = "muted";
    tr.append(td);
    rows.push(tr);
  }
  $("instances").tBodies[0].replaceChildren(...rows);
}

async function loadLog() {
  const id = selected;
  try {
    const lines = await call(`api/getlog?id=${encodeURIComponent(id)}&lines=30&level=${$("log-level").value}`);
    if (id !== selected) return;
    $("log").replaceChildren(...(lines.length ? lines : [{ message: "(no log lines)" }]).map((l) => {
      const s = document.createElement("span");
      s.className = l.log_level ?? "";
      s.textContent = l.date ? `${l.date} ${l.log_level} ${l.message}\n` : `${l.message}\n`;
      return s;
    }));
    $("log").scrollTop = $("log").scrollHeight;
  } catch (err) {
    if (id === selected) $("log").textContent = `The log could not be read: ${err.message}`;
  }
}
$("log-level").addEventListener("change", () => void loadLog());
$("log-refresh").addEventListener("click", () => void loadLog());

let shownDumps = [];
async function loadDumps() {
  const id = selected;
  let d;
  try {
    d = await call(`monitor/dumps?id=${encodeURIComponent(id)}`);
  } catch (err) {
    if (id === selected) $("dumps").textContent = `The dumps could not be read: ${err.message}`;
    return;
  }
  if (id !== selected) return;
  shownDumps = d.entries;
  $("dump-count").textContent = `(${d.total}${d.total > d.entries.length ? `, the first ${d.entries.length} shown` : ""})`;
  $("dumps-recover-all").hidden = $("dumps-delete-all").hidden = d.entries.length < 2;
  $("dumps").replaceChildren(...(d.entries.length ? d.entries.map(dumpCard) : [Object.assign(document.createElement("p"), { className: "muted", textContent: "No dumps." })]));
}

function dumpCard(e) {
  const div = document.createElement("div");
  div.className = "dump";
  div.dataset.seq = String(e.seq);
  const head = document.createElement("div");
  head.innerHTML = "<strong></strong> <span class=\"muted\"></span>";
  head.firstChild.textContent = e.timestamp;
  head.lastChild.textContent = e.source_queue ? `from ${e.source_queue}` : "no source queue";
  const reason = document.createElement("div");
  reason.className = "reason";
  reason.textContent = e.reason;
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "message";
  const pre = document.createElement("pre");
  let text = e.message;
  if (e.message_type !== "base64") { try { text = JSON.stringify(JSON.parse(e.message), null, 2); } catch { /* cut or not JSON: as it is */ } }
  pre.textContent = text;
  details.append(summary, pre);
  const actions = document.createElement("div");
  actions.className = "actions";
  for (const [a, label] of [["recover", "recover into its queue"], ["delete", "delete"]]) {
    const btn = document.createElement("button");
    btn.textContent = label;
    btn.dataset.dumpAction = a;
    btn.addEventListener("click", () => void dumpAction(a, [e.seq]));
    actions.append(btn);
  }
  div.append(head, reason, details, actions);
  return div;
}

async function dumpAction(action, seqs) {
  const id = selected;
  try {
    const r = await post(`monitor/dumps/${action}`, { id, seqs });
    const done = action === "recover" ? r.recovered.map((x) => `${x.seq} into ${x.queue}`) : r.deleted;
    say(`${action === "recover" ? "Recovered" : "Deleted"} ${done.length ? done.join(", ") : "nothing"}${r.failed.length ? `; not: ${r.failed.map((f) => `${f.seq} (${f.reason})`).join(", ")}` : ""}`, r.failed.length > 0);
  } catch (err) {
    say(`${action} failed: ${err.message}`, true);
  }
  await loadDumps();
  clearTimeout(stateTimer);
  void pollState();
}
$("dumps-recover-all").addEventListener("click", () => void dumpAction("recover", shownDumps.map((e) => e.seq)));
$("dumps-delete-all").addEventListener("click", () => {
  if (confirm(`Delete ${shownDumps.length} dumps of ${selected}?`)) void dumpAction("delete", shownDumps.map((e) => e.seq));
});

// ---- replay

let replayList = "";
/** The queue choices; rebuilt only when the queues change, so that a choice being made stays. */
function replayQueues() {
  const all = Object.keys(state.queues).sort();
  const archived = all.filter((q) => state.queues[q]?.archived);
  const key = JSON.stringify([all, archived]);
  if (key === replayList) return;
  replayList = key;
  const option = (q, text = q) => Object.assign(document.createElement("option"), { value: q, textContent: text });
  $("replay-queue").replaceChildren(...(archived.length ? archived.map((q) => option(q)) : [option("", "no archived queue")]));
  $("replay-to").replaceChildren(option("", "the same queue"), ...all.map((q) => option(q)));
  $("replay-start").disabled = archived.length === 0;
}

$("replay-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = Object.fromEntries(new FormData(e.target));
  const req = { queue: f.queue };
  for (const k of ["to", "since", "until"]) if (f[k]) req[k] = String(f[k]).trim();
  $("replay-start").disabled = true;
  $("replay-progress").hidden = false;
  try {
    let job = await post("monitor/replay", req);
    while (job.state === "counting" || job.state === "replaying") {
      progress(job);
      await new Promise((r) => setTimeout(r, 500));
      job = await call(`monitor/replay?id=${job.id}`);
    }
    progress(job);
  } catch (err) {
    $("replay-text").textContent = `Replay failed: ${err.message}`;
  } finally {
    $("replay-start").disabled = false;
  }
});

function progress(job) {
  const bar = $("replay-bar");
  const text = $("replay-text");
  text.classList.toggle("error", job.state === "failed");
  if (job.state === "failed") {
    bar.removeAttribute("value");
    text.textContent = job.error;
    return;
  }
  if (job.state === "counting") {
    bar.removeAttribute("value");
    text.textContent = `counting what ${job.queue} archived ... ${job.done}`;
    return;
  }
  bar.max = Math.max(1, job.total ?? 1);
  bar.value = job.done;
  const into = job.target === job.queue ? "" : ` into ${job.target}`;
  text.textContent = job.state === "done"
    ? `Replayed ${job.replayed} of ${job.total} messages of ${job.queue}${into}${job.duplicates ? `, ${job.duplicates} duplicates dropped` : ""}${job.missing ? `, ${job.missing} missing` : ""}.`
    : `replaying ${job.queue}${into}: ${job.done} of ${job.total}`;
}

show();
