// SPDX-License-Identifier: AGPL-3.0-only
// Least-privilege NATS: `intelmqctl nats-config` writes the server's configuration and one
// credentials file per bot; nats-server runs with it over TLS (a throwaway CA, client
// certificates required); the control service starts a five-bot pipeline whose bots each log in
// with their own credentials, and every event reaches the file output without a single refusal.
// A client holding one bot's credentials is refused, by subject, when it publishes to a queue
// that is not that bot's destination, reads another bot's queue, or sends a control request to
// another bot. No log line of the run holds a secret (the NKey seeds).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { type Broker } from "../../shared/broker/index.js";
import { encodeEnvelope } from "../../shared/message/index.js";
import { freePort } from "../helpers/nats-server.js";
import { BENCH_COLUMNS, TestPipeline, countLines, sleep, waitFor } from "../helpers/pipeline.js";
import { ROOT } from "../helpers/paths.js";
import { connectWhenUp, intelmqctl, makeCerts, startConfigured, type Certs, type SecureServer } from "../helpers/secure-nats.js";

const OUT = "var/lib/bots/out/events.txt";
const ROWS = Array.from({ length: 20 }, (_, i) =>
  `192.0.2.${i + 1},h${i}.example.com,http://h${i}.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496`);

function bots(): Record<string, unknown> {
  const q = (id: string) => ({ _default: [`sec-${id}-queue`] });
  return {
    "sec-collector": {
      module: "intelmq.bots.collectors.file.collector_file", name: "File", group: "Collector", enabled: true,
      parameters: { path: "var/lib/feed", postfix: ".csv", delete_file: true, rate_limit: 1, name: "Sec Feed", provider: "Sec", destination_queues: q("parser") },
    },
    "sec-parser": {
      module: "intelmq.bots.parsers.generic.parser_csv", name: "CSV", group: "Parser", enabled: true,
      parameters: { columns: BENCH_COLUMNS, delimiter: ",", destination_queues: q("taxonomy") },
    },
    "sec-taxonomy": {
      module: "intelmq.bots.experts.taxonomy.expert", name: "Taxonomy", group: "Expert", enabled: true,
      parameters: { destination_queues: q("deduplicator") },
    },
    "sec-deduplicator": {
      module: "intelmq.bots.experts.deduplicator.expert", name: "Deduplicator", group: "Expert", enabled: true,
      parameters: { filter_type: "blacklist", filter_keys: "raw,time.observation", destination_queues: q("output") },
    },
    "sec-output": {
      module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", enabled: true,
      parameters: { file: OUT },
    },
  };
}

/** Log lines of a client, kept in memory (pino's JSON lines). */
function capturingLogger(lines: string[]) {
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(...chunk.toString("utf8").split("\n").filter(Boolean)); cb(); } });
  return pino({ level: "debug" }, sink);
}

