// SPDX-License-Identifier: AGPL-3.0-only
// The monitor page's routes under /v1/monitor/ over real HTTP: bin/intelmq-api.mjs against a real
// nats-server and a control service running a small pipeline whose queues are archived. The
// state of the graph in one answer, a bot's dumps listed, recovered into its queue and deleted,
// replay of an archived queue with its progress, and 401 without a token.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import type { DumpEntry } from "../../shared/broker/index.js";
import { decodeEnvelope } from "../../shared/message/index.js";
import { addUserAndLogin, apiRequest, startApi, stopProcess, type RunningApi } from "../../test/helpers/intelmq-api.js";
import { startNatsServer, type NatsServer } from "../../test/helpers/nats-server.js";
import { ROOT } from "../../test/helpers/paths.js";
import { BENCH_COLUMNS, TestPipeline, countLines, waitFor } from "../../test/helpers/pipeline.js";

const CSV = "192.0.2.1,a.example.com,http://a.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496\n";
const report = (tag: string) => ({
  __type: "Report", "feed.name": `Monitor Feed ${tag}`, "time.observation": "2024-09-16T10:00:00+00:00", raw: Buffer.from(CSV).toString("base64"),
});

function dumpOf(ip: string): DumpEntry {
  return {
    bot_id: "mon-output", source_queue: "mon-output-queue", timestamp: "2024-09-16T10:00:00.000000",
    traceback: ["Traceback (most recent call last):", `ValueError: could not write ${ip}`],
    message: JSON.stringify({ __type: "Event", "feed.name": "Monitor Feed", "source.ip": ip, "classification.type": "phishing" }),
  };
}

interface BotState {
  group: string; source: string | null; destinations: Record<string, string[]>; status: string; dumps: number;
  instances: { host: string; pid: number; state: string; processed?: number; sent?: Record<string, number> }[];
}
interface MonitorState { time: string; bots: Record<string, BotState>; queues: Record<string, { depth: number; archived: boolean } | null> }
interface Job { id: number; state: string; queue: string; target: string; total: number | null; done: number; replayed: number; error?: string }

