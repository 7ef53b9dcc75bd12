// SPDX-License-Identifier: AGPL-3.0-only
// Queues that push back, per queue, through a real nats-server: two queues of different limits
// (a bot's own queue_max_msgs, the global default), a producer bot that fills the small one and
// waits, the other queue unaffected, every event delivered once after the consumer drains it;
// `intelmqctl list queues` shows the fill; a reload applies a changed limit to the stream.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, hasCode } from "../../shared/errors/index.js";
import { encodeEnvelope } from "../../shared/message/index.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { ROOT } from "../helpers/paths.js";
import { TestPipeline, countLines, sleep, waitFor } from "../helpers/pipeline.js";

const FEED = 20;
const OTHER = 10;
const SMALL = 3;
const GLOBAL_MSGS = 1000;

function bots(smallLimit: number): Record<string, unknown> {
  return {
    "lim-producer": {
      module: "intelmq.bots.experts.taxonomy.expert", name: "Taxonomy", group: "Expert", enabled: true,
      parameters: { destination_queues: { _default: ["lim-small-queue"] } },
    },
    "lim-small": {
      module: "intelmq.bots.outputs.file.output", name: "Small", group: "Output", enabled: true,
      parameters: { file: "var/lib/bots/small.txt", queue_max_msgs: smallLimit },
    },
    "lim-big": {
      module: "intelmq.bots.outputs.file.output", name: "Big", group: "Output", enabled: true,
      parameters: { file: "var/lib/bots/big.txt" },
    },
  };
}

const event = (i: number, feed: string) => ({
  __type: "Event", "feed.name": feed, "source.ip": `198.51.100.${i + 1}`, "classification.type": "scanner", "time.observation": "2024-09-16T10:00:00+00:00",
});

