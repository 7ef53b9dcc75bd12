// SPDX-License-Identifier: AGPL-3.0-only
// The feed catalogue end to end: `intelmqctl feed list`, `feed add` of a catalogue feed into an
// existing pipeline, `intelmqctl check`, `intelmqctl start` through a control service, and the
// feed's events at the output, fetched from a loopback HTTP server serving the feed's sample.
import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { parse } from "yaml";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { ROOT } from "../helpers/paths.js";
import { TestPipeline, waitFor } from "../helpers/pipeline.js";

interface CtlResult { code: number; stdout: string; stderr: string }
function ctl(p: TestPipeline, args: string[]): Promise<CtlResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, "bin", "intelmqctl.mjs"), ...args], { env: { ...p.env, INTELMQCTL_CONTROL_WAIT: "0.3" }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// DShield's block list as the feed publishes it (documentation addresses).
const BLOCK_LIST = [
  "#   DShield.org Recommended Block List",
  "#    updated: Tue Dec 15 15:33:38 2015 UTC",
  "#",
  "Start\tEnd\tNetblock\tAttacks\tName\tCountry\temail",
  "192.0.2.0\t192.0.2.255\t24\t788\tExample Net\tAT\tabuse@example.com",
  "198.51.100.0\t198.51.100.255\t24\t585\t\t\t",
  "# END",
  "",
].join("\n");

let nats: NatsServer;
let http: Server;
let url: string;
let requests = 0;

before(async () => {
  nats = await startNatsServer();
  http = createServer((_req, res) => { requests++; res.writeHead(200, { "content-type": "text/plain" }); res.end(BLOCK_LIST); });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/block.txt`;
});
after(async () => {
  await new Promise((r) => http.close(r));
  await nats.stop();
});

it("feed list names the catalogue's feeds with their status; JSON for machines", async () => {
  const p = new TestPipeline(nats.url, {});
  try {
    const text = await ctl(p, ["feed", "list"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^DShield\s+Block\s+runnable$/m);
    assert.match(text.stdout, /^Shadowserver\s+Via API\s+(needs an account|needs a collector we lack)/m);
    assert.match(text.stdout, /^\d+ feeds, \d+ runnable as they are\.$/m);
    const json = await ctl(p, ["--type", "json", "feed", "list"]);
    const rows = JSON.parse(json.stdout) as { provider: string; feed: string; status: string }[];
    assert.ok(rows.length > 50);
    assert.deepEqual(rows.find((r) => r.provider === "DShield" && r.feed === "Block")?.status, "runnable");
  } finally {
    await p.close();
  }
});

it("feed add refuses an unknown feed (exit 2) and a feed that needs an account without its values", async () => {
  const p = new TestPipeline(nats.url, {});
  try {
    const unknown = await ctl(p, ["feed", "add", "DShield", "Nope"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /provider "DShield" has no feed "Nope"; its feeds: .*Block/);
    const before = readFileSync(join(p.root, "etc", "runtime.yaml"), "utf8");
    const account = await ctl(p, ["feed", "add", "Spamhaus", "CERT"]);
    assert.notEqual(account.code, 0);
    assert.match(account.stderr, /needs values of yours for collector\.\w+/);
    assert.equal(readFileSync(join(p.root, "etc", "runtime.yaml"), "utf8"), before, "runtime.yaml unchanged");
  } finally {
    await p.close();
  }
});

it("feed add, check and start run a catalogue feed end to end into the existing pipeline", async () => {
  const out = "var/lib/bots/file-output/feed.txt";
  const p = new TestPipeline(nats.url, {
    "taxonomy-expert": {
      module: "intelmq.bots.experts.taxonomy.expert", name: "Taxonomy", group: "Expert", enabled: true,
      parameters: { destination_queues: { _default: ["file-output-queue"] } },
    },
    "file-output": { module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", enabled: true, parameters: { file: out } },
  });
  let service: ChildProcess | null = null;
  try {
    const add = await ctl(p, ["feed", "add", "dshield", "block", "--id", "dshield", "--param", `http_url=${url}`]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /Added dshield-collector and dshield-parser to .*runtime\.yaml; the parser sends to taxonomy-expert-queue\./);
    const cfg = parse(readFileSync(join(p.root, "etc", "runtime.yaml"), "utf8")) as Record<string, { module: string; parameters: Record<string, unknown> }>;
    assert.equal(cfg["dshield-collector"]!.module, "intelmq.bots.collectors.http.collector_http");
    assert.equal(cfg["dshield-collector"]!.parameters.http_url, url);
    assert.equal(cfg["dshield-collector"]!.parameters.name, "Block", "__FEED__ filled in");
    assert.equal(cfg["dshield-collector"]!.parameters.provider, "DShield", "__PROVIDER__ filled in");
    assert.deepEqual(cfg["dshield-collector"]!.parameters.destination_queues, { _default: ["dshield-parser-queue"] });
    assert.deepEqual(cfg["dshield-parser"]!.parameters.destination_queues, { _default: ["taxonomy-expert-queue"] });
    assert.ok(cfg["taxonomy-expert"], "the existing bots are kept");

    const again = await ctl(p, ["feed", "add", "DShield", "Block", "--id", "dshield"]);
    assert.equal(again.code, 2, "the same ids twice are refused");

    const check = await ctl(p, ["check"]);
    assert.equal(check.code, 0, check.stdout + check.stderr);

    const fd = openSync(join(p.root, "var", "log", "intelmq-control.log"), "a");
    service = spawn(process.execPath, [join(ROOT, "bin", "intelmq-control.mjs"), "--host", "feed-test-host", "--stop-timeout", "5"], { env: p.env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    await waitFor(async () => (await ctl(p, ["--type", "json", "status", "--details"])).stdout.includes("feed-test-host"), 30_000, "the control service answers");
    const start = await ctl(p, ["start"]);
    assert.equal(start.code, 0, start.stdout + start.stderr);
    const file = join(p.root, out);
    await waitFor(() => existsSync(file) && readFileSync(file, "utf8").trim().split("\n").length >= 2, 60_000, "the feed's events at the output");
    const events = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(events.map((e) => e["source.network"]).sort(), ["192.0.2.0/24", "198.51.100.0/24"]);
    for (const e of events) {
      assert.equal(e["feed.name"], "Block");
      assert.equal(e["feed.provider"], "DShield");
      assert.equal(e["feed.url"], url);
      assert.equal(e["classification.type"], "blacklist");
      assert.equal(e["classification.taxonomy"], "other", "through the existing taxonomy expert");
    }
    assert.ok(requests >= 1);
  } finally {
    if (service) {
      await ctl(p, ["stop"]);
      service.kill("SIGTERM");
      await new Promise((r) => service!.once("exit", r));
    }
    await p.close();
  }
});
