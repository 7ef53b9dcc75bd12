// SPDX-License-Identifier: AGPL-3.0-only
// Secrets stay secret end to end. A pipeline whose runtime.yaml holds secret parameters (the HTTP
// collector's http_password and http_header with a bearer token and an API key; the REST API
// output's http_password, auth_token and http_header) runs at DEBUG under the control service
// against a nats-server that requires a user and password, given in NATS_URL. A feed download
// fails once, a malformed line and an event the receiving API refuses are dumped; intelmqctl
// (status, list, log, debug, check, run --dryrun; text and JSON), intelmqdump (list, show,
// export), a bot with a wrong NATS password, one with an unreachable server and one with an
// invalid secret parameter all write what they write. Then every log file, output, dump, captured
// output, the logs stream, the dumps stream and JetStream's store on disk are searched for the
// secret values: none is anywhere, while the logs show HIDDEN and the NATS URL shows ***@.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { connectJetStream, type Broker } from "../../shared/broker/index.js";
import { botCommand } from "../../shared/config/index.js";
import { STATUS_BUCKET } from "../../shared/control-protocol/index.js";
import { freePort, startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { startHttpPeer, type HttpPeer, type PeerRequest } from "../helpers/http-peer.js";
import { ROOT } from "../helpers/paths.js";
import { BENCH_COLUMNS, TestPipeline, sleep, waitFor } from "../helpers/pipeline.js";

const tag = randomBytes(6).toString("hex");
/** Every secret of the run: its value starts with "s3cr3t-" and holds the run's random tag. */
const SECRET = {
  natsPass: `s3cr3t-${tag}-nats`,
  wrongNatsPass: `s3cr3t-${tag}-wrong-nats`,
  feedPass: `s3cr3t-${tag}-feed-pass`,
  feedBearer: `s3cr3t-${tag}-feed-bearer`,
  feedApiKey: `s3cr3t-${tag}-feed-apikey`,
  restPass: `s3cr3t-${tag}-rest-pass`,
  restToken: `s3cr3t-${tag}-rest-token`,
  restKey: `s3cr3t-${tag}-rest-key`,
  brokenHeader: `s3cr3t-${tag}-broken-header`,
  globalHeader: `s3cr3t-${tag}-global-header`,
  globalToken: `s3cr3t-${tag}-global-token`,
};
const NATS_USER = "intelmq";
const basic = (user: string, pass: string) => Buffer.from(`${user}:${pass}`).toString("base64");
/** What must not be found: each secret, Basic credentials made of them, and the tag alone (a cut or changed secret). */
const NEEDLES: [string, string][] = [
  ...Object.entries(SECRET),
  ["feed basic auth", basic("feed-user", SECRET.feedPass)],
  ["REST basic auth", basic("rest-user", SECRET.restPass)],
  ["NATS basic auth", basic(NATS_USER, SECRET.natsPass)],
  ["the secrets' tag", tag],
];

const BAD_IP = "192.0.2.66";
const FEED = [
  "192.0.2.1,a.example.com,http://a.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496",
  `${BAD_IP},b.example.com,http://b.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496`,
  "not-an-ip,c.example.com,http://c.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496",
].join("\n") + "\n";
const BOTS = ["sec-collector", "sec-parser", "sec-output"];

function bots(peer: string): Record<string, unknown> {
  return {
    "sec-collector": {
      module: "intelmq.bots.collectors.http.collector_http", name: "HTTP", group: "Collector", description: "Feed with credentials", enabled: true,
      parameters: {
        http_url: `${peer}/feed.csv`, rate_limit: 3600, name: "Secret Feed", provider: "Sec",
        http_username: "feed-user", http_password: SECRET.feedPass,
        http_header: { Authorization: `Bearer ${SECRET.feedBearer}`, "X-Api-Key": SECRET.feedApiKey },
        destination_queues: { _default: ["sec-parser-queue"] },
      },
    },
    "sec-parser": {
      module: "intelmq.bots.parsers.generic.parser_csv", name: "CSV", group: "Parser", description: "CSV", enabled: true,
      parameters: { columns: BENCH_COLUMNS, delimiter: ",", destination_queues: { _default: ["sec-output-queue"] } },
    },
    "sec-output": {
      module: "intelmq.bots.outputs.restapi.output", name: "REST API", group: "Output", description: "API with credentials", enabled: true,
      parameters: {
        host: `${peer}/events`, http_username: "rest-user", http_password: SECRET.restPass,
        auth_type: "http_header", auth_token_name: "X-Rest-Token", auth_token: SECRET.restToken,
        http_header: { "X-Rest-Key": SECRET.restKey },
        error_max_retries: 1, error_log_message: true,
      },
    },
    // Not started by the control service; its secret is not a header map, so it cannot start.
    "sec-broken": {
      module: "intelmq.bots.collectors.http.collector_http", name: "HTTP", group: "Collector", description: "Misconfigured", enabled: false,
      parameters: { http_url: `${peer}/feed.csv`, http_header: `Authorization: Bearer ${SECRET.brokenHeader}`, destination_queues: { _default: ["sec-parser-queue"] } },
    },
  };
}

interface Run { code: number; stdout: string; stderr: string }

function tool(bin: string, args: string[], env: NodeJS.ProcessEnv, input = ""): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [join(ROOT, "bin", bin), ...args], { env, timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

/** Run `jobs` at most `n` at a time. */
async function pool<T>(jobs: (() => Promise<T>)[], n: number): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  }));
  return out;
}