function ctl(p: TestPipeline, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, "bin", "intelmqctl.mjs"), ...args], { env: p.env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

function events(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("queues that push back, per queue", { timeout: 240_000 }, () => {
  let nats: NatsServer;
  before(async () => { nats = await startNatsServer(); });
  after(async () => { await nats.stop(); });

  it("a full small queue makes its producer wait until the consumer drains it, every event once; the other queue is unaffected", async () => {
    const p = new TestPipeline(nats.url, bots(SMALL), { queue_max_msgs: GLOBAL_MSGS });
    try {
      const b = await p.broker();
      const small = join(p.root, "var/lib/bots/small.txt");
      const big = join(p.root, "var/lib/bots/big.txt");
      p.start("lim-producer");
      p.start("lim-big");
      // One event per message into the producer's queue: it sends one envelope per input.
      await p.inject("lim-producer-queue", Array.from({ length: FEED }, (_, i) => event(i, "Feed")), "feed");

      // The small queue fills to its own limit and stays there: the producer waits, the rest of its input with it.
      await waitFor(async () => (await b.queues.info("lim-small-queue")).stored === SMALL, 60_000, "the small queue full");
      await waitFor(() => /maximum messages exceeded/.test(p.log("lim-producer")), 30_000, "the producer told that the queue is full");
      await sleep(1500);
      const info = await b.queues.info("lim-small-queue");
      assert.equal(info.stored, SMALL, "never more than its limit");
      assert.equal(info.maxMsgs, SMALL);
      assert.ok((await b.queues.depth("lim-producer-queue")) >= FEED - SMALL - 1, "the producer's input waits, unacknowledged");
      await assert.rejects(b.queues.publish("lim-small-queue", encodeEnvelope([event(99, "Direct")]), { msgId: "direct" }),
        (e: unknown) => hasCode(e, ErrorCode.BrokerUnavailable) && /maximum messages exceeded/.test(String(e)));
      assert.equal(p.procs.get("lim-producer")!.child.exitCode, null, "the producer runs on");

      // The other queue has the global limit and takes what comes, consumed as ever.
      await p.inject("lim-big-queue", Array.from({ length: OTHER }, (_, i) => event(i, "Other")), "other");
      await waitFor(() => countLines(big) === OTHER, 60_000, "the other queue's events written");
      assert.equal((await b.queues.info("lim-big-queue")).maxMsgs, GLOBAL_MSGS);

      // intelmqctl shows each queue's fill against its limits.
      const text = await ctl(p, ["list", "queues"]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`^lim-small-queue - ${SMALL} \\(${SMALL} of ${SMALL} messages, [\\d.]+ (B|KiB) of 1\\.0 GiB\\)$`, "m"));
      assert.match(text.stdout, new RegExp(`^lim-big-queue - 0 \\(0 of ${GLOBAL_MSGS} messages, 0 B of 1\\.0 GiB\\)$`, "m"));
      const json = JSON.parse((await ctl(p, ["--type", "json", "list", "queues"])).stdout) as Record<string, {
        source_queue?: [string, number]; queue_fill: Record<string, { messages: number; bytes: number; max_msgs: number | null; max_bytes: number | null }>;
      }>;
      assert.deepEqual(json["lim-small"]!.source_queue, ["lim-small-queue", SMALL]);
      const fill = json["lim-producer"]!.queue_fill["lim-small-queue"]!;
      assert.equal(fill.messages, SMALL);
      assert.equal(fill.max_msgs, SMALL);
      assert.equal(fill.max_bytes, 1024 ** 3);
      assert.ok(fill.bytes > 0);
      assert.deepEqual(json["lim-small"]!.queue_fill["lim-small-queue"], fill, "the same queue, seen from its reader");

      // The consumer drains the small queue: the producer finishes its input, each event arrives once.
      p.start("lim-small");
      await waitFor(() => countLines(small) >= FEED, 120_000, "every event through the small queue");
      await waitFor(async () => (await b.queues.depth("lim-producer-queue")) === 0, 30_000, "the producer's input all acknowledged");
      await waitFor(async () => (await b.queues.depth("lim-small-queue")) === 0, 30_000, "the small queue drained");
      await sleep(1000);
      const got = events(small).map((e) => e["source.ip"]);
      assert.equal(got.length, FEED, "nothing twice");
      assert.deepEqual([...new Set(got)].sort(), Array.from({ length: FEED }, (_, i) => `198.51.100.${i + 1}`).sort(), "nothing lost");
      assert.ok(events(small).every((e) => e["classification.taxonomy"] === "information-gathering"), "each went through the producer");
      assert.equal(countLines(big), OTHER);
      assert.deepEqual(await b.dumps.read("lim-producer"), [], "nothing was given up on");

      // runtime.yaml raises the small queue's limit: the reader's reload applies it to the stream.
      p.writeConfig(bots(SMALL + 5), { queue_max_msgs: GLOBAL_MSGS });
      p.procs.get("lim-small")!.child.kill("SIGHUP");
      await waitFor(async () => (await b.queues.info("lim-small-queue")).maxMsgs === SMALL + 5, 30_000, "the raised limit on the stream");

      // Without a reload: intelmqctl check says the stream differs, check --fix applies runtime.yaml.
      p.writeConfig(bots(SMALL + 10), { queue_max_msgs: GLOBAL_MSGS });
      const checked = await ctl(p, ["check"]);
      assert.match(checked.stdout, new RegExp(`WARNING: Queue 'lim-small-queue' has max_bytes \\d+, max_msgs ${SMALL + 5}; runtime.yaml says \\d+, ${SMALL + 10}:.*check --fix`));
      assert.equal((await b.queues.info("lim-small-queue")).maxMsgs, SMALL + 5, "check alone changes nothing");
      const fixed = await ctl(p, ["check", "--fix"]);
      assert.match(fixed.stdout, /INFO: Queue 'lim-small-queue' has .*: updated\./);
      assert.equal((await b.queues.info("lim-small-queue")).maxMsgs, SMALL + 10);
    } finally {
      await p.close();
    }
  });
});
