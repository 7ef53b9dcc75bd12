// SPDX-License-Identifier: AGPL-3.0-only
// The live monitor: the pipeline of runtime.yaml as a graph (a column per group), each bot's
// state and a start/stop button, each queue's depth on its edge. Talks to the API like the
// IntelMQ Manager (token in sessionStorage, `Authorization: <token>`).
const API = new URL("v1/api/", location.href).href;
const GROUPS = ["Collector", "Parser", "Expert", "Output"];
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

let runtime = null;
let statuses = {};
let queues = {};

async function api(path, init = {}) {
  const token = sessionStorage.getItem("login_token");
  const r = await fetch(API + path, { ...init, headers: { ...(init.headers ?? {}), ...(token ? { Authorization: token } : {}) } });
  if (r.status === 401) {
    sessionStorage.removeItem("login_token");
    show();
    throw new Error("not logged in");
  }
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

function show() {
  const logged = !!sessionStorage.getItem("login_token");
  $("login").hidden = logged;
  $("monitor").hidden = !logged;
  $("logout").hidden = !logged;
  $("who").textContent = logged ? sessionStorage.getItem("username") ?? "" : "";
  if (logged) void load();
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await fetch(API + "login", { method: "POST", body: new URLSearchParams(new FormData(e.target)) });
  if (!r.ok) { $("login-error").textContent = "Invalid user name or password."; return; }
  const d = await r.json();
  sessionStorage.setItem("login_token", d.login_token);
  sessionStorage.setItem("username", d.username);
  $("login-error").textContent = "";
  show();
});
$("logout").addEventListener("click", () => { sessionStorage.clear(); show(); });

/** Bots of runtime.yaml with their group, source queue and destination queues. */
function bots() {
  const out = [];
  for (const [id, b] of Object.entries(runtime ?? {})) {
    if (id === "global" || !b || typeof b !== "object") continue;
    const p = b.parameters ?? {};
    let dq = p.destination_queues ?? {};
    if (Array.isArray(dq)) dq = { _default: dq };
    const dests = Object.entries(dq).flatMap(([path, qs]) => (Array.isArray(qs) ? qs : [qs]).map((q) => ({ path, queue: String(q) })));
    const group = GROUPS.includes(b.group) ? b.group : (/\.collectors\./.test(b.module) ? "Collector" : /\.parsers\./.test(b.module) ? "Parser" : /\.outputs\./.test(b.module) ? "Output" : "Expert");
    out.push({ id, group, source: group === "Collector" ? null : String(p.source_queue ?? `${id}-queue`), dests });
  }
  return out;
}

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function depthOf(queue) {
  for (const q of Object.values(queues)) {
    if (q.source_queue && q.source_queue[0] === queue) return q.source_queue[1];
    for (const [n, c] of q.destination_queues ?? []) if (n === queue) return c;
  }
  return 0;
}

function draw() {
  const list = bots();
  const svg = $("graph");
  const W = 170, H = 58, GX = 90, GY = 24;
  const cols = GROUPS.map((g) => list.filter((b) => b.group === g));
  const pos = new Map();
  cols.forEach((col, c) => col.forEach((b, r) => pos.set(b.id, { x: 20 + c * (W + GX), y: 20 + r * (H + GY) })));
  const height = 40 + Math.max(1, ...cols.map((c) => c.length)) * (H + GY);
  svg.setAttribute("height", String(height));
  svg.setAttribute("width", String(40 + GROUPS.length * (W + GX)));
  svg.replaceChildren(el("defs"));
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8899aa" }));
  svg.firstChild.append(marker);
  for (const b of list) {
    const a = pos.get(b.id);
    for (const d of b.dests) {
      const n = depthOf(d.queue);
      for (const t of list.filter((x) => x.source === d.queue)) {
        const z = pos.get(t.id);
        const x1 = a.x + W, y1 = a.y + H / 2, x2 = z.x, y2 = z.y + H / 2;
        svg.append(el("path", { class: `edge${n > 0 ? " busy" : ""}`, d: `M${x1},${y1} C${x1 + 40},${y1} ${x2 - 40},${y2} ${x2},${y2}` }));
        svg.append(el("text", { class: "depth", x: (x1 + x2) / 2 - 10, y: (y1 + y2) / 2 - 4 }, `${n}${d.path !== "_default" ? ` (${d.path})` : ""}`));
      }
    }
  }
  for (const b of list) {
    const { x, y } = pos.get(b.id);
    const state = statuses[b.id] ?? "unknown";
    const g = el("g", { class: `bot ${state}`, transform: `translate(${x},${y})` });
    g.append(el("rect", { width: W, height: H }));
    g.append(el("text", { x: 8, y: 18 }, b.id));
    g.append(el("text", { class: "state", x: 8, y: 34 }, `${state}${b.source ? ` · queue ${depthOf(b.source)}` : ""}`));
    const running = state === "running" || state === "starting";
    const btn = el("g", { class: "btn", transform: `translate(8,${H - 20})` });
    btn.append(el("rect", { width: 44, height: 15 }));
    btn.append(el("text", { x: 8, y: 11 }, running ? "stop" : "start"));
    btn.addEventListener("click", () => act(running ? "stop" : "start", b.id));
    g.append(btn);
    svg.append(g);
  }
}

async function act(action, id) {
  $("status").textContent = `${action} ${id} ...`;
  try {
    const s = await api(`bot?action=${action}&id=${encodeURIComponent(id)}`);
    statuses[id] = Array.isArray(s) ? s.at(-1) : s;
    $("status").textContent = `${id}: ${statuses[id]}`;
  } catch (err) {
    $("status").textContent = `${action} ${id} failed: ${err.message}`;
  }
  draw();
}

let timers = [];
async function load() {
  for (const t of timers) clearInterval(t);
  timers = [];
  try {
    runtime = await api("runtime");
    const [q, s] = await api("queues-and-status");
    queues = q;
    statuses = s;
    draw();
  } catch (err) {
    $("status").textContent = err.message;
    return;
  }
  timers.push(setInterval(async () => { try { queues = await api("queues"); draw(); } catch { /* shown on the next change */ } }, 2000));
  timers.push(setInterval(async () => { try { statuses = await api("botnet?action=status"); draw(); } catch { /* idem */ } }, 3000));
}

show();
