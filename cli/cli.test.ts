// SPDX-License-Identifier: AGPL-3.0-only
/** The command-line programs, run as subprocesses from dist/. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { src } from "../test/helpers/paths.js";
import { freePort, natsServerBinary } from "../test/helpers/nats-server.js";
import { tempDir } from "../test/helpers/tmp.js";
import { parseIds, parseWhen } from "./args.js";
import { connectJetStream, type Broker, type Delivery, type Subscription } from "../shared/broker/index.js";
import { decodeEnvelope, encodeEnvelope } from "../shared/message/index.js";
import { waitFor as poll } from "../test/helpers/pipeline.js";

/** Poll `cond` until it holds (20 s at most). */
const until = (cond: () => boolean | Promise<boolean>, what: string) => poll(cond, 20_000, what, 100);

async function takeAll(sub: Subscription, n: number): Promise<Delivery[]> {
  const out: Delivery[] = [];
  for await (const d of sub) {
    out.push(d);
    if (out.length === n) break;
  }
  return out;
}

const PROCESS = src("dist", "cli", "process.js");
const BOT = src("bin", "intelmq-bot.mjs");
const TAXONOMY = "intelmq.bots.experts.taxonomy.expert";

function root(bots: Record<string, unknown>, global: Record<string, unknown> = {}): string {
  const dir = tempDir("imq-cli-");
  mkdirSync(join(dir, "etc"), { recursive: true });
  copyFileSync(src("etc", "harmonization.conf"), join(dir, "etc", "harmonization.conf"));
  writeFileSync(join(dir, "etc", "runtime.yaml"), stringify({ global: { logging_level: "INFO", ...global }, ...bots }));
  return dir;
}

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const e = { ...process.env, ...extra };
  for (const k of Object.keys(e)) if (k.startsWith("INTELMQ_") && !(k in extra)) delete e[k];
  return e;
}

function lines(out: string): Record<string, unknown>[] {
  return out.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, unknown>);
}

test("process --cases answers harmonization cases", () => {
  const cases = [
    { id: "h1", kind: "harmonization", type: "IPAddress", method: "sanitize", args: { value: " 192.0.2.1\r\n" } },
    { id: "h2", kind: "harmonization", type: "IPAddress", method: "sanitize", args: { value: "2130706433" } },
    { id: "h3", kind: "harmonization", type: "Boolean", method: "is_valid", args: { value: null, sanitize: false } },
  ];
  const r = spawnSync(process.execPath, [PROCESS, "--cases"], { input: cases.map((c) => JSON.stringify(c)).join("\n") + "\n", encoding: "utf8", env: env({}) });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(lines(r.stdout), [{ id: "h1", result: "192.0.2.1" }, { id: "h2", result: "127.0.0.1" }, { id: "h3", result: false }]);
});

test("process --cases runs bot cases, keeps sessions and reports unknown modules", () => {
  const ev = (extra: Record<string, unknown>) => ({ __type: "Event", "time.observation": "2015-01-01T00:00:00+00:00", ...extra });
  const params = { rate_limit: 0, error_retry_delay: 0, error_max_retries: 0, error_dump_message: true, error_procedure: "pass", testing: true };
  const cases = [
    { id: "b1", kind: "bot", session: "s1", continue: false, module: TAXONOMY, bot_type: "expert", parameters: params, destination_paths: ["_default"], iterations: 1, input: [ev({ "classification.type": "phishing" })] },
    { id: "b2", kind: "bot", session: "s1", continue: true, module: TAXONOMY, bot_type: "expert", parameters: params, destination_paths: ["_default"], iterations: 2, input: [ev({}), ev({ "classification.type": "test" })] },
    { id: "b3", kind: "bot", session: "s2", continue: false, module: "intelmq.bots.experts.nothing.expert", bot_type: "expert", parameters: params, destination_paths: ["_default"], iterations: 1, input: [ev({})] },
    { id: "b4", kind: "bot", session: "s3", continue: false, module: TAXONOMY, bot_type: "expert", parameters: { ...params, error_procedure: "explode" }, destination_paths: ["_default"], iterations: 1, input: [ev({})] },
  ];
  const r = spawnSync(process.execPath, [PROCESS, "--cases"], { input: cases.map((c) => JSON.stringify(c)).join("\n") + "\n", encoding: "utf8", env: env({}) });
  assert.equal(r.status, 0, r.stderr);
  const out = lines(r.stdout);
  assert.equal(out.length, 4, r.stdout + r.stderr);
  assert.deepEqual(out[0], { id: "b1", output: { _default: [ev({ "classification.type": "phishing", "classification.taxonomy": "fraud" })] }, dumped: 0 });
  assert.deepEqual(out[1], { id: "b2", output: { _default: [
    ev({ "classification.type": "undetermined", "classification.taxonomy": "other" }),
    ev({ "classification.type": "test", "classification.taxonomy": "test" }),
  ] }, dumped: 0 });
  assert.deepEqual(out[2], { id: "b3", error: "unsupported module intelmq.bots.experts.nothing.expert" });
  // A bot that cannot start: an error naming the parameter.
  assert.equal(out[3]!.id, "b4");
  assert.match(String(out[3]!.error), /error_procedure/);
});