/** Every file under dir (recursively), but those `skip` refuses. */
function filesUnder(dir: string, skip: (path: string) => boolean = () => false): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (skip(path)) continue;
    if (e.isDirectory()) out.push(...filesUnder(path, skip));
    else if (e.isFile()) out.push(path);
  }
  return out;
}

describe("secrets", { timeout: 120_000 }, () => {
  it("no secret value is in any log line, intelmqctl or intelmqdump output, dump or stored message of the run", async () => {
    const peerGets: number[] = [];
    const peer: HttpPeer = await startHttpPeer((r: PeerRequest) => {
      if (r.method === "GET" && r.path === "/feed.csv") {
        peerGets.push(peerGets.length === 0 ? 500 : 200);
        return peerGets.at(-1) === 500 ? { status: 500, body: "temporarily unavailable" } : { body: FEED };
      }
      if (r.method === "POST" && r.path === "/events") return r.body.includes(BAD_IP) ? { status: 500, body: "refused" } : { status: 201, body: "created" };
      return { status: 404, body: "not found" };
    });
    const nats: NatsServer = await startNatsServer({ auth: { user: NATS_USER, pass: SECRET.natsPass } });
    const natsUrl = `nats://${NATS_USER}:${SECRET.natsPass}@127.0.0.1:${nats.port}`;
    // An HTTP parameter under global applies to every bot, those without HTTP parameters too.
    // So does any other: a secret of one bot (the REST output's auth_token) under global reaches bots that do not know it.
    const p = new TestPipeline(natsUrl, bots(peer.url), { logging_level: "DEBUG", http_header: { "X-Global-Key": SECRET.globalHeader }, auth_token: SECRET.globalToken });
    const env = { ...p.env, INTELMQCTL_CONTROL_WAIT: "0.5" };
    /** What the processes of the test printed, by who printed it. */
    const captured: { where: string; text: string }[] = [];
    const ctl = async (args: string[], e: NodeJS.ProcessEnv = env): Promise<Run> => {
      const r = await tool("intelmqctl.mjs", args, e);
      captured.push({ where: `intelmqctl ${args.join(" ")}: stdout`, text: r.stdout }, { where: `intelmqctl ${args.join(" ")}: stderr`, text: r.stderr });
      return r;
    };
    const dump = async (args: string[], input: string): Promise<Run> => {
      const r = await tool("intelmqdump.mjs", args, env, input);
      captured.push({ where: `intelmqdump ${args.join(" ")}: stdout`, text: r.stdout }, { where: `intelmqdump ${args.join(" ")}: stderr`, text: r.stderr });
      return r;
    };
    /** Bot processes of our own, each with its output in var/log/<file>.log. */
    const own: { child: ChildProcess; exited: Promise<number | null> }[] = [];
    const bot = (id: string, file: string, extra: NodeJS.ProcessEnv): { child: ChildProcess; exited: Promise<number | null> } => {
      const fd = openSync(join(p.root, "var", "log", `${file}.log`), "a");
      const { command, args, env: cmdEnv } = botCommand(id);
      const child = spawn(command, args, { env: { ...cmdEnv, ...p.env, ...extra }, stdio: ["ignore", fd, fd] });
      closeSync(fd);
      own.push({ child, exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))) });
      return own.at(-1)!;
    };
    let control: ChildProcess | null = null;
    let controlExited: Promise<void> = Promise.resolve();
    let b: Broker | null = null;
    try {
      b = await connectJetStream({ servers: nats.url, user: NATS_USER, pass: SECRET.natsPass, name: "test-secrets" });

      // The pipeline under the control service, everything at DEBUG.
      const fd = openSync(join(p.root, "var", "log", "intelmq-control.log"), "a");
      control = spawn(process.execPath, [join(ROOT, "bin", "intelmq-control.mjs"), "--host", "sec-host", "--stop-timeout", "5"], {
        env: { ...p.env, INTELMQ_LOGGING_LEVEL: "DEBUG" }, stdio: ["ignore", fd, fd],
      });
      closeSync(fd);
      const c = control;
      controlExited = new Promise((resolve) => c.once("exit", () => resolve()));

      // The download fails once, then the report goes through; the parser dumps the malformed
      // line, the output the event the API refuses (after one retry).
      await waitFor(async () => (await b!.dumps.read("sec-parser")).length === 1 && (await b!.dumps.read("sec-output")).length > 0,
        45_000, "the dumps of sec-parser and sec-output");
      assert.deepEqual(peerGets, [500, 200], "the feed failed once, then was downloaded");
      const get = peer.requests.find((r) => r.method === "GET")!;
      assert.equal(get.headers.authorization, `Bearer ${SECRET.feedBearer}`, "the collector sent its bearer token");
      assert.equal(get.headers["x-api-key"], SECRET.feedApiKey);
      const posted = peer.requests.find((r) => r.method === "POST" && r.body.includes("192.0.2.1"));
      assert.ok(posted, "the good event was posted");
      assert.equal(posted.headers.authorization, `Basic ${basic("rest-user", SECRET.restPass)}`, "the output sent its basic credentials");
      assert.equal(posted.headers["x-rest-token"], SECRET.restToken);
      assert.equal(posted.headers["x-rest-key"], SECRET.restKey);
      await waitFor(async () => {
        const r = await tool("intelmqctl.mjs", ["--type", "json", "status"], env);
        return r.code === 0 && JSON.parse(r.stdout)["sec-output"] === "running";
      }, 30_000, "intelmqctl status: the botnet running");

      // intelmqctl's reading commands, in text and JSON.
      const reading = [
        ["status"], ["status", "--details"], ["list", "bots"], ["list", "bots", "-c"], ["list", "queues"], ["list", "queues-and-status"],
        ...[...BOTS, "sec-broken"].map((id) => ["log", id, "-1", "DEBUG"]), ["log", "sec-output", "10", "ERROR", "--verbose"],
        ["debug"], ["debug", "--get-paths"], ["debug", "--get-environment-variables"], ["check"],
      ];
      const results = await pool(reading.flatMap((args) => [() => ctl(args), () => ctl(["--type", "json", ...args])]), 4);
      const out = (args: string[], json = false) => results[reading.findIndex((a) => a.join(" ") === args.join(" ")) * 2 + (json ? 1 : 0)]!;
      assert.equal(out(["status"]).code, 0, out(["status"]).stdout + out(["status"]).stderr);
      assert.match(out(["check"]).stdout, /sec-broken/, "check names the bot with the invalid secret parameter");

      // Reload (the bot logs its parameters again) and a start that fails, whose reason intelmqctl prints.
      assert.equal((await ctl(["reload", "sec-output"])).code, 0);
      assert.equal((await ctl(["--type", "json", "reload", "sec-collector"])).code, 0);
      const start = await ctl(["start", "sec-broken"]);
      assert.equal(start.code, 1, start.stdout + start.stderr);
      assert.match(start.stderr, /Bot sec-broken failed to START\.[\s\S]*http_header/);

      // run: one collection round and one output attempt that fails and would be dumped, dry.
      const round = await ctl(["run", "sec-collector", "process", "--dryrun", "--show-sent"]);
      assert.equal(round.code, 0, round.stdout + round.stderr);
      const refused = await ctl(["run", "sec-output", "process", "--dryrun", "-m", JSON.stringify({ "source.ip": BAD_IP, "classification.type": "scanner" })]);
      assert.match(refused.stdout + refused.stderr, /would be dumped/);
      await ctl(["--type", "json", "run", "sec-output", "process", "--dryrun", "-m", JSON.stringify({ "source.ip": "192.0.2.7", "classification.type": "scanner" })]);

      // intelmqdump: the list, each dump shown (with and without stack frames), exported as IntelMQ's dump files.
      const list = await dump([], "q\n");
      assert.match(list.stdout, /sec-output\s+\d+ dumps/);
      assert.match((await dump(["sec-parser", "-t", "0"], "s 0\nq\n")).stdout, /InvalidValue: invalid value 'not-an-ip'/);
      assert.match((await dump(["sec-output"], "s 0\nq\n")).stdout, /500/);
      await dump(["sec-output", "--verbose"], "s 0\nq\n");
      const exported = await dump(["--export", `${join(p.root, "var", "lib", "dumps")}/`], "");
      assert.equal(exported.code, 0, exported.stderr);

      // Failing to log in to NATS: a wrong password, and the right one for a server that is not there.
      const closed = await freePort();
      const wrongUrl = `nats://${NATS_USER}:${SECRET.wrongNatsPass}@127.0.0.1:${nats.port}`;
      const awayUrl = `nats://${NATS_USER}:${SECRET.natsPass}@127.0.0.1:${closed}`;
      assert.notEqual((await ctl(["status"], { ...env, NATS_URL: wrongUrl })).code, 0, "a wrong NATS password is refused");
      assert.notEqual((await ctl(["--type", "json", "list", "queues"], { ...env, NATS_URL: awayUrl })).code, 0, "no NATS server there");
      await ctl(["check"], { ...env, NATS_URL: awayUrl });
      const wrong = bot("sec-parser", "wrong-password", { NATS_URL: wrongUrl });
      const away = bot("sec-parser", "unreachable", { NATS_URL: awayUrl });
      const broken = bot("sec-broken", "sec-broken", {});
      assert.notEqual(await broken.exited, 0, "a bot with an invalid parameter does not start");
      await waitFor(() => p.log("unreachable").includes("NATS is not reachable yet"), 20_000, "the bot's retries to reach NATS");
      await waitFor(() => wrong.child.exitCode !== null || p.log("wrong-password").includes("NATS is not reachable yet"), 20_000, "the bot refused by NATS");
      for (const x of [wrong, away]) if (x.child.exitCode === null && x.child.signalCode === null) { x.child.kill("SIGTERM"); await x.exited; }

      // The heartbeats of the running bots; then stop the botnet: every log line is written.
      const beats = await (await b.kv.openExisting(STATUS_BUCKET))?.entries();
      assert.ok(beats && beats.size >= BOTS.length, "the running bots' heartbeats");
      captured.push({ where: "status bucket", text: JSON.stringify([...beats.entries()]) });
      control.kill("SIGTERM");
      await controlExited;
      control = null;

      // What the run kept in NATS: the logs stream, the dumps.
      for (const id of [...BOTS, "sec-broken"]) {
        captured.push({ where: `logs stream of ${id}`, text: (await b.logs.read(id, Infinity)).join("\n") });
      }
      captured.push({ where: "dumps stream", text: JSON.stringify(await b.dumps.read()) });
      captured.push({ where: "nats-server output", text: nats.log() });

      // Every file the run wrote: logs, dumps, outputs, state, and JetStream's store on disk.
      // runtime.yaml (and a backup of it) holds the secrets by design.
      const configFile = (f: string) => /\/etc\/runtime\.yaml(\.bak)?$/.test(f);
      const files = [...filesUnder(p.root, configFile), ...filesUnder(nats.storeDir)];
      const sources = [
        ...captured.map(({ where, text }) => ({ where, data: Buffer.from(text) })),
        ...files.map((f) => ({ where: f.startsWith(p.root) ? relative(p.root, f) : `JetStream store: ${relative(nats.storeDir, f)}`, data: readFileSync(f) })),
      ];
      const found: string[] = [];
      for (const { where, data } of sources) {
        for (const [name, value] of NEEDLES) {
          const at = data.indexOf(value);
          if (at < 0) continue;
          const around = data.subarray(Math.max(0, at - 120), at + value.length + 40).toString("utf8").replace(/[^\x20-\x7e]/g, ".");
          found.push(`${name} in ${where}: …${around}…`);
        }
      }
      assert.ok(found.length === 0, `secrets found:\n${found.join("\n")}`);

      // The search saw what it should: logs at DEBUG with the secret parameters hidden, the
      // masked NATS URL, the dumps, the store.
      assert.match(out(["debug"]).stdout, /NATS_URL: nats:\/\/\*\*\*@127\.0\.0\.1:\d+/, "debug shows NATS_URL with its credentials masked");
      assert.equal((JSON.parse(out(["debug", "--get-environment-variables"], true).stdout) as { environment_variables: Record<string, string> })
        .environment_variables.NATS_URL, `nats://***@127.0.0.1:${nats.port}`);
      assert.match(out(["log", "sec-collector", "-1", "DEBUG"]).stdout, /parameter "http_password" loaded with value "HIDDEN"/);
      assert.match(out(["log", "sec-output", "-1", "DEBUG"], true).stdout, /parameter \\"auth_token\\" loaded with value \\"HIDDEN\\"/);
      assert.match(out(["log", "sec-parser", "-1", "DEBUG"]).stdout, /parameter "http_header" loaded with value "HIDDEN"/, "the global secret is hidden by a bot without HTTP parameters");
      assert.match(round.stdout, /http_header.*HIDDEN/, "the run prints the parameters, the secrets hidden");
      for (const id of BOTS) {
        const log = p.log(id);
        assert.ok(log.split("\n").length > 10, `${id} logged (${log.length} bytes)`);
        assert.match(log, /loaded with value \\"HIDDEN\\"/, `${id}'s log shows its hidden parameters`);
      }
      const streamed = captured.find((x) => x.where === "logs stream of sec-collector")!.text;
      assert.match(streamed, /HIDDEN/, "the logs stream holds the parameter lines too");
      assert.ok(captured.some((x) => x.text.includes("***@")), "the masked NATS URL was printed");
      assert.match(p.log("sec-broken"), /http_header/, "the invalid parameter is named");
      assert.ok(files.some((f) => f.endsWith(".dump")), "dump files were exported");
      assert.ok(files.some((f) => f.startsWith(nats.storeDir) && statSync(f).size > 0), "the JetStream store was read");
      const bytes = sources.reduce((n, s) => n + s.data.length, 0);
      assert.ok(bytes > 100_000, `${bytes} bytes searched`);
    } finally {
      for (const x of own) if (x.child.exitCode === null && x.child.signalCode === null) { x.child.kill("SIGKILL"); await x.exited; }
      if (control) {
        control.kill("SIGTERM");
        await Promise.race([controlExited, sleep(20_000)]);
        if (control.exitCode === null && control.signalCode === null) control.kill("SIGKILL");
      }
      await b?.close().catch(() => undefined);
      await p.close();
      await nats.stop();
      await peer.close();
    }
  });
});