describe("NATS with least-privilege credentials and TLS", { timeout: 240_000 }, () => {
  let dir: string;
  let certs: Certs;
  let p: TestPipeline;
  let server: SecureServer;
  let control: ChildProcess | null = null;
  let admin: Broker | null = null;
  const natsDir = () => join(dir, "nats");
  const credsOf = (id: string) => join(natsDir(), "creds", `${id}.creds`);
  const tls = () => ({ caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey });
  /** Everything the run wrote as logs, to look for secrets in. */
  const clientLogs: string[] = [];
  let url = "";

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "intelmq-sec-"));
    certs = makeCerts(join(dir, "certs"));
    const port = await freePort();
    url = `tls://127.0.0.1:${port}`;
    p = new TestPipeline(url, bots(), {
      logging_level: "INFO", nats_credentials_dir: join(natsDir(), "creds"),
      nats_tls_ca: certs.ca, nats_tls_cert: certs.clientCert, nats_tls_key: certs.clientKey,
    });
    const gen = await intelmqctl(["nats-config", "--out", natsDir(), "--tls-cert", certs.serverCert, "--tls-key", certs.serverKey, "--tls-ca", certs.ca, "--tls-verify", "--store-dir", join(dir, "server", "store")], p.env);
    assert.equal(gen.code, 0, gen.stderr);
    clientLogs.push(gen.stdout, gen.stderr);
    server = startConfigured(join(natsDir(), "nats-server.conf"), port, join(dir, "server"));
    admin = await connectWhenUp({ servers: url, credsFile: credsOf("admin"), inboxPrefix: "_INBOX_admin", tls: tls(), name: "test-admin" });
  });

  after(async () => {
    control?.kill("SIGTERM");
    if (control && control.exitCode === null) await new Promise((r) => control!.once("exit", r));
    await admin?.close().catch(() => undefined);
    await p?.close();
    await server?.stop();
    if (!process.env.KEEP_TEST_ROOT) rmSync(dir, { recursive: true, force: true });
  });

  it("writes a configuration with one NKey user per bot, the control service and the operators, and a seed file each (0600)", () => {
    const conf = readFileSync(join(natsDir(), "nats-server.conf"), "utf8");
    const files = readdirSync(join(natsDir(), "creds")).sort();
    assert.deepEqual(files, ["admin.creds", "control.creds", "sec-collector.creds", "sec-deduplicator.creds", "sec-output.creds", "sec-parser.creds", "sec-taxonomy.creds"]);
    for (const f of files) {
      const seed = readFileSync(join(natsDir(), "creds", f), "utf8").trim();
      assert.match(seed, /^SU[A-Z2-7]{56}$/);
      assert.equal(statSync(join(natsDir(), "creds", f)).mode & 0o077, 0, `${f} is readable by its owner only`);
      assert.ok(!conf.includes(seed), "no seed in the server's configuration");
    }
    assert.equal((conf.match(/nkey: U[A-Z2-7]{55}/g) ?? []).length, 7);
    assert.match(conf, /"intelmq\.queue\.sec-deduplicator-queue"/);
    assert.match(conf, /verify: true/);
  });

  it("runs the pipeline under the control service: every bot with its own credentials, over TLS, no refusal", async () => {
    mkdirSync(join(p.root, "var", "lib", "feed"), { recursive: true });
    const fd = openSync(join(p.root, "var", "log", "control.log"), "a");
    control = spawn(process.execPath, [join(ROOT, "bin", "intelmq-control.mjs"), "--host", "sec-host"], { env: p.env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    writeFileSync(join(p.root, "var", "lib", "feed", "a.csv"), ROWS.join("\n") + "\n");
    const file = join(p.root, OUT);
    await waitFor(() => countLines(file) >= ROWS.length, 90_000, "the 20 events at the file output").catch((err: Error) => {
      throw new Error(`${err.message}\n${server.log().split("\n").filter((l) => /Violation|ERR/.test(l)).slice(-20).join("\n")}`);
    });
    await sleep(1000);
    assert.equal(countLines(file), ROWS.length);
    const ev = JSON.parse(readFileSync(file, "utf8").split("\n")[0]!) as Record<string, unknown>;
    assert.equal(ev["classification.taxonomy"], "fraud");
    // intelmqctl (operators' credentials, TLS) sees every bot running through the control service.
    await waitFor(async () => {
      const st = await intelmqctl(["--type", "json", "status"], { ...p.env, INTELMQCTL_CONTROL_WAIT: "0.5" });
      clientLogs.push(st.stdout, st.stderr);
      if (st.code !== 0) return false;
      const s = JSON.parse(st.stdout) as Record<string, string>;
      return Object.keys(bots()).every((id) => s[id] === "running");
    }, 30_000, "intelmqctl status: every bot running");
    const violations = server.log().split("\n").filter((l) => /Violation/i.test(l));
    assert.deepEqual(violations, [], "nothing the pipeline does is refused");
  });

  it("a bot dumps what it cannot take and logs to the logs stream under its own credentials", async () => {
    // An event the harmonization refuses: the taxonomy expert dumps it.
    const bad = encodeEnvelope([{ __type: "Event", "source.ip": "not an address", "feed.name": "bad" }]);
    await admin!.queues.publish("sec-taxonomy-queue", bad, { msgId: "bad-1" });
    await waitFor(async () => (await admin!.dumps.read("sec-taxonomy")).length === 1, 30_000, "the dump of sec-taxonomy");
    await waitFor(async () => (await admin!.logs.read("sec-taxonomy", 100)).length > 0, 10_000, "lines of sec-taxonomy in the logs stream");
    await waitFor(async () => (await admin!.queues.depth("sec-taxonomy-queue")) === 0, 10_000, "the bad event acknowledged");
    const violations = server.log().split("\n").filter((l) => /Violation/i.test(l));
    assert.deepEqual(violations, [], "dumping and logging are allowed");
  });

  it("refuses a client with one bot's credentials what that bot may not do, and its log names each refusal", async () => {
    const lines: string[] = [];
    const b = await connectWhenUp({
      servers: url, credsFile: credsOf("sec-taxonomy"), inboxPrefix: "_INBOX_sec-taxonomy", tls: tls(),
      name: "test-client sec-taxonomy", timeoutMs: 1500, logger: capturingLogger(lines),
    });
    try {
      const ev = encodeEnvelope([{ __type: "Event", "source.ip": "198.51.100.1", "feed.name": "forged" }]);
      // A queue that is not its destination (sec-output-queue is the deduplicator's).
      await assert.rejects(b.queues.publish("sec-output-queue", ev, { msgId: "forged-1" }));
      await assert.rejects(b.control.request("intelmq.queue.sec-output-queue", ev, 1000));
      // Another bot's queue: one it has nothing to do with, and the one it feeds (it may make sure of
      // that one's stream, never pull from it).
      await assert.rejects(b.queues.consume("sec-output-queue"));
      await assert.rejects(b.control.request("$JS.API.CONSUMER.MSG.NEXT.Q_sec-deduplicator-queue.intelmq", new TextEncoder().encode('{"batch":1}'), 1000));
      // A control request to another bot.
      await assert.rejects(b.control.request("intelmq.control.bot.sec-output.stop", new TextEncoder().encode("{}"), 1000));
      await sleep(300);
      const refused = (subject: string) => lines.some((l) => l.includes("Permissions Violation for Publish to") && l.includes(`\\"${subject}\\"`));
      for (const s of [
        "$JS.API.STREAM.INFO.Q_sec-output-queue", "intelmq.queue.sec-output-queue",
        "$JS.API.CONSUMER.MSG.NEXT.Q_sec-deduplicator-queue.intelmq", "intelmq.control.bot.sec-output.stop",
      ]) assert.ok(refused(s), `the client's log names the refusal of ${s}:\n${lines.join("\n")}`);
      // What it may do still works: its own control subject is another's to answer, but its own queue's stream is readable.
      assert.equal(typeof (await b.queues.depth("sec-taxonomy-queue")), "number");
    } finally {
      clientLogs.push(...lines);
      await b.close();
    }
    // Nothing forged arrived.
    await sleep(500);
    assert.equal(countLines(join(p.root, OUT)), ROWS.length);
    assert.equal(await admin!.queues.depth("sec-output-queue"), 0);
  });

  it("a re-run of nats-config after a runtime.yaml change and a reload of the server give a bot its new destination, with the same key", async () => {
    const before = readFileSync(credsOf("sec-taxonomy"), "utf8");
    const changed = bots() as Record<string, { parameters: Record<string, unknown> }>;
    changed["sec-taxonomy"]!.parameters.destination_queues = { _default: ["sec-deduplicator-queue"], extra: ["sec-extra-queue"] };
    const connectTaxonomy = (lines: string[]) => connectWhenUp({
      servers: url, credsFile: credsOf("sec-taxonomy"), inboxPrefix: "_INBOX_sec-taxonomy", tls: tls(),
      name: "test-client sec-taxonomy", timeoutMs: 1500, logger: capturingLogger(lines),
    });
    const ev = encodeEnvelope([{ __type: "Event", "source.ip": "198.51.100.2" }]);
    const lines: string[] = [];
    const b = await connectTaxonomy(lines);
    try {
      await assert.rejects(b.queues.publish("sec-extra-queue", ev, { msgId: "extra-0" }), "not yet its destination");
      p.writeConfig(changed, {
        logging_level: "INFO", nats_credentials_dir: join(natsDir(), "creds"),
        nats_tls_ca: certs.ca, nats_tls_cert: certs.clientCert, nats_tls_key: certs.clientKey,
      });
      const gen = await intelmqctl(["nats-config", "--out", natsDir(), "--tls-cert", certs.serverCert, "--tls-key", certs.serverKey, "--tls-ca", certs.ca, "--tls-verify", "--store-dir", join(dir, "server", "store")], p.env);
      assert.equal(gen.code, 0, gen.stderr);
      clientLogs.push(gen.stdout, gen.stderr);
      assert.equal(readFileSync(credsOf("sec-taxonomy"), "utf8"), before, "the same key");
      server.proc.kill("SIGHUP"); // what nats-server --signal reload sends
      await waitFor(() => /Reloaded server configuration/i.test(server.log()), 10_000, "the server's reload");
      await b.queues.publish("sec-extra-queue", ev, { msgId: "extra-1" });
      assert.equal(await admin!.queues.depth("sec-extra-queue"), 1);
      assert.ok(lines.some((l) => l.includes("$JS.API.STREAM.INFO.Q_sec-extra-queue")), "the refusal before the reload was logged");
    } finally {
      clientLogs.push(...lines);
      await b.close();
    }
  });

  it("a report above max_payload travels through the object store under the bots' credentials", async () => {
    const n = 14_000;
    const rows = Array.from({ length: n }, (_, i) =>
      `198.18.${i >> 8}.${i & 255},big${i}.example.com,http://big${i}.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496`);
    const raw = Buffer.from(rows.join("\n") + "\n");
    assert.ok(raw.length > 1024 * 1024, "larger than the server's max_payload");
    const file = join(p.root, OUT);
    const before = countLines(file);
    await admin!.queues.publish("sec-parser-queue", encodeEnvelope([{
      __type: "Report", "feed.name": "Big", "time.observation": "2024-09-16T10:00:00+00:00", raw: raw.toString("base64"),
    }]), { msgId: "big-1" });
    await waitFor(() => countLines(file) >= before + n, 60_000, `the ${n} events of the large report`);
    // Only the test's own client (holding the taxonomy's credentials) was ever refused.
    const violations = server.log().split("\n").filter((l) => /Violation/i.test(l) && !l.includes("test-client sec-taxonomy"));
    assert.deepEqual(violations, [], "the parser's object store reads are allowed");
  });

  it("writes no secret into any log line", () => {
    const seeds = readdirSync(join(natsDir(), "creds")).map((f) => readFileSync(join(natsDir(), "creds", f), "utf8").trim());
    const texts = [...clientLogs, server.log()];
    for (const f of readdirSync(join(p.root, "var", "log"))) texts.push(readFileSync(join(p.root, "var", "log", f), "utf8"));
    assert.ok(texts.join("").length > 1000, "there are logs to look at");
    const lines = texts.join("\n").split("\n");
    const leaks = lines.filter((l) => seeds.some((s) => l.includes(s)) || /SU[A-Z2-7]{56}/.test(l));
    assert.deepEqual(leaks, []);
  });
});