test("process --cases: a continued case with other destination paths gets a bot prepared anew (IntelMQ's prepare_bot)", () => {
  const file = join(tempDir("imq-cases-sieve-"), "route.sieve");
  writeFileSync(file, "if comment == 'route' { path 'other-way' }\n");
  const ev = { __type: "Event", "time.observation": "2015-01-01T00:00:00+00:00", comment: "route" };
  const base = { kind: "bot", session: "s1", module: "intelmq.bots.experts.sieve.expert", bot_type: "expert", parameters: { file }, iterations: 1, input: [ev] };
  const cases = [
    { ...base, id: "c1", continue: false, destination_paths: ["_default"] },
    { ...base, id: "c2", continue: true, destination_paths: ["_default", "other-way"] },
  ];
  const r = spawnSync(process.execPath, [PROCESS, "--cases"], { input: cases.map((c) => JSON.stringify(c)).join("\n") + "\n", encoding: "utf8", env: env({}) });
  assert.equal(r.status, 0, r.stderr);
  const out = lines(r.stdout);
  // c1: the path is not configured, the sieve skips it; c2: configured now
  assert.deepEqual(out, [
    { id: "c1", output: { _default: [] }, dumped: 0 },
    { id: "c2", output: { _default: [], "other-way": [ev] }, dumped: 0 },
  ]);
});

test("process runs a module over JSON lines from stdin (library mode)", () => {
  const input = [
    JSON.stringify({ __type: "Event", "classification.type": "scanner" }),
    JSON.stringify({ __type: "Event", "classification.type": "ddos" }),
  ].join("\n");
  const r = spawnSync(process.execPath, [PROCESS, TAXONOMY], { input, encoding: "utf8", env: env({ INTELMQ_ROOT_DIR: root({}) }) });
  assert.equal(r.status, 0, r.stderr);
  const out = lines(r.stdout);
  assert.deepEqual(out.map((o) => [o.path, (o.message as Record<string, unknown>)["classification.taxonomy"]]), [["_default", "information-gathering"], ["_default", "availability"]]);
  assert.match(r.stderr, /2 in, 2 sent, 0 dumped/);
});

test("process prints IntelMQ's log lines: a failure's one-line reason, its stack only with --verbose", () => {
  const input = JSON.stringify({ __type: "Event", "source.ip": "300.1.2.3" });
  const stack = /file:\/\/\/|^\s+at\s/m;
  const r = spawnSync(process.execPath, [PROCESS, TAXONOMY], { input, encoding: "utf8", env: env({ INTELMQ_ROOT_DIR: root({}) }) });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^library-bot: Found an invalid value that violates the harmonization rules\.\n {4}InvalidValue: invalid value '300\.1\.2\.3'/m);
  assert.doesNotMatch(r.stderr, /"level"/);
  assert.doesNotMatch(r.stderr, stack);
  const v = spawnSync(process.execPath, [PROCESS, TAXONOMY, "--verbose"], { input, encoding: "utf8", env: env({ INTELMQ_ROOT_DIR: root({}) }) });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stderr, stack);
});

