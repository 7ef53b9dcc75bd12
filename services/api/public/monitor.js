// SPDX-License-Identifier: AGPL-3.0-only
// The live monitor: the pipeline of runtime.yaml as a graph (columns by the flow, bots as nodes,
// queues as edges with their depth and the messages sent per second), each bot's state and
// instances per host, actions per bot and per group, a bot's last log lines and its dumps
// (recover, delete), and replay of an archived queue with its progress. No build step: this
// module and index.html are all. Talks to the API like the IntelMQ Manager (token in
// sessionStorage, `Authorization: <token>`); /v1/monitor/state gives the graph in one answer.
const V1 = new URL("v1/", location.href).href;
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

function rateText(r) {
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

const BASE = { Collector: 0, Parser: 1, Expert: 2, Output: 3 };
const W = 180, H = 64, GX = 90, GY = 20, LANE = 22, TOP = 30, LEFT = 10;

/**
 * Where everything goes. Columns from left to right by the flow: a bot stands right of every
 * bot feeding it (and no further left than its group's place), outputs in the last column. An
 * edge across several columns passes through a lane of its own in each column between, so that
 * it never runs behind a bot. Each column is ordered by where what feeds it sits, so that edges
 * cross less. Returns the columns, each item's box, and each edge's points.
 */
function layout(list) {
  const edges = [];
  for (const [tid, t] of list) {
    if (!t.source) continue;
    for (const [id, b] of list) for (const [path, qs] of Object.entries(b.destinations)) if (qs.includes(t.source)) edges.push({ from: id, to: tid, path });
  }
  const rank = new Map(list.map(([id, b]) => [id, BASE[b.group] ?? BASE.Expert]));
  // Longest path from the sources; at most one round per bot, so that a loop ends.
  for (let round = 0; round < list.length; round++) {
    let moved = false;
    for (const e of edges) {
      if (e.from !== e.to && rank.get(e.to) <= rank.get(e.from)) { rank.set(e.to, rank.get(e.from) + 1); moved = true; }
    }
    if (!moved) break;
  }
  const last = Math.max(0, ...rank.values());
  for (const [id, b] of list) if (b.group === "Output") rank.set(id, last);
  // Items per column: bots, then the lanes of the edges passing through.
  const ranked = Array.from({ length: last + 1 }, () => []);
  const feeds = new Map(list.map(([id]) => [id, []]));
  for (const [id] of list) ranked[rank.get(id)].push({ id, bot: true });
  edges.forEach((e, k) => {
    e.chain = [e.from];
    for (let r = rank.get(e.from) + 1; r < rank.get(e.to); r++) {
      const lane = `lane:${k}:${r}`;
      ranked[r].push({ id: lane, bot: false });
      feeds.set(lane, [e.chain.at(-1)]);
      e.chain.push(lane);
    }
    feeds.get(e.to).push(e.chain.at(-1));
    e.chain.push(e.to);
  });
  const cols = ranked.filter((c) => c.length > 0);
  const row = new Map();
  for (const col of cols) {
    // The mean row of what feeds it; what nothing feeds keeps the file's order, below.
    const score = (item) => {
      const rows = feeds.get(item.id).filter((f) => row.has(f)).map((f) => row.get(f));
      return rows.length ? rows.reduce((a, x) => a + x, 0) / rows.length : 1e9;
    };
    col.sort((a, z) => score(a) - score(z));
    col.forEach((item, r) => row.set(item.id, r));
  }
  const box = new Map();
  cols.forEach((col, c) => {
    let y = TOP;
    for (const item of col) {
      const h = item.bot ? H : LANE;
      box.set(item.id, { x: LEFT + c * (W + GX), y, h });
      y += h + (item.bot ? GY : 0);
    }
  });
  return { cols, box, edges };
}

/** An SVG path through a chain of boxes: out of the right side, into the left, straight through lanes. */
function route(chain, box) {
  const mid = (b) => b.y + b.h / 2;
  const a = box.get(chain[0]);
  let x = a.x + W, y = mid(a);
  let d = `M${x},${y}`;
  for (const id of chain.slice(1)) {
    const b = box.get(id);
    const x2 = b.x, y2 = mid(b);
    const bend = Math.max(40, (x2 - x) / 2);
    d += ` C${x + bend},${y} ${x2 - bend},${y2} ${x2},${y2}`;
    x = x2;
    y = y2;
    if (id.startsWith("lane:")) { x += W; d += ` L${x},${y}`; }
  }
  return d;
}

function draw() {
  const list = Object.entries(state.bots);
  const svg = $("graph");
  const { cols, box, edges } = layout(list);
  const height = 10 + Math.max(TOP, ...[...box.values()].map((b) => b.y + b.h));
  const width = LEFT * 2 + cols.length * W + Math.max(0, cols.length - 1) * GX;
  // Scaled down to the card when wider, never up, nor below a size the text stays readable at
  // (the card scrolls then).
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.style.maxWidth = "100%";
  svg.style.minWidth = `${Math.round(width * 0.85)}px`;
  svg.style.height = "auto";
  const defs = el("defs");
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerUnits: "userSpaceOnUse", markerWidth: 10, markerHeight: 10, orient: "auto" });
  marker.append(el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#9aa5b1" }));
  defs.append(marker);
  svg.replaceChildren(defs);
  cols.forEach((col, c) => {
    const groups = [...new Set(col.filter((i) => i.bot).map((i) => state.bots[i.id].group ?? "Expert"))];
    svg.append(el("text", { class: "col-title", x: LEFT + c * (W + GX), y: 16 }, groups.map((g) => `${g}s`).join(", ")));
  });
  // One edge per sender and queue; one label per queue where it enters its bot: the depth and
  // what all its senders put in per second.
  const labels = [];
  for (const [tid, t] of list) {
    const into = edges.filter((e) => e.to === tid);
    if (!into.length) continue;
    const n = depthOf(t.source);
    for (const e of into) svg.append(el("path", { class: `edge${n > 0 ? " busy" : ""}`, "data-queue": t.source, d: route(e.chain, box) }));
    const known = into.map((e) => rates.get(`sent|${e.from}|${e.path}`)).filter((r) => r !== undefined);
    const rate = known.length ? rateText(known.reduce((a, r) => a + r, 0)) : "";
    const z = box.get(tid);
    const label = el("text", { class: "edge-label", "data-queue": t.source, x: z.x - GX / 2, y: z.y + H / 2 - 6, "text-anchor": "middle" }, `${n}${rate ? ` · ${rate}` : ""}`);
    label.append(el("title", {}, `${t.source}: ${n} waiting; from ${into.map((e) => (e.path === "_default" ? e.from : `${e.from} (${e.path})`)).join(", ")}`));
    labels.push(label);
  }
  for (const [id, b] of list) {
    const { x, y } = box.get(id);
    const g = el("g", { class: `bot ${b.status}${id === selected ? " selected" : ""}`, "data-bot": id, "data-state": b.status, transform: `translate(${x},${y})` });
    g.append(el("title", {}, `${id}: ${b.status}${b.error ? ` (${b.error})` : ""}\n${b.module}`));
    g.append(el("rect", { class: "box", width: W, height: H }));
    g.append(el("text", { class: "id", x: 9, y: 18 }, id.length > 23 ? `${id.slice(0, 22)}…` : id));
    g.append(el("text", { class: "line state", x: 9, y: 35 }, `${b.status} · ${instancesText(b)}`));
    if (b.source) {
      const rate = rateText(rates.get(`processed|${id}`));
      g.append(el("text", { class: "line queue", "data-queue": b.source, x: 9, y: 52 }, `queue ${depthOf(b.source)}${rate ? ` · ${rate}` : ""}`));
    } else {
      // A collector reads no queue: what it sends.
      const sent = Object.keys(b.destinations).map((path) => rates.get(`sent|${id}|${path}`)).filter((r) => r !== undefined);
      if (sent.length) g.append(el("text", { class: "line", x: 9, y: 52 }, `sends ${rateText(sent.reduce((a, r) => a + r, 0))}`));
    }
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
