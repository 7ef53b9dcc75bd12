// SPDX-License-Identifier: AGPL-3.0-only
/** exportEventLine (bytes without a string) against exportEventText, IntelMQ's export_event. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ByteSink, messageFromDict, type Event } from "../message/index.js";
import { exportEventLine, exportEventText, outputParams } from "./output-options.js";
import { z } from "zod";

const defaults = z.object(outputParams).parse({});
const ev = (d: Record<string, unknown>) => messageFromDict({ __type: "Event", ...d }) as Event;

test("exportEventLine writes exactly exportEventText's line, or nothing when the event does not write as ASCII", () => {
  const events: [Record<string, unknown>, boolean][] = [
    [{ "source.ip": "192.0.2.1", "source.port": 80, "feed.name": "Feed", raw: "bGluZQ==" }, true],
    [{ "feed.accuracy": 50, "source.asn": 64496, "event_description.text": 'say "hi"\\ now\nand\ttab' }, true],
    [{ "extra.tags": ["a", "b"], "extra.nested": { z: 1, a: [true, null] }, "extra.float": 1.5 }, true],
    [{ "event_description.text": "\u00fcber" }, false],
    [{ "extra.name": { k: "\u4e2d" } }, false],
    [{ "event_description.text": "del\u007f" }, false],
    [{ "event_description.text": "control\u0001" }, true],
  ];
  const sink = new ByteSink(16);
  for (const [d, fast] of events) {
    const before = sink.length;
    const expected = exportEventText(ev(d), defaults) + "\n";
    const wrote = exportEventLine(ev(d), defaults, sink);
    assert.equal(wrote, fast, JSON.stringify(d));
    if (wrote) assert.equal(sink.bytes().subarray(before).toString("utf8"), expected);
    else assert.equal(sink.length, before, "nothing written");
  }
  // Options that change the text take the text path.
  for (const o of [{ single_key: "source.ip" }, { hierarchical_output: true }, { message_with_type: true }]) {
    assert.equal(exportEventLine(ev({ "source.ip": "192.0.2.1" }), z.object(outputParams).parse(o), sink), false);
  }
  // keep_raw_field keeps raw; by default it is dropped from the event, as export_event does.
  const kept = new ByteSink();
  assert.ok(exportEventLine(ev({ raw: "bGluZQ==" }), z.object(outputParams).parse({ keep_raw_field: true }), kept));
  assert.equal(kept.bytes().toString(), '{"raw": "bGluZQ=="}\n');
  const e = ev({ raw: "bGluZQ==", "source.port": 1 });
  assert.ok(exportEventLine(e, defaults, new ByteSink()));
  assert.equal(e.has("raw"), false);
});