test("process with an unknown module exits 1", () => {
  const r = spawnSync(process.execPath, [PROCESS, "intelmq.bots.experts.nothing.expert"], { input: "[]", encoding: "utf8", env: env({ INTELMQ_ROOT_DIR: root({}) }) });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /unknown module/);
});

test("intelmq-bot with an unknown bot id exits 1 naming it", () => {
  const dir = root({ "tax-expert": { module: TAXONOMY, parameters: {} } });
  const r = spawnSync(process.execPath, [BOT, "no-such-bot"], { encoding: "utf8", env: env({ INTELMQ_ROOT_DIR: dir, NATS_URL: "nats://127.0.0.1:1" }), timeout: 30000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /no-such-bot/);
  assert.match(r.stderr, /not configured/);
});

test("intelmq-bot with a module we do not implement exits 1 naming the module", () => {
  const dir = root({ "odd-bot": { module: "intelmq.bots.experts.nothing.expert", parameters: {} } });
  const r = spawnSync(process.execPath, [BOT, "odd-bot"], { encoding: "utf8", env: env({ INTELMQ_ROOT_DIR: dir, NATS_URL: "nats://127.0.0.1:1" }), timeout: 30000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /unknown module/);
  assert.match(r.stderr, /intelmq\.bots\.experts\.nothing\.expert/);
});

test("intelmq-bot with an invalid parameter exits 1 naming the bot and the parameter", () => {
  const dir = root({ "tax-expert": { module: TAXONOMY, parameters: { error_procedure: "explode" } } });
  const r = spawnSync(process.execPath, [BOT, "tax-expert"], { encoding: "utf8", env: env({ INTELMQ_ROOT_DIR: dir, NATS_URL: "nats://127.0.0.1:1" }), timeout: 30000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /tax-expert/);
  assert.match(r.stderr, /error_procedure/);
});

test("intelmq-bot waits for NATS, runs, reloads runtime.yaml on SIGHUP (a broken file changes nothing), and exits 0 on SIGTERM", { timeout: 120_000 }, async () => {
  const port = await freePort();
  const dir = root({ "tax-expert": { module: TAXONOMY, parameters: { destination_queues: { _default: ["out-queue"] } } } });
  const child = spawn(process.execPath, [BOT, "tax-expert"], { env: env({ INTELMQ_ROOT_DIR: dir, NATS_URL: `nats://127.0.0.1:${port}` }), stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => { stderr += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const waitFor = async (re: RegExp, ms: number) => {
    const until = Date.now() + ms;
    while (!re.test(stderr) && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    return re.test(stderr);
  };
  try {
    assert.ok(await waitFor(/NATS is not reachable yet/, 20000), stderr);
    // Now the server comes up, on the port the bot was told.
    const store = mkdtempSync(join(tmpdir(), "imq-cli-nats-"));
    const server = spawn(natsServerBinary(), ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store], { stdio: "ignore" });
    const serverExited = new Promise((resolve) => server.once("exit", resolve));
    let b: Broker | null = null;
    try {
      assert.ok(await waitFor(/connected to NATS/, 30000), stderr);
      const before = stderr.length;
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(child.exitCode, null, stderr);
      // It stopped retrying once the server was up.
      assert.doesNotMatch(stderr.slice(before), /NATS is not reachable yet/);

      // What the bot's configuration decides, seen from outside: the queue its events go to.
      b = await connectJetStream({ servers: `nats://127.0.0.1:${port}`, name: "cli-test" });
      const broker = b;
      for (const q of ["tax-expert-queue", "out-queue", "other-queue"]) await broker.queues.ensure(q);
      let k = 0;
      const send = () => broker.queues.publish("tax-expert-queue", encodeEnvelope([{ __type: "Event", "classification.type": "phishing", "source.ip": `192.0.2.${++k}` }]), { msgId: `hup-${k}` });
      const handled = async () => (await broker.queues.depth("tax-expert-queue")) === 0;
      await send();
      await until(async () => (await handled()) && (await broker.queues.depth("out-queue")) === 1, "the first event in out-queue");

      // SIGHUP with a broken runtime.yaml: the bot says so and goes on with what it had.
      writeFileSync(join(dir, "etc", "runtime.yaml"), "tax-expert: [\n");
      child.kill("SIGHUP");
      assert.ok(await waitFor(/reload failed, keeping the running configuration/, 10000), stderr);
      await send();
      await until(async () => (await handled()) && (await broker.queues.depth("out-queue")) === 2, "the event after the failed reload in out-queue");
      assert.equal(await broker.queues.depth("other-queue"), 0);

      // SIGHUP with a good one: events keep coming, and from the reload on they go to the new
      // destination. (A new one every poll, not one at a time: a message that arrives just as the
      // bot stops pulling for the reload can stay unacknowledged until the consumer's ack_wait.)
      writeFileSync(join(dir, "etc", "runtime.yaml"), stringify({ global: { logging_level: "INFO" }, "tax-expert": { module: TAXONOMY, parameters: { destination_queues: { _default: ["other-queue"] } } } }));
      const sentBefore = k;
      child.kill("SIGHUP");
      await until(async () => {
        await send();
        return (await broker.queues.depth("other-queue")) > 0;
      }, "events going to other-queue");
      const ips = async (queue: string, n: number) => {
        const sub = await broker.queues.consume(queue);
        const ds = await takeAll(sub, n);
        await sub.stop();
        for (const d of ds) await d.ack();
        return ds.flatMap((d) => decodeEnvelope(d.data, d.headers["Content-Type"])).map((e) => {
          assert.equal(e["classification.taxonomy"], "fraud", "through the taxonomy expert");
          return Number(String(e["source.ip"]).split(".")[3]);
        });
      };
      const [first] = await ips("other-queue", 1);
      assert.ok(first! > sentBefore, `the first event in other-queue was sent after the SIGHUP: ${first}`);
      const old = await ips("out-queue", await broker.queues.depth("out-queue"));
      assert.ok(old.length >= 2 && old.every((n) => n < first!), `out-queue only has events sent before: ${old.join(" ")} < ${first}`);
      assert.equal(child.exitCode, null, stderr);
      child.kill("SIGTERM");
      assert.equal(await exited, 0, stderr);
    } finally {
      await b?.close().catch(() => undefined);
      server.kill("SIGTERM");
      await serverExited;
      rmSync(store, { recursive: true, force: true });
    }
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

test("replay times: ISO 8601 in UTC unless a zone is given, or an age before now", () => {
  const now = Date.parse("2024-09-16T12:00:00Z");
  assert.equal(parseWhen("2024-09-16T10:00:00Z", now)?.toISOString(), "2024-09-16T10:00:00.000Z");
  assert.equal(parseWhen("2024-09-16 10:00", now)?.toISOString(), "2024-09-16T10:00:00.000Z");
  assert.equal(parseWhen("2024-09-16", now)?.toISOString(), "2024-09-16T00:00:00.000Z");
  assert.equal(parseWhen("2024-09-16T10:00:00+02:00", now)?.toISOString(), "2024-09-16T08:00:00.000Z");
  assert.equal(parseWhen("30m", now)?.toISOString(), "2024-09-16T11:30:00.000Z");
  assert.equal(parseWhen("2h", now)?.toISOString(), "2024-09-16T10:00:00.000Z");
  assert.equal(parseWhen("1d", now)?.toISOString(), "2024-09-15T12:00:00.000Z");
  for (const bad of ["yesterday", "", "12", "2024-13-40", "5y"]) assert.equal(parseWhen(bad, now), null, bad);
});

test("intelmqdump ids: lists and ranges, nothing malformed", () => {
  assert.deepEqual(parseIds("0"), [0]);
  assert.deepEqual(parseIds("0,2-4 7"), [0, 2, 3, 4, 7]);
  assert.deepEqual(parseIds("3,3"), [3]);
  for (const bad of ["", "a", "4-2", "1-", "-1", "1.5"]) assert.equal(parseIds(bad), null, bad);
});
