// SPDX-License-Identifier: AGPL-3.0-only
// The API over real HTTP: bin/intelmq-api.mjs against a real nats-server and a control service
// running a small pipeline. Every route of intelmq-api with its shapes and status codes, tokens
// (401 without one, 401 after expiry), /config's confinement, runtime POST validation, CORS and
// /metrics against the events sent.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiRequest, runNode as run, startApi, stopProcess as stop } from "../../test/helpers/intelmq-api.js";
import { startNatsServer, type NatsServer } from "../../test/helpers/nats-server.js";
import { ROOT } from "../../test/helpers/paths.js";
import { BENCH_COLUMNS, TestPipeline, countLines, sleep, waitFor } from "../../test/helpers/pipeline.js";

const CSV = [
  "192.0.2.1,a.example.com,http://a.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496",
  "192.0.2.2,b.example.com,http://b.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496",
  "192.0.2.3,c.example.com,http://c.example.com/x,2024-09-01 10:00:00,scanner,mirai,23,64497",
];
const report = (tag: string) => ({
  __type: "Report", "feed.name": `Api Feed ${tag}`, "time.observation": "2024-09-16T10:00:00+00:00",
  raw: Buffer.from(CSV.join("\n") + "\n").toString("base64"),
});

function bots(out: string): Record<string, unknown> {
  return {
    "api-parser": {
      module: "intelmq.bots.parsers.generic.parser_csv", name: "CSV", group: "Parser", description: "CSV parser", enabled: true,
      parameters: { columns: BENCH_COLUMNS, delimiter: ",", destination_queues: { _default: ["api-filter-queue"] } },
    },
    "api-filter": {
      module: "intelmq.bots.experts.filter.expert", name: "Filter", group: "Expert", description: "Filter", enabled: true,
      parameters: { filter_key: "classification.type", filter_value: "phishing", filter_action: "keep", destination_queues: { _default: ["api-output-queue"] } },
    },
    "api-output": {
      module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", description: "File output", enabled: true,
      parameters: { file: out },
    },
  };
}

