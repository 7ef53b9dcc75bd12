// SPDX-License-Identifier: AGPL-3.0-only
// The bot side of the control plane: an intelmq-bot process on a real nats-server answers
// intelmq.control.bot.<id>.<verb> and heartbeats into the status bucket.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer, type NatsServer } from "../../test/helpers/nats-server.js";
import { TestPipeline, countLines, sleep, waitFor } from "../../test/helpers/pipeline.js";
import {
  ErrorReply, HEARTBEAT_TTL_S, InstanceStatus, STATUS_BUCKET, botSubject, decodeJson, encodeJson, type BotVerb,
} from "../control-protocol/index.js";
import { instanceState } from "./index.js";

const BOT = "ctl-output";
const QUEUE = `${BOT}-queue`;

function outputBot(file: string): Record<string, unknown> {
  return {
    [BOT]: { module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", enabled: true, parameters: { file } },
  };
}

function events(from: number, n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, k) => ({
    __type: "Event", "feed.name": "Control test", "classification.type": "undetermined", "source.url": `http://n${from + k}.example.com/`,
  }));
}

async function ask(p: TestPipeline, verb: BotVerb): Promise<InstanceStatus[]> {
  const b = await p.broker();
  const replies = await b.control.requestMany(botSubject(BOT, verb), encodeJson({}), 1000);
  return replies.map((r) => decodeJson(InstanceStatus, r));
}

/** Every URL of the output file with how often it appears. */
function urls(file: string): Map<string, number> {
  const seen = new Map<string, number>();
  for (const line of readFileSync(file, "utf8").split("\n").filter(Boolean)) {
    const u = String((JSON.parse(line) as Record<string, unknown>)["source.url"]);
    seen.set(u, (seen.get(u) ?? 0) + 1);
  }
  return seen;
}

let nats: NatsServer;
before(async () => { nats = await startNatsServer(); });
after(async () => { await nats.stop(); });

describe("bot control subjects", { timeout: 120_000 }, () => {
  it("maps engine states to instance states", () => {
    assert.equal(instanceState("running"), "running");
    assert.equal(instanceState("paused"), "paused");
    assert.equal(instanceState("reloading"), "starting");
    assert.equal(instanceState("stopped"), "stopping");
  });

  it("status, stop (queue grows, nothing lost), start (queue drains), heartbeat gone after a clean stop", async () => {
    const out = "var/lib/bots/ctl/out.txt";
    const p = new TestPipeline(nats.url, outputBot(out), { logging_level: "INFO" });
    const file = join(p.root, out);
    try {
      const proc = p.start(BOT);
      await waitFor(async () => (await ask(p, "status")).length === 1, 20_000, "the bot answers its control subject");
      const [st] = await ask(p, "status");
      assert.equal(st!.bot_id, BOT);
      assert.equal(st!.pid, proc.child.pid);
      assert.equal(st!.instance, `${st!.host}-${proc.child.pid}`);
      assert.equal(st!.state, "running");

      // Heartbeat in the status bucket under <bot-id>.<instance>.
      const b = await p.broker();
      const kv = await b.kv.open(STATUS_BUCKET, HEARTBEAT_TTL_S);
      await waitFor(async () => (await kv.entries(`${BOT}.`)).size === 1, 10_000, "a heartbeat");
      const beat = InstanceStatus.parse(JSON.parse([...(await kv.entries(`${BOT}.`)).values()][0]!));
      assert.equal(beat.pid, proc.child.pid);
      assert.equal(beat.host, st!.host);

      await p.inject(QUEUE, events(0, 20), "a");
      await waitFor(() => countLines(file) === 20, 20_000, "20 lines before the stop");
      assert.equal((await ask(p, "status"))[0]!.counters.success, 20);

      const [stopped] = await ask(p, "stop");
      assert.equal(stopped!.state, "paused");
      await waitFor(async () => {
        const e = InstanceStatus.parse(JSON.parse((await kv.get(`${BOT}.${st!.instance}`)) ?? "null"));
        return e.state === "paused";
      }, 10_000, "the heartbeat says paused");
      await p.inject(QUEUE, events(20, 30), "b");
      await sleep(1500);
      assert.equal(await b.queues.depth(QUEUE), 30, "a paused bot leaves its queue alone");
      assert.equal(countLines(file), 20);
      assert.equal((await ask(p, "status"))[0]!.state, "paused");

      const [started] = await ask(p, "start");
      assert.equal(started!.state, "running");
      await waitFor(async () => countLines(file) === 50 && (await b.queues.depth(QUEUE)) === 0, 20_000, "the queue drains");
      const seen = urls(file);
      assert.equal(seen.size, 50);
      assert.ok([...seen.values()].every((n) => n === 1), "each event once");
      assert.equal((await ask(p, "status"))[0]!.counters.success, 50);

      proc.child.kill("SIGTERM");
      assert.equal(await proc.exited, 0);
      assert.equal((await kv.entries(`${BOT}.`)).size, 0, "a clean exit removes the heartbeat");
      assert.deepEqual(await ask(p, "status"), []);
    } finally {
      await p.close();
    }
  });

  it("reload re-reads runtime.yaml: a changed parameter takes effect; a broken file gives an error reply", async () => {
    const p = new TestPipeline(nats.url, outputBot("var/lib/bots/ctl/first.txt"));
    try {
      p.start(BOT);
      await waitFor(async () => (await ask(p, "status")).length === 1, 20_000, "the bot answers");
      await p.inject(QUEUE, events(100, 5), "reload-a");
      await waitFor(() => countLines(join(p.root, "var/lib/bots/ctl/first.txt")) === 5, 20_000, "5 lines in the first file");

      p.writeConfig(outputBot("var/lib/bots/ctl/second.txt"));
      const [reloaded] = await ask(p, "reload");
      assert.equal(reloaded!.state, "running");
      await p.inject(QUEUE, events(105, 7), "reload-b");
      await waitFor(() => countLines(join(p.root, "var/lib/bots/ctl/second.txt")) === 7, 20_000, "7 lines in the second file");
      assert.equal(countLines(join(p.root, "var/lib/bots/ctl/first.txt")), 5);

      p.writeConfig({ other: { module: "intelmq.bots.outputs.file.output", parameters: {} } });
      const b = await p.broker();
      const replies = await b.control.requestMany(botSubject(BOT, "reload"), encodeJson({}), 1000);
      assert.equal(replies.length, 1);
      const err = decodeJson(ErrorReply, replies[0]!);
      assert.match(err.error.message, new RegExp(BOT));
      assert.equal((await ask(p, "status"))[0]!.state, "running", "the bot keeps running");
    } finally {
      await p.close();
    }
  });
});
