// SPDX-License-Identifier: AGPL-3.0-only
// intelmqctl as a subprocess against a real nats-server: the configuration commands (debug, list,
// enable/disable, check), queues (list queues against the broker's depths, clear), bots that no
// control service manages (bot-level stop/start of intelmq-bot processes), and a botnet run by a
// control service (start, status, stop while events queue up, start, restart, reload).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Delivery } from "../../shared/broker/index.js";
import { STATUS_BUCKET, botSubject, encodeJson } from "../../shared/control-protocol/index.js";
import { decodeEnvelope, encodeEnvelope } from "../../shared/message/index.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { ROOT } from "../helpers/paths.js";
import { BENCH_COLUMNS, TestPipeline, countLines, sleep, waitFor } from "../helpers/pipeline.js";

interface CtlResult { code: number; stdout: string; stderr: string; json: unknown }

/** Run `intelmqctl --type json <args>` for a pipeline's root. */
function ctl(p: TestPipeline, args: string[], opts: { text?: boolean } = {}): Promise<CtlResult> {
  const argv = [join(ROOT, "bin", "intelmqctl.mjs"), ...(opts.text ? [] : ["--type", "json"]), ...args];
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { env: { ...p.env, INTELMQCTL_CONTROL_WAIT: "0.3" }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      let json: unknown = undefined;
      if (!opts.text && stdout.trim()) {
        try { json = JSON.parse(stdout); } catch { json = undefined; }
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

const CSV_ROWS = [
  "192.0.2.1,a.example.com,http://a.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496",
  "192.0.2.2,b.example.com,http://b.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496",
  "192.0.2.3,c.example.com,http://c.example.com/x,2024-09-01 10:00:00,scanner,mirai,23,64497",
];

function report(rows: string[]): Record<string, unknown> {
  return {
    __type: "Report", "feed.name": "Ctl Feed", "time.observation": "2024-09-16T10:00:00+00:00",
    raw: Buffer.from(rows.join("\n") + "\n").toString("base64"),
  };
}

function event(ip: string): Record<string, unknown> {
  return { __type: "Event", "feed.name": "Ctl Feed", "source.ip": ip, "classification.type": "scanner" };
}

/** parser -> filter (keeps one classification.type) -> file output. */
function pipelineBots(prefix: string, keep: string, out: string): Record<string, unknown> {
  return {
    [`${prefix}-parser`]: {
      module: "intelmq.bots.parsers.generic.parser_csv", name: "CSV", group: "Parser", description: "CSV parser", enabled: true,
      parameters: { columns: BENCH_COLUMNS, delimiter: ",", destination_queues: { _default: [`${prefix}-filter-queue`] } },
    },
    [`${prefix}-filter`]: {
      module: "intelmq.bots.experts.filter.expert", name: "Filter", group: "Expert", description: "Filter", enabled: true,
      parameters: { filter_key: "classification.type", filter_value: keep, filter_action: "keep", destination_queues: { _default: [`${prefix}-output-queue`] } },
    },
    [`${prefix}-output`]: {
      module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", description: "File output", enabled: true,
      parameters: { file: out },
    },
  };
}

/** `list queues` as IntelMQ shapes it: our queue_fill beside source_queue and destination_queues left out. */
function intelmqShape<E extends { queue_fill?: unknown }>(list: Record<string, E>): Record<string, Omit<E, "queue_fill">> {
  return Object.fromEntries(Object.entries(list).map(([id, { queue_fill: _, ...e }]) => [id, e as Omit<E, "queue_fill">]));
}

function lines(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("intelmqctl", { timeout: 600_000 }, () => {
  let nats: NatsServer;
  before(async () => { nats = await startNatsServer(); });
  after(async () => { await nats.stop(); });

  it("debug, list bots, enable/disable and status without running bots", async () => {
    const p = new TestPipeline(nats.url, pipelineBots("cfg", "phishing", "var/lib/bots/out.txt"));
    try {
      const dbg = await ctl(p, ["debug"]);
      assert.equal(dbg.code, 0);
      const d = dbg.json as { paths: Record<string, string>; environment_variables: Record<string, string | null> };
      assert.equal(d.paths.RUNTIME_CONF_FILE, join(p.root, "etc", "runtime.yaml"));
      assert.equal(d.paths.VAR_RUN_PATH, join(p.root, "var", "run"));
      assert.equal(d.environment_variables.INTELMQ_ROOT_DIR, p.root);
      assert.equal(d.environment_variables.NATS_URL, nats.url);
      const onlyPaths = await ctl(p, ["debug", "--get-paths"]);
      assert.deepEqual(Object.keys(onlyPaths.json as object), ["paths", "remapped_paths"]);

      const all = (await ctl(p, ["list", "bots"])).json as Record<string, Record<string, { module: string; parameters: Record<string, unknown> }>>;
      assert.deepEqual(Object.keys(all).sort(), ["Collector", "Expert", "Output", "Parser"]);
      const csv = Object.values(all.Parser!).find((b) => b.module === "intelmq.bots.parsers.generic.parser_csv");
      assert.ok(csv, "the CSV parser is listed");
      assert.ok("columns" in csv.parameters && "delimiter" in csv.parameters);
      assert.equal(csv.parameters.delimiter, ",");

      const configured = await ctl(p, ["list", "bots", "-c"]);
      assert.deepEqual(configured.json, [
        { id: "cfg-parser", description: "CSV parser" }, { id: "cfg-filter", description: "Filter" }, { id: "cfg-output", description: "File output" },
      ]);

      // Nothing runs: every bot is stopped and that is not the expected state.
      const st = await ctl(p, ["status"]);
      assert.equal(st.code, 1);
      assert.deepEqual(st.json, { "cfg-parser": "stopped", "cfg-filter": "stopped", "cfg-output": "stopped" });
      const one = await ctl(p, ["status", "cfg-filter"]);
      assert.equal(one.code, 1);
      assert.equal(one.json, "stopped");
      const text = await ctl(p, ["status", "cfg-filter"], { text: true });
      assert.equal(text.stdout.trim(), "Bot cfg-filter is stopped.");
      const unknownBot = await ctl(p, ["status", "nope"]);
      assert.equal(unknownBot.code, 2);

      const dis = await ctl(p, ["disable", "cfg-filter"]);
      assert.equal(dis.json, "disabled");
      assert.equal(dis.code, 0);
      const yaml = parse(readFileSync(join(p.root, "etc", "runtime.yaml"), "utf8")) as Record<string, { enabled?: boolean }>;
      assert.equal(yaml["cfg-filter"]!.enabled, false);
      assert.ok(existsSync(join(p.root, "etc", "runtime.yaml.bak")), "a backup was written");
      assert.equal((await ctl(p, ["status", "cfg-filter"])).json, "disabled");
      const nonZero = (await ctl(p, ["list", "bots", "-c", "-q"])).json as { id: string }[];
      assert.deepEqual(nonZero.map((b) => b.id), ["cfg-parser", "cfg-output"]);
      const group = await ctl(p, ["status", "--group", "experts"]);
      assert.deepEqual(group.json, { "cfg-filter": "disabled" });
      assert.equal(group.code, 0, "a disabled bot is in an expected state");
      const en = await ctl(p, ["enable", "cfg-filter"]);
      assert.equal(en.json, "stopped");
      assert.equal((parse(readFileSync(join(p.root, "etc", "runtime.yaml"), "utf8")) as Record<string, { enabled?: boolean }>)["cfg-filter"]!.enabled, true);

      // log: the bot's pino lines in IntelMQ's shape, filtered by level, the last N.
      writeFileSync(join(p.root, "var", "log", "cfg-filter.log"), [
        JSON.stringify({ level: "info", time: "2024-09-16T10:00:00.123Z", bot_id: "cfg-filter", msg: "started" }),
        "not a JSON line",
        JSON.stringify({ level: "error", time: "2024-09-16T10:00:01.000Z", bot_id: "cfg-filter", msg: "failed", err: { stack: "Error: failed\n    at x" } }),
        JSON.stringify({ level: "debug", time: "2024-09-16T10:00:02.000Z", bot_id: "cfg-filter", msg: "detail" }),
      ].join("\n") + "\n");
      assert.deepEqual((await ctl(p, ["log", "cfg-filter"])).json, [
        { date: "2024-09-16 10:00:00,123", bot_id: "cfg-filter", thread_id: null, log_level: "INFO", message: "started" },
        { date: "2024-09-16 10:00:01,000", bot_id: "cfg-filter", thread_id: null, log_level: "ERROR", message: "failed", extended_message: "Error: failed" },
      ]);
      assert.equal(((await ctl(p, ["log", "cfg-filter", "1", "ERROR", "--verbose"])).json as { extended_message: string }[])[0]!.extended_message, "Error: failed\n    at x");
      assert.deepEqual(((await ctl(p, ["log", "cfg-filter", "-1", "DEBUG"])).json as { message: string }[]).map((e) => e.message), ["started", "failed", "detail"]);
      assert.deepEqual(((await ctl(p, ["log", "cfg-filter", "1", "INFO"])).json as { message: string }[]).map((e) => e.message), ["failed"]);

      // Nobody can start a bot: no control service runs and no instance of it either.
      const start = await ctl(p, ["start", "cfg-output"]);
      assert.equal(start.code, 1);
      assert.equal(start.json, "stopped");
      assert.match(start.stderr, /no control service/);
    } finally {
      await p.close();
    }
  });

  it("list queues counts what JetStream holds; clear empties exactly one queue", async () => {
    const p = new TestPipeline(nats.url, pipelineBots("q", "phishing", "var/lib/bots/out.txt"));
    try {
      await p.inject("q-parser-queue", [report(CSV_ROWS), report(CSV_ROWS), report(CSV_ROWS)], "qp");
      await p.inject("q-output-queue", [event("198.51.100.1"), event("198.51.100.2")], "qo");
      const b = await p.broker();
      const r = await ctl(p, ["list", "queues"]);
      assert.equal(r.code, 0);
      const full = r.json as Record<string, { source_queue?: [string, number]; destination_queues?: [string, number][]; queue_fill?: Record<string, unknown> }>;
      // IntelMQ's shape, and beside it each queue's fill against its limits.
      const fill = (e: (typeof full)[string] | undefined) => e?.queue_fill;
      const q = intelmqShape(full);
      assert.deepEqual(fill(full["q-parser"])?.["q-parser-queue"], { messages: 3, bytes: (await b.queues.info("q-parser-queue")).bytes, max_msgs: null, max_bytes: 1024 ** 3 });
      assert.deepEqual(Object.keys(fill(full["q-filter"]) ?? {}), ["q-filter-queue", "q-output-queue"]);
      assert.deepEqual(q["q-parser"], { source_queue: ["q-parser-queue", await b.queues.depth("q-parser-queue")], destination_queues: [["q-filter-queue", await b.queues.depth("q-filter-queue")]] });
      assert.deepEqual(q["q-parser"]!.source_queue, ["q-parser-queue", 3]);
      assert.deepEqual(q["q-filter"], { source_queue: ["q-filter-queue", 0], destination_queues: [["q-output-queue", 2]] });
      assert.deepEqual(q["q-output"], { source_queue: ["q-output-queue", await b.queues.depth("q-output-queue")], destination_queues: [] });
      assert.equal(q["q-output"]!.source_queue![1], 2);

      const nzFull = (await ctl(p, ["list", "queues", "-q"])).json as Record<string, { queue_fill?: Record<string, unknown> }>;
      assert.deepEqual(Object.keys(nzFull["q-filter"]?.queue_fill ?? {}), ["q-output-queue"], "only the queues shown");
      const nz = intelmqShape(nzFull);
      assert.deepEqual(nz, {
        "q-parser": { source_queue: ["q-parser-queue", 3] },
        "q-filter": { destination_queues: [["q-output-queue", 2]] },
        "q-output": { source_queue: ["q-output-queue", 2] },
      });
      assert.deepEqual((await ctl(p, ["list", "queues", "--sum"])).json, { "total-messages": 5 });
      const qs = (await ctl(p, ["list", "queues-and-status"])).json as [Record<string, unknown>, Record<string, string>];
      assert.deepEqual(qs[0], full);
      assert.deepEqual(qs[1], { "q-parser": "stopped", "q-filter": "stopped", "q-output": "stopped" });

      const cleared = await ctl(p, ["clear", "q-output-queue"]);
      assert.equal(cleared.code, 0);
      assert.equal(cleared.json, "success");
      assert.equal(await b.queues.depth("q-output-queue"), 0);
      assert.equal(await b.queues.depth("q-parser-queue"), 3, "the other queue keeps its messages");
      const missing = await ctl(p, ["clear", "no-such-queue"]);
      assert.equal(missing.code, 2);
      assert.equal(missing.json, "not-found");
      assert.deepEqual((await ctl(p, ["list", "queues", "-s"])).json, { "total-messages": 3 });
    } finally {
      await p.close();
    }
  });

  it("check passes a good configuration, reports orphaned queues and names misconfigured bots", async () => {
    const p = new TestPipeline(nats.url, pipelineBots("chk", "phishing", "var/lib/bots/out.txt"));
    try {
      const ok = await ctl(p, ["check"]);
      const okr = ok.json as { status: string; lines: [string, string][] };
      assert.equal(okr.status, "success", JSON.stringify(okr.lines));
      assert.equal(ok.code, 0);
      assert.ok(okr.lines.some(([l, m]) => l === "info" && m.includes(`NATS server ${nats.version}`)));

      // A non-empty queue nobody reads or writes is orphaned, unless ignored.
      const b = await p.broker();
      await b.queues.ensure("stray-queue");
      await b.queues.publish("stray-queue", encodeEnvelope([event("198.51.100.9")]), { msgId: "stray-1" });
      const orphan = (await ctl(p, ["check"])).json as { status: string; lines: [string, string][] };
      assert.ok(orphan.lines.some(([l, m]) => l === "warning" && m.includes("'stray-queue'")), JSON.stringify(orphan.lines));
      const noConn = (await ctl(p, ["check", "--no-connections"])).json as { lines: [string, string][] };
      assert.ok(!noConn.lines.some(([, m]) => m.includes("stray-queue") || m.includes("NATS server")));

      // A collector feeds a queue whose stream was created without archiving: replay would find nothing.
      const withCollector = pipelineBots("chk", "phishing", "var/lib/bots/out.txt");
      withCollector["chk-collector"] = {
        module: "intelmq.bots.collectors.file.collector_file", name: "File", group: "Collector", description: "Files", enabled: true,
        parameters: { path: "var/lib/feed", destination_queues: { _default: ["chk-parser-queue"] } },
      };
      p.writeConfig(withCollector);
      await b.queues.ensure("chk-parser-queue");
      const unarchived = (await ctl(p, ["check"])).json as { lines: [string, string][] };
      assert.ok(unarchived.lines.some(([l, m]) => l === "warning" && m.includes("should be archived") && m.includes("'chk-parser-queue'")), JSON.stringify(unarchived.lines));

      const bots = pipelineBots("chk", "phishing", "var/lib/bots/out.txt") as Record<string, { parameters: Record<string, unknown> }>;
      delete bots["chk-parser"]!.parameters.destination_queues;
      bots["chk-filter"]!.parameters.error_max_retries = "many";
      bots["chk-unknown"] = { module: "intelmq.bots.experts.nonexistent.expert", parameters: {} } as never;
      p.writeConfig(bots, { intelmqctl_check_orphaned_queues_ignore: ["stray-queue"] });
      const bad = await ctl(p, ["check"]);
      assert.equal(bad.code, 1);
      const br = bad.json as { status: string; lines: [string, string][] };
      assert.equal(br.status, "error");
      const errors = br.lines.filter(([l]) => l === "error").map(([, m]) => m);
      assert.ok(errors.some((m) => m.includes("chk-parser") && /destination queue/.test(m)), JSON.stringify(errors));
      assert.ok(errors.some((m) => m.includes("chk-filter") && m.includes("error_max_retries")), JSON.stringify(errors));
      assert.ok(errors.some((m) => m.includes("chk-unknown") && m.includes("not installed")), JSON.stringify(errors));
      assert.ok(br.lines.some(([l, m]) => l === "warning" && m.includes("chk-unknown") && m.includes("description")));
      assert.ok(!br.lines.some(([, m]) => m.includes("stray-queue")), "ignored orphaned queue");
      const quiet = (await ctl(p, ["check", "-q"])).json as { lines: [string, string][] };
      assert.ok(quiet.lines.every(([l]) => l === "warning" || l === "error"));
      const text = await ctl(p, ["check", "-C"], { text: true });
      assert.equal(text.code, 1);
      assert.match(text.stdout, /ERROR: .*chk-parser/);
    } finally {
      await p.close();
    }
  });

  it("stops and starts bots no control service manages at bot level (pause and resume)", async () => {
    const out = "var/lib/bots/unmanaged.txt";
    const p = new TestPipeline(nats.url, pipelineBots("um", "phishing", out));
    try {
      for (const id of ["um-parser", "um-filter", "um-output"]) p.start(id);
      await waitFor(async () => (await ctl(p, ["status"])).code === 0, 30_000, "all three bots running");
      const details = (await ctl(p, ["status", "um-output", "--details"])).json as { status: string; managed_by: string[]; instances: { pid: number; state: string }[] };
      assert.equal(details.status, "running");
      assert.deepEqual(details.managed_by, []);
      assert.equal(details.instances.length, 1);
      assert.equal(details.instances[0]!.pid, p.procs.get("um-output")!.child.pid);
      const text = await ctl(p, ["status", "um-output"], { text: true });
      assert.match(text.stdout, /^Bot um-output is running\.\n\s+instance \S+ on \S+ \(pid \d+\): running/);

      const stop = await ctl(p, ["stop", "um-output"]);
      assert.equal(stop.json, "stopped");
      assert.equal(stop.code, 0);
      await p.inject("um-parser-queue", [report(CSV_ROWS), report(CSV_ROWS)], "um");
      const b = await p.broker();
      // Each report becomes one envelope of events, and the filter forwards one envelope per input.
      await waitFor(async () => (await b.queues.depth("um-output-queue")) === 2, 30_000, "two envelopes (four kept events) waiting for the stopped output");
      assert.equal(countLines(join(p.root, out)), 0, "the paused output writes nothing");
      assert.equal(p.procs.get("um-output")!.child.exitCode, null, "a bot-level stop keeps the process");

      const start = await ctl(p, ["start", "um-output"]);
      assert.equal(start.json, "running");
      assert.equal(start.code, 0);
      await waitFor(() => countLines(join(p.root, out)) === 4, 30_000, "the queue drains into the output");
      assert.equal(await b.queues.depth("um-output-queue"), 0);
      assert.deepEqual(lines(join(p.root, out)).map((l) => l["classification.type"]), ["phishing", "phishing", "phishing", "phishing"]);
    } finally {
      await p.close();
    }
  });

  it("replay publishes again what the collector's queue archived: dry run, all, by time, into another queue", async () => {
    const out = "var/lib/bots/replayed.txt";
    const bots = pipelineBots("rp", "phishing", out);
    bots["rp-collector"] = {
      module: "intelmq.bots.collectors.file.collector_file", name: "File", group: "Collector", description: "Feed files", enabled: true,
      parameters: { path: "var/lib/feed", postfix: ".csv", delete_file: true, rate_limit: 1, destination_queues: { _default: ["rp-parser-queue"] } },
    };
    bots["rp-spare"] = { ...(bots["rp-parser"] as object), enabled: false, description: "Spare parser" };
    const p = new TestPipeline(nats.url, bots);
    try {
      mkdirSync(join(p.root, "var", "lib", "feed"), { recursive: true });
      writeFileSync(join(p.root, "var", "lib", "feed", "a.csv"), CSV_ROWS.join("\n") + "\n");
      for (const id of ["rp-collector", "rp-parser", "rp-filter", "rp-output"]) p.start(id);
      const file = join(p.root, out);
      await waitFor(() => countLines(file) === 2, 30_000, "the two phishing events of the report");
      const before = new Date().toISOString();

      const dry = await ctl(p, ["replay", "rp-parser-queue", "--dry-run"]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.deepEqual(dry.json, {
        queue: "rp-parser-queue", target: "rp-parser-queue", dry_run: true, replayed: 1, duplicates: 0, missing: 0,
        first_seq: (dry.json as { first_seq: number }).first_seq, last_seq: (dry.json as { first_seq: number }).first_seq,
      });
      await sleep(500);
      assert.equal(countLines(file), 2, "a dry run publishes nothing");

      const text = await ctl(p, ["replay", "rp-parser-queue"], { text: true });
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^Replayed 1 messages of queue rp-parser-queue into rp-parser-queue \(archive sequences \d+ to \d+\)\.$/m);
      await waitFor(() => countLines(file) === 4, 30_000, "the report parsed a second time");
      assert.deepEqual(lines(file).map((l) => l["source.ip"]), ["192.0.2.1", "192.0.2.2", "192.0.2.1", "192.0.2.2"]);

      // Only what came after `before`: the replay's own copy is not replayed again.
      assert.equal(((await ctl(p, ["replay", "rp-parser-queue", "--since", before])).json as { replayed: number }).replayed, 0);
      // Into another queue: the source queue of a second parser that is not running.
      const other = await ctl(p, ["replay", "rp-parser-queue", "--to", "rp-spare-queue", "--since", "1h", "--until", before]);
      assert.equal((other.json as { replayed: number }).replayed, 1);
      assert.equal((other.json as { target: string }).target, "rp-spare-queue");
      const b = await p.broker();
      assert.equal(await b.queues.depth("rp-spare-queue"), 1);
      const sub = await b.queues.consume("rp-spare-queue");
      const d = (await sub[Symbol.asyncIterator]().next()).value as Delivery;
      assert.match(String(decodeEnvelope(d.data, d.headers["Content-Type"])[0]!.raw), /^MTkyLjAuMi4x/, "the report as the collector sent it");
      await sub.stop();

      const missing = await ctl(p, ["replay", "no-such-queue"]);
      assert.equal(missing.code, 2);
      assert.equal(missing.json, "not-found");
      const badTime = await ctl(p, ["replay", "rp-parser-queue", "--since", "yesterday"]);
      assert.equal(badTime.code, 2);
      assert.match(badTime.stderr, /not a time/);
    } finally {
      await p.close();
    }
  });

  it("run: message get, pop and send; process once from the queue or from the command line, with --dryrun and --show-sent", async () => {
    const out = "var/lib/bots/run.txt";
    const p = new TestPipeline(nats.url, pipelineBots("rn", "phishing", out));
    const run = (args: string[]) => ctl(p, ["run", ...args], { text: true });
    try {
      await p.inject("rn-parser-queue", [report(CSV_ROWS), report(CSV_ROWS.slice(0, 1))], "rn");
      const b = await p.broker();

      const get = await run(["rn-parser", "message", "get"]);
      assert.equal(get.code, 0, get.stderr);
      assert.match(get.stdout, /^Waiting for a message to get\.\.\.\n\{\n {4}"feed\.name": "Ctl Feed",\n/);
      assert.equal(await b.queues.depth("rn-parser-queue"), 2, "get takes nothing");
      const pop = await run(["rn-parser", "message", "pop"]);
      assert.equal(pop.code, 0, pop.stderr);
      assert.equal(await b.queues.depth("rn-parser-queue"), 1, "pop takes one");

      const dry = await run(["rn-parser", "process", "--dryrun", "--show-sent"]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, / \* Dryrun only, no message will be really sent through\.\n/);
      assert.match(dry.stdout, /Processing\.\.\.\n/);
      assert.match(dry.stdout, /"source\.ip": "192\.0\.2\.1"/);
      assert.match(dry.stdout, /DRYRUN: Message would be sent now to '_default'!\n/);
      assert.match(dry.stdout, /DRYRUN: Message would be acknowledged now!\n/);
      assert.equal(await b.queues.depth("rn-filter-queue"), 0, "a dry run sends nothing");
      await waitFor(async () => (await b.queues.depth("rn-parser-queue")) === 1, 10_000, "the report back in the queue");

      const real = await run(["rn-parser", "process"]);
      assert.equal(real.code, 0, real.stderr);
      assert.equal(await b.queues.depth("rn-parser-queue"), 0, "processed and acknowledged");
      assert.equal(await b.queues.depth("rn-filter-queue"), 1, "the events went to the destination queue");

      const cli = await run(["rn-filter", "process", "-m", JSON.stringify({ "classification.type": "phishing", "source.ip": "192.0.2.9" }), "-s"]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /^ \* Message from cli will be used when processing\.\n/);
      assert.match(cli.stdout, /"source\.ip": "192\.0\.2\.9"/);
      assert.equal(await b.queues.depth("rn-filter-queue"), 1, "the queue was not read");
      assert.equal(await b.queues.depth("rn-output-queue"), 1);

      const sent = await run(["rn-filter", "message", "send", JSON.stringify({ "source.ip": "192.0.2.10" })]);
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal(sent.stdout.trim(), "Message sent to output pipelines.");
      assert.equal(await b.queues.depth("rn-output-queue"), 2);
      const fromOutput = await run(["rn-output", "message", "send", "{}"]);
      assert.equal(fromOutput.code, 1);
      assert.equal(fromOutput.stdout.trim(), "Output bots can't send message.");
      const bad = await run(["rn-filter", "process", "-m", "{not json"]);
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, /Message can not be parsed from JSON/);
      const invalid = await run(["rn-filter", "message", "send", JSON.stringify({ "source.ip": "not an ip" })]);
      assert.equal(invalid.code, 1, "a message must pass the harmonization");

      const written = await run(["rn-output", "process"]);
      assert.equal(written.code, 0, written.stderr);
      assert.deepEqual(lines(join(p.root, out)).map((l) => l["source.ip"]), ["192.0.2.9"]);
      assert.equal(await b.queues.depth("rn-output-queue"), 1);
    } finally {
      await p.close();
    }
  });

  const controlBin = join(ROOT, "bin", "intelmq-control.mjs");
  it("runs a botnet through a control service: start, status, stop, start, restart, reload", { skip: !existsSync(join(ROOT, "dist", "services", "control", "main.js")) && "the control service is not built" }, async () => {
    const out = "var/lib/bots/botnet.txt";
    const file = () => join(p.root, out);
    const p = new TestPipeline(nats.url, pipelineBots("bn", "phishing", out));
    const fd = openSync(join(p.root, "var", "log", "intelmq-control.log"), "a");
    const service: ChildProcess = spawn(process.execPath, [controlBin, "--host", "ctl-test-host", "--stop-timeout", "5"], { env: p.env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    const exited = new Promise<void>((r) => service.once("exit", () => r()));
    try {
      await waitFor(async () => (await ctl(p, ["status"])).code === 0, 30_000, "the control service runs the botnet");
      // Botnet stop and start.
      const stopAll = await ctl(p, ["stop"]);
      assert.deepEqual(stopAll.json, { "bn-parser": "stopped", "bn-filter": "stopped", "bn-output": "stopped" });
      assert.equal(stopAll.code, 0);
      const startAll = await ctl(p, ["start"]);
      assert.deepEqual(startAll.json, { "bn-parser": "running", "bn-filter": "running", "bn-output": "running" });
      assert.equal(startAll.code, 0);
      const st = await ctl(p, ["status"]);
      assert.deepEqual(st.json, { "bn-parser": "running", "bn-filter": "running", "bn-output": "running" });
      assert.equal(st.code, 0);
      const det = (await ctl(p, ["status", "bn-parser", "--details"])).json as { managed_by: string[]; instances: { host: string; managed: boolean }[] };
      assert.deepEqual(det.managed_by, ["ctl-test-host"]);
      assert.ok(det.instances.length >= 1 && det.instances.every((i) => i.host === "ctl-test-host" && i.managed));

      // Stop the output while events arrive: its queue grows, nothing is lost.
      const stop = await ctl(p, ["stop", "bn-output"]);
      assert.equal(stop.json, "stopped");
      assert.equal(stop.code, 0);
      assert.equal((await ctl(p, ["status", "bn-output"])).code, 1, "a stopped bot is not in the expected state");
      await p.inject("bn-parser-queue", [report(CSV_ROWS), report(CSV_ROWS), report(CSV_ROWS)], "bn1");
      const b = await p.broker();
      await waitFor(async () => (await b.queues.depth("bn-output-queue")) === 3, 30_000, "three envelopes (six kept events) queued for the stopped output");
      const q = (await ctl(p, ["list", "queues"])).json as Record<string, { source_queue?: [string, number] }>;
      assert.deepEqual(q["bn-output"]!.source_queue, ["bn-output-queue", await b.queues.depth("bn-output-queue")]);
      assert.equal(countLines(file()), 0);

      const start = await ctl(p, ["start", "bn-output"]);
      assert.equal(start.json, "running");
      await waitFor(() => countLines(file()) === 6, 30_000, "the queue drains after start");
      await waitFor(async () => (await b.queues.depth("bn-output-queue")) === 0, 10_000, "an empty output queue");

      const restart = await ctl(p, ["restart", "bn-filter"]);
      assert.deepEqual(restart.json, ["stopped", "running"]);
      assert.equal(restart.code, 0);

      // Reload after a parameter change: the filter now keeps scanners.
      const cfg = pipelineBots("bn", "scanner", out);
      p.writeConfig(cfg);
      const reload = await ctl(p, ["reload", "bn-filter"]);
      assert.equal(reload.json, "running");
      assert.equal(reload.code, 0);
      // The bot reloads at its next safe point: scanner events sent to the filter meanwhile are
      // dropped until the new parameters apply, then kept.
      let probes = 0;
      const isProbe = (l: Record<string, unknown>) => String(l["source.ip"]).startsWith("198.51.100.");
      await waitFor(async () => {
        await p.inject("bn-filter-queue", [event(`198.51.100.${++probes}`)], `bn-probe-${probes}`);
        return lines(file()).some(isProbe);
      }, 30_000, "the reloaded filter keeping scanners", 250);
      await p.inject("bn-parser-queue", [report(CSV_ROWS)], "bn2");
      await waitFor(() => lines(file()).some((l) => l["source.ip"] === "192.0.2.3"), 30_000, "the scanner event of the new report");
      const got = lines(file()).filter((l) => !isProbe(l));
      assert.deepEqual(got.map((l) => [l["classification.type"], l["source.ip"]]), [
        ...Array.from({ length: 3 }, () => [["phishing", "192.0.2.1"], ["phishing", "192.0.2.2"]]).flat(), ["scanner", "192.0.2.3"],
      ], "the report's phishing events are dropped now, its scanner kept");

      const stopGroup = await ctl(p, ["stop", "--group", "outputs"]);
      assert.deepEqual(stopGroup.json, { "bn-output": "stopped" });
    } finally {
      service.kill("SIGTERM");
      await Promise.race([exited, sleep(20_000)]);
      if (service.exitCode === null && service.signalCode === null) service.kill("SIGKILL");
      await p.close();
    }
  });

  it("start waits for the first heartbeat and reports a bot that cannot start (bot, group, botnet, restart); stop reaches a hand-started instance", async () => {
    const host = "ctl-fail-host";
    const p = new TestPipeline(nats.url, {
      "sv-output": {
        module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", description: "File output", enabled: true,
        parameters: { file: "var/lib/bots/sv.txt" },
      },
      "sv-expert": {
        module: "intelmq.bots.experts.url2fqdn.exprt", name: "URL2FQDN", group: "Expert", description: "A module name with a typo", enabled: true,
        parameters: { destination_queues: { _default: ["sv-output-queue"] } },
      },
    });
    const fd = openSync(join(p.root, "var", "log", "intelmq-control.log"), "a");
    const service: ChildProcess = spawn(process.execPath, [controlBin, "--host", host, "--stop-timeout", "5"], { env: p.env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    const exited = new Promise<void>((r) => service.once("exit", () => r()));
    const unknownModule = /unknown module "intelmq\.bots\.experts\.url2fqdn\.exprt"/;
    try {
      await waitFor(async () => (await ctl(p, ["status", "sv-output"])).code === 0, 30_000, "the control service runs the good bot");

      // One bot: IntelMQ's message, the reason, exit 1.
      const one = await ctl(p, ["start", "sv-expert"], { text: true });
      assert.equal(one.code, 1, one.stdout + one.stderr);
      assert.match(one.stderr, /^Bot sv-expert failed to START\.$/m);
      assert.match(one.stderr, unknownModule);
      assert.doesNotMatch(one.stdout, /is running/);
      const oneJson = await ctl(p, ["start", "sv-expert"]);
      assert.equal(oneJson.code, 1);
      assert.notEqual(oneJson.json, "running");

      // Its group and the botnet.
      const group = await ctl(p, ["start", "--group", "experts"], { text: true });
      assert.equal(group.code, 1);
      assert.match(group.stderr, /^Bot sv-expert failed to START\.$/m);
      assert.match(group.stderr, unknownModule);
      assert.match(group.stderr, /The Expert group is not completely running: sv-expert failed to START\./);
      assert.doesNotMatch(group.stdout, /group is running/);
      const botnet = await ctl(p, ["start"], { text: true });
      assert.equal(botnet.code, 1);
      assert.match(botnet.stdout, /^Bot sv-output is running\.$/m);
      assert.match(botnet.stderr, /^Bot sv-expert failed to START\.$/m);
      assert.doesNotMatch(botnet.stdout, /Botnet is running/);
      const botnetJson = await ctl(p, ["start"]);
      assert.equal(botnetJson.code, 1);
      const statuses = botnetJson.json as Record<string, string>;
      assert.equal(statuses["sv-output"], "running");
      assert.notEqual(statuses["sv-expert"], "running");
      const restart = await ctl(p, ["restart", "sv-expert"]);
      assert.equal(restart.code, 1);
      assert.notEqual((restart.json as string[])[1], "running");

      // A good bot is running once its first heartbeat is in the status bucket, not before.
      assert.equal((await ctl(p, ["stop", "sv-output"])).json, "stopped");
      const stoppedText = await ctl(p, ["status", "sv-output"], { text: true });
      assert.equal(stoppedText.stdout.trim(), "Bot sv-output is stopped.", "no instance without a process (pid 0)");
      const started = await ctl(p, ["start", "sv-output"]);
      assert.equal(started.json, "running");
      assert.equal(started.code, 0);
      const b = await p.broker();
      const beats = await (await b.kv.openExisting(STATUS_BUCKET))!.entries("sv-output.");
      const det = (await ctl(p, ["status", "sv-output", "--details"])).json as { instances: { pid: number; host: string }[] };
      const managed = det.instances.find((i) => i.host === host)!;
      assert.ok(beats.has(`sv-output.${host}-${managed.pid}`), `the heartbeat of pid ${managed.pid} was there when start returned: ${[...beats.keys()].join(", ")}`);

      // A second instance started by hand: stop reaches it too and says what happened to each.
      const hand = p.start("sv-output");
      const handPid = hand.child.pid!;
      await waitFor(async () => (await b.control.requestMany(botSubject("sv-output", "status"), encodeJson({}), 300)).length === 2, 30_000, "two instances answer");
      const stop = await ctl(p, ["stop", "sv-output"], { text: true });
      assert.equal(stop.code, 0, stop.stdout + stop.stderr);
      assert.match(stop.stdout, new RegExp(`instance ${host}-${managed.pid} \\(pid ${managed.pid}, managed by the control service of ${host}\\): stopped$`, "m"));
      assert.match(stop.stdout, new RegExp(`instance \\S+-${handPid} \\(pid ${handPid}, on \\S+, not managed by a control service\\): stopped \\(paused`, "m"));
      assert.match(stop.stdout, /^Bot sv-output is stopped\.$/m);
      assert.doesNotMatch(stop.stderr, /failed to STOP/);
      assert.equal(hand.child.exitCode, null, "the hand-started process is paused, not ended");
      const left = (await b.control.requestMany(botSubject("sv-output", "status"), encodeJson({}), 300)).map((r) => JSON.parse(new TextDecoder().decode(r)) as { pid: number; state: string });
      assert.deepEqual(left.map((i) => [i.pid, i.state]), [[handPid, "paused"]]);
      assert.equal((await ctl(p, ["status", "sv-output"])).json, "stopped");
      // start resumes it, besides starting the managed process.
      const again = await ctl(p, ["start", "sv-output"]);
      assert.equal(again.json, "running");
      await waitFor(async () => {
        const st = (await b.control.requestMany(botSubject("sv-output", "status"), encodeJson({}), 300)).map((r) => JSON.parse(new TextDecoder().decode(r)) as { state: string });
        return st.length === 2 && st.every((i) => i.state === "running");
      }, 30_000, "both instances running again");
    } finally {
      service.kill("SIGTERM");
      await Promise.race([exited, sleep(20_000)]);
      if (service.exitCode === null && service.signalCode === null) service.kill("SIGKILL");
      await p.close();
    }
  });

  it("status creates no stream and no bucket on a fresh server", async () => {
    const fresh = await startNatsServer();
    const p = new TestPipeline(fresh.url, pipelineBots("ro", "phishing", "var/lib/bots/out.txt"));
    try {
      for (const args of [["status"], ["status", "--details"], ["status", "ro-filter"], ["status", "--group", "parsers"]]) {
        const r = await ctl(p, args);
        assert.equal(r.code, 1, `${args.join(" ")}: nothing runs`);
      }
      const nc = await connect({ servers: fresh.url });
      try {
        const jsm = await jetstreamManager(nc);
        const names: string[] = [];
        for await (const si of jsm.streams.list()) names.push(si.config.name);
        assert.deepEqual(names, []);
      } finally {
        await nc.close();
      }
    } finally {
      await p.close();
      await fresh.stop();
    }
  });
});
