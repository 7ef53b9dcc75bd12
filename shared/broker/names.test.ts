// SPDX-License-Identifier: AGPL-3.0-only
import assert from "node:assert/strict";
import { test } from "node:test";
import { ErrorCode, hasCode } from "../errors/index.js";
import {
  checkServerVersion, compareVersions, ghostPurgeSeq, parseServerVersion, queueStream, queueSubject, serverHas,
} from "./index.js";

test("server versions parse", () => {
  assert.deepEqual(parseServerVersion("2.9.10"), [2, 9, 10]);
  assert.deepEqual(parseServerVersion("v2.11.0-beta.2"), [2, 11, 0]);
  assert.deepEqual(parseServerVersion("2.10"), [2, 10, 0]);
  assert.equal(parseServerVersion("nats"), null);
  assert.ok(compareVersions("2.10.0", "2.9.10") > 0);
  assert.ok(compareVersions("2.9.9", "2.9.10") < 0);
  assert.equal(compareVersions("v2.9.0", "2.9.0"), 0);
  assert.equal(serverHas("2.9.10", "2.10.0"), false);
  assert.equal(serverHas("2.11.1", "2.10.0"), true);
});

test("servers older than 2.9.0 are refused with UnsupportedFeatureError", () => {
  checkServerVersion("2.9.0");
  checkServerVersion("2.9.10");
  checkServerVersion("2.12.0");
  for (const v of ["2.8.4", "2.2.0", "1.4.1", "", "unknown"]) {
    assert.throws(() => checkServerVersion(v), (e: unknown) => hasCode(e, ErrorCode.UnsupportedFeature), v);
  }
});

test("queue names map to valid, distinct stream names and subjects", () => {
  assert.equal(queueStream("file-output-queue"), "Q_file-output-queue");
  assert.equal(queueSubject("file-output-queue"), "intelmq.queue.file-output-queue");
  const odd = ["a.b", "a b", "a*b", "a>b", "a/b"];
  const names = odd.map(queueStream);
  for (const n of names) assert.match(n, /^Q_[A-Za-z0-9_-]+$/);
  assert.equal(new Set(names).size, odd.length);
});

test("ghost purge: only below the ack floor, only with the queue's own consumer", () => {
  const subject = "intelmq.queue.q";
  const check = (messages: number, first: number, floor: number, consumers = 1, filter?: string) =>
    ghostPurgeSeq({
      stream: { messages, first_seq: first, consumer_count: consumers },
      consumer: { ack_floor: { stream_seq: floor }, config: filter ? { filter_subject: filter } : {} },
      subject,
    });
  assert.equal(check(3, 5, 7), 8);
  assert.equal(check(3, 8, 7), null, "nothing at or below the floor");
  assert.equal(check(0, 8, 7), null, "empty stream");
  assert.equal(check(3, 1, 0), null, "nothing acked");
  assert.equal(check(3, 5, 7, 2), null, "another consumer");
  assert.equal(check(3, 5, 7, 1, "intelmq.queue.other"), null, "a consumer reading another subject");
  assert.equal(check(3, 5, 7, 1, subject), 8);
});