describe("intelmq-api: the monitor's routes", { timeout: 240_000 }, () => {
  let nats: NatsServer;
  let p: TestPipeline;
  let control: ChildProcess | undefined;
  let api: RunningApi | undefined;
  let token = "";
  const out = "var/lib/bots/monitor-out.txt";

  /** A request to the API with the session's token (or `auth`). */
  const req = apiRequest(() => api!.url, () => token);
  const json = async <T = unknown>(path: string, init: RequestInit = {}, status = 200): Promise<T> => {
    const r = await req(path, init);
    assert.equal(r.status, status, `${path}: ${r.status} ${await r.clone().text()}`);
    return await r.json() as T;
  };
  const postJson = <T = unknown>(path: string, body: unknown, status = 200) => json<T>(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }, status);
  const depth = async (q: string) => (await p.broker()).queues.depth(q);

  before(async () => {
    nats = await startNatsServer();
    p = new TestPipeline(nats.url, {
      "mon-parser": {
        module: "intelmq.bots.parsers.generic.parser_csv", name: "CSV", group: "Parser", enabled: true,
        parameters: { columns: BENCH_COLUMNS, delimiter: ",", destination_queues: { _default: ["mon-output-queue"] } },
      },
      "mon-output": { module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", enabled: true, parameters: { file: out } },
    }, { queue_archive: true });
    const fd = openSync(join(p.root, "var", "log", "intelmq-control.log"), "a");
    control = spawn(process.execPath, [join(ROOT, "bin", "intelmq-control.mjs"), "--host", "monitor-host", "--stop-timeout", "5"], { env: p.env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    api = await startApi({ ...p.env, INTELMQCTL_CONTROL_WAIT: "0.3" }, join(p.root, "var", "log", "intelmq-api.log"));
    token = await addUserAndLogin(api, p.env, "mona", "monitor pw");
  });
  after(async () => {
    await stopProcess(api?.proc);
    await stopProcess(control);
    await p.close();
    await nats.stop();
  });

  it("refuses every monitor route without a valid token (401)", async () => {
    const routes: [string, RequestInit][] = [
      ["/v1/monitor/state", {}], ["/v1/monitor/dumps", {}], ["/v1/monitor/dumps?id=mon-output", {}], ["/v1/monitor/replay", {}],
      ["/v1/monitor/dumps/recover", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id: "mon-output", seqs: [1] }) }],
      ["/v1/monitor/dumps/delete", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id: "mon-output", seqs: [1] }) }],
      ["/v1/monitor/replay", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ queue: "mon-parser-queue" }) }],
    ];
    for (const [path, init] of routes) {
      for (const auth of [null, "0123456789abcdef0123456789abcdef"]) {
        const r = await req(path, { ...init, auth });
        assert.equal(r.status, 401, `${init.method ?? "GET"} ${path} with ${auth}`);
        assert.deepEqual(await r.json(), { error: { "Authentication Required": "Please provide valid Token verification credentials" } });
      }
    }
  });

  it("state: the graph of runtime.yaml with states, instances per host, counters, queue depths and dump counts", async () => {
    let s!: MonitorState;
    await waitFor(async () => {
      s = await json<MonitorState>("/v1/monitor/state");
      return Object.values(s.bots).every((b) => b.status === "running" && b.instances.length === 1);
    }, 60_000, "the control service runs the pipeline");
    assert.deepEqual(Object.keys(s.bots), ["mon-parser", "mon-output"]);
    assert.equal(s.bots["mon-parser"]!.group, "Parser");
    assert.equal(s.bots["mon-parser"]!.source, "mon-parser-queue");
    assert.deepEqual(s.bots["mon-parser"]!.destinations, { _default: ["mon-output-queue"] });
    assert.deepEqual(s.bots["mon-output"]!.destinations, {});
    assert.equal(s.bots["mon-output"]!.instances[0]!.host, "monitor-host");
    assert.equal(s.bots["mon-output"]!.dumps, 0);
    assert.deepEqual(s.queues["mon-output-queue"], { depth: 0, archived: true });
    assert.ok(!Number.isNaN(Date.parse(s.time)));

    await p.inject("mon-parser-queue", [report("a"), report("b")], "mon-state");
    await waitFor(() => countLines(join(p.root, out)) === 2, 60_000, "two events in the output");
    // The counters the page makes its rates of: what each instance processed and sent per path.
    await waitFor(async () => {
      s = await json<MonitorState>("/v1/monitor/state");
      const parser = s.bots["mon-parser"]!.instances[0]!;
      return parser.processed === 2 && parser.sent?._default === 2 && s.bots["mon-output"]!.instances[0]!.processed === 2;
    }, 15_000, "the instances' counters");
  });

  it("dumps: listed with their reason, recovered into the bot's queue (depth +1, dump gone), deleted", async () => {
    // Stopped, so that what is recovered stays in its queue to be counted.
    assert.equal(await json("/v1/api/bot?action=stop&id=mon-output"), "stopped");
    const b = await p.broker();
    await b.dumps.store(dumpOf("198.51.100.1"));
    await b.dumps.store(dumpOf("198.51.100.2"));
    assert.deepEqual(await json("/v1/monitor/dumps"), { "mon-parser": 0, "mon-output": 2 });
    const list = await json<{ bot_id: string; total: number; entries: { seq: number; source_queue: string; reason: string; message: string }[] }>("/v1/monitor/dumps?id=mon-output");
    assert.equal(list.bot_id, "mon-output");
    assert.equal(list.total, 2);
    assert.deepEqual(list.entries.map((e) => e.reason), ["ValueError: could not write 198.51.100.1", "ValueError: could not write 198.51.100.2"]);
    assert.equal(list.entries[0]!.source_queue, "mon-output-queue");
    assert.match(list.entries[0]!.message, /198\.51\.100\.1/);
    assert.equal((await json<MonitorState>("/v1/monitor/state")).bots["mon-output"]!.dumps, 2);
    const [first, second] = list.entries;

    const before = await depth("mon-output-queue");
    const r = await postJson<{ recovered: { seq: number; queue: string }[]; failed: unknown[] }>("/v1/monitor/dumps/recover", { id: "mon-output", seqs: [first!.seq] });
    assert.deepEqual(r, { recovered: [{ seq: first!.seq, queue: "mon-output-queue" }], failed: [] });
    assert.equal(await depth("mon-output-queue"), before + 1, "the message is back in its queue");
    const peeked = await b.queues.peek("mon-output-queue");
    assert.equal(decodeEnvelope(peeked!.data, peeked!.headers["Content-Type"])[0]!["source.ip"], "198.51.100.1");
    assert.deepEqual((await b.dumps.read("mon-output")).map((d) => d.seq), [second!.seq], "the recovered dump is gone");

    // Another bot's id, a sequence it has no entry of: refused one by one, nothing happens.
    const wrong = await postJson<{ recovered: unknown[]; failed: { seq: number; reason: string }[] }>("/v1/monitor/dumps/recover", { id: "mon-parser", seqs: [second!.seq] });
    assert.deepEqual(wrong, { recovered: [], failed: [{ seq: second!.seq, reason: "no such dump of this bot" }] });
    assert.equal(await depth("mon-output-queue"), before + 1);

    assert.deepEqual(await postJson("/v1/monitor/dumps/delete", { id: "mon-output", seqs: [second!.seq] }), { deleted: [second!.seq], failed: [] });
    assert.deepEqual(await b.dumps.read("mon-output"), []);
    assert.deepEqual(await json("/v1/monitor/dumps?id=mon-output"), { bot_id: "mon-output", total: 0, entries: [] });
    assert.equal(await depth("mon-output-queue"), before + 1, "deleting publishes nothing");

    // Refused requests: what is missing or malformed (422, as the API's), an unknown bot (404).
    const bad = await postJson<{ detail: { loc: string[] }[] }>("/v1/monitor/dumps/delete", { id: "mon-output" }, 422);
    assert.deepEqual(bad.detail[0]!.loc, ["body", "seqs"]);
    await postJson("/v1/monitor/dumps/recover", { id: "mon-output", seqs: ["x"] }, 422);
    await postJson("/v1/monitor/dumps/recover", { id: "no-such-bot", seqs: [1] }, 404);
    await json("/v1/monitor/dumps?id=no-such-bot", {}, 404);

    assert.equal(await json("/v1/api/bot?action=start&id=mon-output"), "running");
    await waitFor(async () => (await depth("mon-output-queue")) === 0, 30_000, "the output to take the recovered message");
  });

  it("replay: an archived queue into itself as a job whose progress is asked for; unknown queues and bad times refused", async () => {
    // The parser took its two reports; the archive kept them. Stopped, the replayed ones stay.
    assert.equal(await json("/v1/api/bot?action=stop&id=mon-parser"), "stopped");
    assert.equal(await depth("mon-parser-queue"), 0);
    let job = await postJson<Job>("/v1/monitor/replay", { queue: "mon-parser-queue" }, 202);
    assert.equal(job.queue, "mon-parser-queue");
    assert.equal(job.target, "mon-parser-queue");
    assert.ok(job.state === "counting" || job.state === "replaying", job.state);
    await waitFor(async () => {
      job = await json<Job>(`/v1/monitor/replay?id=${job.id}`);
      return job.state === "done" || job.state === "failed";
    }, 30_000, "the replay to end");
    assert.equal(job.error, undefined);
    assert.deepEqual([job.state, job.total, job.done, job.replayed], ["done", 2, 2, 2]);
    assert.equal(await depth("mon-parser-queue"), 2, "both reports are back in the parser's queue");
    const jobs = await json<{ jobs: Job[] }>("/v1/monitor/replay");
    assert.deepEqual(jobs.jobs.map((j) => j.id), [job.id]);

    // A range with nothing in it: done, nothing replayed.
    let empty = await postJson<Job>("/v1/monitor/replay", { queue: "mon-parser-queue", until: "2000-01-01T00:00:00Z" }, 202);
    await waitFor(async () => {
      empty = await json<Job>(`/v1/monitor/replay?id=${empty.id}`);
      return empty.state === "done" || empty.state === "failed";
    }, 30_000, "the empty replay to end");
    assert.deepEqual([empty.state, empty.total, empty.replayed], ["done", 0, 0]);
    assert.equal(await depth("mon-parser-queue"), 2);

    assert.deepEqual(await postJson("/v1/monitor/replay", { queue: "nowhere-queue" }, 404), { error: "Queue nowhere-queue does not exist!" });
    assert.deepEqual(await postJson("/v1/monitor/replay", { queue: "mon-parser-queue", to: "nowhere-queue" }, 404), { error: "Queue nowhere-queue does not exist!" });
    const badTime = await postJson<{ detail: { loc: string[]; msg: string }[] }>("/v1/monitor/replay", { queue: "mon-parser-queue", since: "yesterday-ish" }, 422);
    assert.deepEqual(badTime.detail[0]!.loc, ["body", "since"]);
    await postJson("/v1/monitor/replay", {}, 422);
    await json("/v1/monitor/replay?id=999", {}, 404);
  });
});
