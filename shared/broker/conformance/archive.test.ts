// SPDX-License-Identifier: AGPL-3.0-only
/** The archive of the queues collectors feed, and its replay, the same on the memory broker and on JetStream. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { take, until } from "../testing.js";
import { conformance, dec, enc, qname } from "./harness.js";

conformance("archive", (fx) => {
  test("replay: what an archived queue received comes back, oldest first, once per window, by time range and into another queue", async () => {
    const b = await fx.broker();
    const q = qname("archived");
    const other = qname("replay-into");
    const plain = qname("not-archived");
    await b.queues.ensure(q, { archive: true });
    await b.queues.ensure(plain);
    const big = new Uint8Array(2 * 1024 * 1024).map((_, i) => i % 251);
    await b.queues.publish(q, enc("r1"), { msgId: "c:1", headers: { "Content-Type": "application/json" } });
    await b.queues.publish(q, big, { msgId: "c:2" });
    await b.queues.publish(plain, enc("never archived"));
    await sleep(30);
    const between = new Date();
    await sleep(30);
    await b.queues.publish(q, enc("r3"), { msgId: "c:3" });
    // Processed and gone from the queue; the archive keeps them.
    const sub = await b.queues.consume(q);
    for (const d of await take(sub[Symbol.asyncIterator](), 3)) await d.ack();
    await sub.stop();
    await until(async () => (await b.queues.depth(q)) === 0, 5000, "the queue to drain");

    const dry = await b.archive.replay(q, { until: between, dryRun: true });
    assert.equal(dry.replayed, 2);
    assert.equal(await b.queues.depth(q), 0, "a dry run publishes nothing");

    const progress: number[] = [];
    const all = await b.archive.replay(q, { onProgress: (r) => progress.push(r.replayed + r.duplicates + r.missing) });
    assert.deepEqual([all.replayed, all.duplicates, all.missing], [3, 0, 0]);
    assert.deepEqual(progress.sort((x, y) => x - y), [1, 2, 3], "one progress call per message, counting up to the total");
    assert.ok(all.firstSeq !== null && all.lastSeq !== null && all.lastSeq > all.firstSeq);
    assert.equal(await b.queues.depth(q), 3);
    const again = await b.archive.replay(q);
    assert.deepEqual([again.replayed, again.duplicates], [0, 3], "the same replay within the duplicate window adds nothing");
    assert.equal(await b.queues.depth(q), 3);

    const sub2 = await b.queues.consume(q);
    const got = await take(sub2[Symbol.asyncIterator](), 3);
    assert.equal(dec(got[0]!.data), "r1");
    assert.equal(got[0]!.headers["Content-Type"], "application/json", "the original headers travel along");
    assert.equal(got[0]!.headers["Intelmq-Replay"], String(all.firstSeq));
    assert.deepEqual(got[1]!.data, big, "large payloads are replayed too");
    assert.equal(dec(got[2]!.data), "r3");
    for (const d of got) await d.ack();
    await sub2.stop();

    const late = await b.archive.replay(q, { since: between, target: other });
    assert.equal(late.target, other);
    assert.equal(late.replayed, 1);
    const sub3 = await b.queues.consume(other);
    assert.deepEqual((await take(sub3[Symbol.asyncIterator](), 1)).map((d) => dec(d.data)), ["r3"]);
    await sub3.stop();

    assert.equal((await b.archive.replay(plain)).replayed, 0, "a queue without archiving has nothing to replay");
  });
});