describe("intelmq-api", { timeout: 240_000 }, () => {
  let nats: NatsServer;
  let p: TestPipeline;
  let control: ChildProcess | undefined;
  let api: { url: string; proc: ChildProcess } | undefined;
  let token = "";
  const out = "var/lib/bots/api-out.txt";

  /** A request to the API with the session's token (or `auth`). */
  const req = apiRequest(() => api!.url, () => token);
  const json = async (path: string, init: RequestInit = {}) => {
    const r = await req(path, init);
    assert.equal(r.status, 200, `${path}: ${r.status} ${await r.clone().text()}`);
    return await r.json() as unknown;
  };

  before(async () => {
    nats = await startNatsServer();
    p = new TestPipeline(nats.url, bots(out));
    const fd = openSync(join(p.root, "var", "log", "intelmq-control.log"), "a");
    control = spawn(process.execPath, [join(ROOT, "bin", "intelmq-control.mjs"), "--host", "api-test-host", "--stop-timeout", "5"], { env: p.env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    api = await startApi({ ...p.env, INTELMQCTL_CONTROL_WAIT: "0.3" }, join(p.root, "var", "log", "intelmq-api.log"));
  });
  after(async () => {
    await stop(api?.proc);
    await stop(control);
    await p.close();
    await nats.stop();
  });

  it("refuses every route without a valid token (401) and logs in a user added by intelmq-api-adduser", async () => {
    for (const path of ["/v1/api/botnet?action=status", "/v1/api/queues", "/v1/api/version", "/v1/api/runtime", "/v1/api/config?file=x"]) {
      for (const auth of [null, "0123456789abcdef0123456789abcdef", "not-a-token"]) {
        const r = await req(path, { auth });
        assert.equal(r.status, 401, `${path} with ${auth}`);
        assert.deepEqual(await r.json(), { error: { "Authentication Required": "Please provide valid Token verification credentials" } });
      }
    }
    const add = await run([join(ROOT, "bin", "intelmq-api-adduser.mjs"), "--user", "alice", "--password", "s3cret pw"], p.env);
    assert.equal(add.code, 0, add.stderr);
    const bad = await req("/v1/api/login", { method: "POST", auth: null, body: new URLSearchParams({ username: "alice", password: "wrong" }) });
    assert.equal(bad.status, 401);
    assert.deepEqual(await bad.json(), { error: "Invalid username and/or password." });
    const missing = await req("/v1/api/login", { method: "POST", auth: null, body: new URLSearchParams({ username: "alice" }) });
    assert.equal(missing.status, 422);
    const ok = await req("/v1/api/login", { method: "POST", auth: null, body: new URLSearchParams({ username: "alice", password: "s3cret pw" }) });
    assert.equal(ok.status, 200);
    const body = await ok.json() as { login_token: string; username: string };
    assert.equal(body.username, "alice");
    assert.match(body.login_token, /^[0-9a-f]{32}$/);
    token = body.login_token;
    const v = await json("/v1/api/version") as Record<string, string>;
    assert.deepEqual(Object.keys(v).sort(), ["intelmq", "intelmq-api"]);
    assert.match(v.intelmq!, /^\d+\.\d+\.\d+/);
  });

  it("botnet and bot: IntelMQ's status shapes; ids and actions are validated (422)", async () => {
    await waitFor(async () => {
      const s = await json("/v1/api/botnet?action=status") as Record<string, string>;
      return Object.values(s).length === 3 && Object.values(s).every((x) => x === "running");
    }, 60_000, "the control service runs the pipeline");
    assert.deepEqual(await json("/v1/api/botnet?action=status&group=experts"), { "api-filter": "running" });
    assert.deepEqual(await json("/v1/api/botnet?action=status&group=botnet"), { "api-parser": "running", "api-filter": "running", "api-output": "running" });
    assert.equal(await json("/v1/api/bot?action=status&id=api-output"), "running");
    assert.equal((await req("/v1/api/bot?action=status&id=api_output")).status, 422);
    assert.equal((await req("/v1/api/bot?action=fly&id=api-output")).status, 422);
    assert.equal((await req("/v1/api/botnet?action=status&group=nope")).status, 422);
    // An id runtime.yaml lacks: intelmqctl's usage error on stderr, a 500 with IntelMQ's fields.
    const r = await req("/v1/api/bot?action=status&id=no-such-bot");
    assert.equal(r.status, 500);
    const e = await r.json() as Record<string, string>;
    assert.deepEqual(Object.keys(e).sort(), ["command", "message", "tip"]);
    assert.match(e.message!, /no-such-bot/);
  });

  it("/metrics: Prometheus text whose counters match the events sent", async () => {
    await p.inject("api-parser-queue", [report("a"), report("b")], "api-metrics");
    await waitFor(() => countLines(join(p.root, out)) === 4, 60_000, "four phishing events in the output");
    const sample = (text: string, name: string, labels: Record<string, string>) => text.split("\n")
      .filter((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
      .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
    let text = "";
    await waitFor(async () => {
      const r = await fetch(`${api!.url}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      text = await r.text();
      return sample(text, "intelmq_bot_events_processed_total", { bot_id: "api-output" }) === 4
        && sample(text, "intelmq_bot_events_sent_total", { bot_id: "api-filter", path: "_default" }) === 4;
    }, 30_000, "heartbeats with the counters");
    // The format: HELP and TYPE before each family, every sample `name{labels} number`.
    const lines = text.trim().split("\n").filter(Boolean);
    for (const l of lines) {
      if (l.startsWith("#")) assert.match(l, /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/);
      else assert.match(l, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? [-+]?(\d+(\.\d+)?([eE][-+]?\d+)?|NaN|\+Inf|-Inf)$/, l);
    }
    for (const fam of ["intelmq_bot_events_processed_total counter", "intelmq_bot_events_failed_total counter", "intelmq_bot_events_sent_total counter", "intelmq_bot_processing_latency_ms histogram", "intelmq_queue_depth gauge", "intelmq_queue_pending_acks gauge"]) {
      assert.ok(lines.includes(`# TYPE ${fam}`), fam);
    }
    assert.equal(sample(text, "intelmq_bot_events_processed_total", { bot_id: "api-filter" }), 6, "six events reached the filter");
    assert.equal(sample(text, "intelmq_bot_events_failed_total", { bot_id: "api-filter" }), 0);
    assert.equal(sample(text, "intelmq_queue_depth", { queue: "api-output-queue" }), 0);
    assert.ok(lines.some((l) => /^intelmq_queue_pending_acks\{queue="api-filter-queue"\} 0$/.test(l)));
    // The latency histogram: cumulative buckets ending in +Inf = count.
    const buckets = lines.filter((l) => l.startsWith("intelmq_bot_processing_latency_ms_bucket{") && l.includes('bot_id="api-output"')).map((l) => Number(l.slice(l.lastIndexOf(" ") + 1)));
    assert.ok(buckets.length > 2);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]! >= buckets[i - 1]!, "cumulative");
    assert.equal(buckets.at(-1), sample(text, "intelmq_bot_processing_latency_ms_count", { bot_id: "api-output" }));
    assert.ok(buckets.at(-1)! >= 1);
  });

  it("queues, queues-and-status, bots, getlog, check, debug, clear (cached for 3 s where intelmq-api caches)", async () => {
    const qr = await req("/v1/api/queues");
    assert.equal(qr.headers.get("cache-control"), "max-age=3");
    const q = await qr.json() as Record<string, { source_queue?: [string, number]; destination_queues: [string, number][] }>;
    assert.deepEqual(q["api-filter"]!.source_queue, ["api-filter-queue", 0]);
    assert.deepEqual(q["api-filter"]!.destination_queues, [["api-output-queue", 0]]);
    const qs = await json("/v1/api/queues-and-status") as [Record<string, unknown>, Record<string, string>];
    assert.ok(Array.isArray(qs) && qs.length === 2);
    assert.deepEqual(Object.keys(qs[0]).sort(), ["api-filter", "api-output", "api-parser"]);
    assert.equal(qs[1]["api-output"], "running");
    const b = await json("/v1/api/bots") as Record<string, Record<string, { module: string }>>;
    assert.deepEqual(Object.keys(b).sort(), ["Collector", "Expert", "Output", "Parser"]);
    assert.ok(Object.values(b.Output!).some((x) => x.module === "intelmq.bots.outputs.file.output"));
    const log = await json("/v1/api/getlog?id=api-filter&lines=5&level=ALL") as Record<string, unknown>[];
    assert.ok(Array.isArray(log));
    for (const e of log) assert.ok("date" in e && "bot_id" in e && "log_level" in e && "message" in e);
    assert.equal((await req("/v1/api/getlog?id=api-filter")).status, 422, "lines is required");
    const check = await json("/v1/api/check") as { status: string; lines: [string, string][] };
    assert.ok(check.status === "success" || check.status === "error");
    assert.ok(Array.isArray(check.lines) && check.lines.every((l) => Array.isArray(l) && l.length === 2));
    const dbg = await json("/v1/api/debug") as { paths: Record<string, string>; environment_variables: Record<string, unknown> };
    assert.equal(dbg.paths.CONFIG_DIR, join(p.root, "etc"));
    assert.ok("INTELMQ_ROOT_DIR" in dbg.environment_variables);
    assert.equal(await json("/v1/api/clear?id=api-output-queue"), "success");
    assert.equal(await json("/v1/api/clear?id=nowhere-queue"), "not-found");
  });

  it("run: message send, get, pop and process (dry run) as text", async () => {
    const ev = JSON.stringify({ __type: "Event", "feed.name": "Api Feed", "source.ip": "198.51.100.7", "classification.type": "phishing" });
    const post = (q: string, msg?: string) => req(`/v1/api/run?${q}`, { method: "POST", ...(msg !== undefined ? { body: new URLSearchParams({ msg }) } : {}) });
    const text = async (r: Response) => {
      assert.equal(r.status, 200, await r.clone().text());
      const t = await r.json() as unknown;
      assert.equal(typeof t, "string");
      return t as string;
    };
    // The output stopped, a message sent by the filter waits in the output's queue.
    assert.equal(await json("/v1/api/bot?action=stop&id=api-output"), "stopped");
    assert.match(await text(await post("bot=api-filter&cmd=send", ev)), /Message sent/);
    await waitFor(async () => (await p.broker().then((b) => b.queues.depth("api-output-queue"))) === 1, 10_000, "the message queued");
    assert.match(await text(await post("bot=api-output&cmd=get")), /198\.51\.100\.7/);
    assert.match(await text(await post("bot=api-output&cmd=pop")), /198\.51\.100\.7/);
    assert.equal(await p.broker().then((b) => b.queues.depth("api-output-queue")), 0, "pop took it");
    const dry = await text(await post("bot=api-filter&cmd=process&dry=true&show=true", ev));
    assert.match(dry, /DRYRUN/);
    assert.match(dry, /198\.51\.100\.7/);
    assert.equal((await post("bot=api-filter&cmd=explode")).status, 422);
    assert.equal(await json("/v1/api/bot?action=start&id=api-output"), "running");
  });

  it("config: files and folders under allowed_path only (no .., no symbolic links out)", async () => {
    const allowed = join(p.root, "var", "lib", "bots");
    mkdirSync(join(allowed, "sub"), { recursive: true });
    writeFileSync(join(allowed, "sub", "small.txt"), "hello");
    writeFileSync(join(p.root, "etc", "secret.txt"), "secret");
    symlinkSync(join(p.root, "etc", "secret.txt"), join(allowed, "link-out.txt"));
    symlinkSync(join(p.root, "etc"), join(allowed, "dir-out"));
    const f = await json(`/v1/api/config?file=${encodeURIComponent(join(allowed, "sub", "small.txt"))}`);
    assert.deepEqual(f, { files: { "small.txt": { contents: "hello" } } });
    const d = await json(`/v1/api/config?file=${encodeURIComponent(join(allowed, "sub"))}`) as { directory: string; files: Record<string, unknown> };
    assert.equal(d.directory, join(allowed, "sub"));
    assert.deepEqual(d.files, { "small.txt": { contents: "hello" } });
    const raw = await req(`/v1/api/config?file=${encodeURIComponent(join(allowed, "sub", "small.txt"))}&fetch=true`);
    assert.equal(await raw.text(), "hello");
    for (const bad of [join(allowed, "..", "..", "etc", "secret.txt"), `${allowed}/sub/../../../etc/secret.txt`, join(allowed, "link-out.txt"), join(allowed, "dir-out", "secret.txt"), join(p.root, "etc", "secret.txt"), "/etc/passwd"]) {
      for (const fetchIt of ["", "&fetch=true"]) {
        const r = await req(`/v1/api/config?file=${encodeURIComponent(bad)}${fetchIt}`);
        assert.equal(r.status, 200);
        const body = await r.text();
        assert.deepEqual(JSON.parse(body), ["Unknown resource"], bad);
        assert.doesNotMatch(body, /secret|root:/);
      }
    }
    const listing = await json(`/v1/api/config?file=${encodeURIComponent(allowed)}`) as { files: Record<string, unknown> };
    assert.ok(!("link-out.txt" in listing.files) && !("dir-out" in listing.files), "links out of the folder are not listed");
  });

  it("harmonization, runtime GET/POST (validated, .bak kept) and positions", async () => {
    const h = await json("/v1/api/harmonization") as Record<string, unknown>;
    assert.ok("event" in h && "report" in h);
    const file = join(p.root, "etc", "runtime.yaml");
    const rt = await json("/v1/api/runtime") as Record<string, Record<string, unknown>>;
    assert.equal(rt["api-filter"]!.module, "intelmq.bots.experts.filter.expert");
    const before = readFileSync(file, "utf8");
    // A parameter the filter's schema refuses: nothing is written.
    const bad = structuredClone(rt);
    (bad["api-filter"]!.parameters as Record<string, unknown>).filter_value = { not: "a scalar" };
    const r1 = await req("/v1/api/runtime", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(bad) });
    assert.equal(r1.status, 200);
    const t1 = await r1.text();
    assert.notEqual(t1, "success");
    assert.match(t1, /api-filter/);
    assert.match(t1, /filter_value/);
    assert.equal(readFileSync(file, "utf8"), before, "runtime.yaml unchanged");
    assert.ok(!existsSync(`${file}.bak`), "nothing backed up either");
    for (const wrong of [{ "api-output": { ...rt["api-output"], parameters: { file: "x", error_max_retries: "lots" } } }, { "bad id!": { module: "intelmq.bots.outputs.file.output" } }, { x: { module: "intelmq.bots.nope.nothing" } }]) {
      const r = await req("/v1/api/runtime", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...rt, ...wrong }) });
      assert.notEqual(await r.text(), "success");
      assert.equal(readFileSync(file, "utf8"), before);
    }
    // A valid change is written, the previous file kept as runtime.yaml.bak.
    const good = structuredClone(rt);
    good["api-filter"]!.description = "Keeps phishing";
    const r2 = await req("/v1/api//runtime", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(good) });
    assert.equal(await r2.text(), "success");
    assert.equal(readFileSync(`${file}.bak`, "utf8"), before);
    assert.equal((await json("/v1/api/runtime") as Record<string, Record<string, unknown>>)["api-filter"]!.description, "Keeps phishing");

    assert.deepEqual(await json("/v1/api/positions"), {});
    const pos = { "api-filter": { x: 10, y: -5 }, settings: { physics: false, live: true } };
    const r3 = await req("/v1/api/positions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(pos) });
    assert.equal(await r3.text(), "success");
    assert.deepEqual(await json("/v1/api/positions"), pos);
    assert.deepEqual(JSON.parse(readFileSync(join(p.root, "etc", "manager", "positions.conf"), "utf8")), pos);
  });

  it("CORS as intelmq-api's allow_origins: any origin by default, preflight for GET and POST", async () => {
    const r = await req("/v1/api/version", { headers: { origin: "http://manager.example" } });
    assert.equal(r.headers.get("access-control-allow-origin"), "*");
    const pre = await fetch(`${api!.url}/v1/api/runtime`, { method: "OPTIONS", headers: { origin: "http://manager.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" } });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers.get("access-control-allow-origin"), "*");
    assert.match(pre.headers.get("access-control-allow-methods") ?? "", /GET, POST/);
    assert.match(pre.headers.get("access-control-allow-headers") ?? "", /authorization/);
  });

  it("serves the monitor page at / (HTML and its script module, no token needed)", async () => {
    const page = await fetch(`${api!.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(await page.text(), /<script type="module" src="monitor\.js">/);
    const js = await fetch(`${api!.url}/monitor.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("content-type") ?? "", /javascript/);
    assert.match(await js.text(), /monitor\/state/);
  });

  it("a session expires after session_duration without use (401), and listed origins only", async () => {
    const cfg = join(p.root, "etc", "api-config.json");
    writeFileSync(cfg, JSON.stringify({ session_duration: 1, allow_origins: ["http://ok.example"] }));
    const short = await startApi({ ...p.env, INTELMQ_API_CONFIG: cfg }, join(p.root, "var", "log", "intelmq-api-2.log"));
    try {
      const login = await fetch(`${short.url}/v1/api/login`, { method: "POST", body: new URLSearchParams({ username: "alice", password: "s3cret pw" }) });
      const t = (await login.json() as { login_token: string }).login_token;
      const get = () => fetch(`${short.url}/v1/api/positions`, { headers: { authorization: t, origin: "http://ok.example" } });
      const ok = await get();
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("access-control-allow-origin"), "http://ok.example");
      const other = await fetch(`${short.url}/v1/api/positions`, { headers: { authorization: t, origin: "http://evil.example" } });
      assert.equal(other.headers.get("access-control-allow-origin"), null);
      await sleep(2500);
      const late = await get();
      assert.equal(late.status, 401);
      assert.equal((await get()).status, 401, "an expired session stays gone");
    } finally {
      await stop(short.proc);
    }
  });

  it("bot stop and start through the API; restart gives [stop, start]", async () => {
    assert.equal(await json("/v1/api/bot?action=stop&id=api-output"), "stopped");
    assert.equal(await json("/v1/api/bot?action=status&id=api-output"), "stopped");
    assert.equal(await json("/v1/api/bot?action=start&id=api-output"), "running");
    assert.deepEqual(await json("/v1/api/bot?action=restart&id=api-filter"), ["stopped", "running"]);
    assert.deepEqual(await json("/v1/api/botnet?action=stop&group=outputs"), { "api-output": "stopped" });
  });
});
