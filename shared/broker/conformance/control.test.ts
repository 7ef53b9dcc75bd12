// SPDX-License-Identifier: AGPL-3.0-only
/** The control plane's request/reply, the same on the memory broker and on JetStream. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ErrorCode, hasCode } from "../../errors/index.js";
import { conformance, dec, enc, next } from "./harness.js";

conformance("control", (fx) => {
  test("request/reply: every server of a subject answers requestMany, one answers request", async () => {
    const a = await fx.broker();
    const b = await fx.broker();
    const subject = `intelmq.control.test.${process.pid}.${next()}.status`;
    const s1 = await a.control.serve(subject, (d) => enc(`one:${dec(d)}`));
    const s2 = await b.control.serve(subject.replace(/\.status$/, ".*"), (d, subj) => enc(`two:${dec(d)}:${subj.split(".").pop()}`));
    const failing = await a.control.serve(subject, () => { throw new Error("no answer from me"); });
    const many = (await a.control.requestMany(subject, enc("x"), 300)).map(dec).sort();
    assert.deepEqual(many, ["one:x", "two:x:status"]);
    assert.match(dec(await b.control.request(subject, enc("y"), 2000)), /^(one:y|two:y:status)$/);
    await s1.stop(); await s2.stop(); await failing.stop();
    assert.deepEqual(await a.control.requestMany(subject, enc("z"), 200), [], "nobody answers any more");
    await assert.rejects(a.control.request(subject, enc("z"), 200), (e: unknown) => hasCode(e, ErrorCode.BrokerUnavailable));
  });
});
