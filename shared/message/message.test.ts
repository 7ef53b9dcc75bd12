// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { unpack } from "msgpackr";
import { Event, Report, decodeEnvelope, encodeChunk, encodeEnvelope, envelopeChunks, joinChunks, messageFromDict, newEvent } from "./index.js";

const name = (e: unknown) => (e as { intelmqName?: string }).intelmqName;

const wire = {
  "feed.accuracy": 100, "feed.name": "Bench Feed", "feed.url": "https://feeds.example.org/bench.csv",
  "time.observation": "2024-09-16T10:00:00+00:00", "source.ip": "184.15.15.183", "source.fqdn": "api93.raven-pixel.cn",
  "source.url": "https://api93.raven-pixel.cn/maple/00000000.exe", "time.source": "2024-09-09T17:42:00+00:00",
  "classification.type": "c2-server", "malware.name": "formbook", "source.port": 36845, "source.asn": 289785,
  "raw": "MTg0LjE1LjE1LjE4Mwo=", "classification.taxonomy": "malicious-code", "__type": "Event",
};

test("messageFromDict: valid events pass unchanged, others are sanitized, failures carry the dict", () => {
  const ev = messageFromDict(wire);
  assert.ok(ev instanceof Event);
  assert.deepEqual(ev.serialize(), wire);
  assert.equal(ev.size, 14);
  const s = messageFromDict({ "source.port": "80", "source.asn": "AS64496", "time.source": "2019-07-01 15:15:15", "__type": "Event" });
  assert.deepEqual(s.toDict(), { "source.port": 80, "source.asn": 64496, "time.source": "2019-07-01T15:15:15+00:00" });
  const bad = { "source.asn": "foo", "__type": "Event" };
  assert.throws(() => messageFromDict(bad), (e: unknown) => name(e) === "InvalidValue" && (e as { object: unknown }).object === bad);
  assert.throws(() => messageFromDict({ "source.foo": "x", "__type": "Event" }), (e) => name(e) === "InvalidKey");
  assert.throws(() => messageFromDict({ "source.ip": "1.2.3.4" }), (e) => name(e) === "DecodingError");
  assert.throws(() => messageFromDict({ "__type": "Message" }), (e) => name(e) === "InvalidArgument");
  assert.ok(messageFromDict({ "raw": "eA==" }, { defaultType: "Report" }) instanceof Report);
  assert.equal(messageFromDict({ "__type": "Report" }).has("time.observation"), false, "deserialised reports get no time.observation");
  // ignored values and an unknown key with an ignored value are skipped, as IntelMQ does
  assert.equal(messageFromDict({ "source.ip": "-", "nonsense": "", "__type": "Event" }).size, 0);
});

test("new Report gets time.observation unless told not to", () => {
  assert.match(new Report().get("time.observation") as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
  assert.equal(new Report(null, { autoObservation: false }).has("time.observation"), false);
  assert.equal(new Event().has("time.observation"), false);
});

test("add: overwrite and ignore rules", () => {
  const e = new Event();
  assert.equal(e.add("source.ip", "192.0.2.1"), true);
  assert.throws(() => e.add("source.ip", "192.0.2.2"), (x) => name(x) === "KeyExists");
  assert.equal(e.add("source.ip", "192.0.2.2", { overwrite: false }), false);
  assert.equal(e.get("source.ip"), "192.0.2.1");
  assert.equal(e.add("source.ip", "192.0.2.2", { overwrite: true }), true);
  assert.equal(e.add("source.ip", "N/A", { overwrite: true }), null);
  assert.equal(e.has("source.ip"), false, "an ignored value with overwrite deletes the key");
  assert.equal(e.add("source.port", 0, { ignore: [0] }), null);
  assert.equal(e.add("source.port", "x", { raiseFailure: false }), false);
  assert.throws(() => e.add("source.port", "x"), (x) => name(x) === "InvalidValue");
  assert.throws(() => e.add("source.nope", "x"), (x) => name(x) === "InvalidKey");
  assert.throws(() => e.change("source.asn", 1), (x) => name(x) === "KeyNotExists");
  e.update({ "source.asn": "AS1", "source.port": 80 });
  assert.deepEqual(e.toDict(), { "source.asn": 1, "source.port": 80 });
  assert.equal(e.isValid("source.asn", "AS5"), true);
  assert.equal(e.isValid("source.asn", "AS5", false), false);
});

test("extra: split on add, nested JSON on get, any sub-key for has, all removed by delete", () => {
  const e = new Event();
  e.add("extra", { b: 1, a: { x: 2 }, empty: "" });
  assert.deepEqual(e.keys(), ["extra.a", "extra.b", "extra.empty"], "sanitized dicts are key-sorted");
  assert.equal(e.get("extra"), '{"a": {"x": 2}, "b": 1, "empty": ""}');
  assert.equal(e.has("extra"), true);
  assert.throws(() => e.add("extra", '{"c": 1}'), (x) => name(x) === "KeyExists");
  e.add("extra", '{"c": 1}', { overwrite: true });
  assert.deepEqual(e.toDict(), { "extra.c": 1 });
  e.add("extra.deep.key", ["v"]);
  assert.deepEqual(e.toDict({ hierarchical: true }), { extra: { c: 1, deep: { key: ["v"] } } });
  assert.deepEqual(e.toDict({ jsondictAsString: true }), { extra: '{"c": 1, "deep.key": ["v"]}' });
  assert.equal(e.delete("extra"), true);
  assert.equal(e.size, 0);
  assert.equal(e.get("extra", "none"), "none");
  assert.throws(() => e.add("extra.foo-", 1), (x) => name(x) === "InvalidKey");
  assert.throws(() => e.add("source.ip.sub", "1"), (x) => name(x) === "InvalidKey", "only JSONDict fields have sub-keys");
});

test("hash: as IntelMQ's (Python repr, sorted keys, time.observation left out)", () => {
  const e = new Event();
  e.add("feed.accuracy", 100);
  e.add("source.port", 80);
  e.add("source.ip", "192.0.2.1");
  e.add("extra.list", [1, "a", null, true, 2.5]);
  e.add("extra.d", { k: "it's", n: null });
  e.add("time.observation", "2024-01-01T00:00:00+00:00");
  e.add("source.tor_node", false);
  e.add("comment", "Grüße\n", { sanitize: false });
  // computed with Python over the same dict (feed.accuracy as the float 100.0)
  assert.equal(e.hash(), "1c6ed3db98cd876f4dc799d8a889e1a863296a958b040eceffe79a0d051d7ab4");
  const f = e.copy();
  f.change("time.observation", "2025-01-01T00:00:00+00:00");
  assert.equal(f.hash(), e.hash());
  assert.notEqual(e.hash({ filterKeys: ["comment"] }), e.hash());
  assert.equal(e.hash({ filterKeys: ["source.ip"], filterType: "whitelist" }), messageFromDict({ "source.ip": "192.0.2.1", "__type": "Event" }).hash());
  assert.throws(() => e.hash({ filterType: "x" as "blacklist" }), (x) => name(x) === "InvalidArgument");
  // integers as their digits: negative, zero, the largest safe one (Python's repr, computed there)
  const ints = messageFromDict({ __type: "Event", "extra.neg": -42, "source.asn": 64496, "source.port": 0, "extra.big": 9007199254740991 });
  assert.equal(ints.hash(), "6a8c6d755872245408bd99f45b757befc8785aadd3742324dda7d90d4093791e");
  // the same filter set, changed between calls, and other key sets in turn: each hash as if alone
  const filter = new Set(["comment"]);
  const without = e.hash({ filterKeys: filter });
  filter.delete("comment");
  filter.add("source.ip");
  assert.equal(e.hash({ filterKeys: filter }), e.hash({ filterKeys: ["source.ip"] }));
  assert.notEqual(e.hash({ filterKeys: filter }), without);
  filter.clear();
  assert.equal(e.hash({ filterKeys: filter }), e.hash());
  for (let i = 0; i < 3; i++) {
    assert.equal(ints.hash(), "6a8c6d755872245408bd99f45b757befc8785aadd3742324dda7d90d4093791e");
    assert.equal(e.hash(), "1c6ed3db98cd876f4dc799d8a889e1a863296a958b040eceffe79a0d051d7ab4");
  }
});

test("toJson: sorted keys, floats as Python prints them", () => {
  const e = new Event();
  e.add("feed.accuracy", 100);
  e.add("source.geolocation.latitude", 1.5);
  e.add("comment", "Grüße");
  assert.equal(e.toJson(), '{"comment": "Grüße", "feed.accuracy": 100.0, "source.geolocation.latitude": 1.5}');
  assert.equal(e.toJson({ hierarchical: true, withType: true }),
    '{"__type": "Event", "comment": "Grüße", "feed": {"accuracy": 100.0}, "source": {"geolocation": {"latitude": 1.5}}}');
  assert.equal(e.serializeJson(), '{"feed.accuracy": 100.0, "source.geolocation.latitude": 1.5, "comment": "Gr\\u00fc\\u00dfe", "__type": "Event"}');
});

test("newEvent copies feed fields, rtir_id, time.observation and copyFields", () => {
  const r = new Report();
  r.add("feed.name", "Feed");
  r.add("feed.accuracy", 90);
  r.add("feed.url", "https://example.com/f.csv");
  r.add("raw", "a,b");
  r.add("extra.file_name", "f.csv");
  r.add("extra.other", 1);
  const e = newEvent(r, { copyFields: ["extra.file_name"] });
  assert.deepEqual(Object.keys(e.toDict()).sort(), ["extra.file_name", "feed.accuracy", "feed.name", "feed.url", "time.observation"]);
  assert.equal(e.get("time.observation"), r.get("time.observation"));
  const back = new Report(e);
  assert.deepEqual(Object.keys(back.toDict()).sort(), ["extra.file_name", "feed.accuracy", "feed.name", "feed.url", "time.observation"]);
});

test("envelopes: msgpack any reader can decode, JSON one object or an array, DecodingError on garbage", () => {
  const ev = messageFromDict(wire);
  const bytes = encodeEnvelope([ev, { "raw": "eA==", "__type": "Report" }]);
  assert.deepEqual(unpack(bytes), [wire, { "raw": "eA==", "__type": "Report" }]);
  assert.deepEqual(decodeEnvelope(bytes), [wire, { "raw": "eA==", "__type": "Report" }]);
  const json = new TextEncoder().encode(JSON.stringify(wire));
  assert.deepEqual(decodeEnvelope(json, "application/json"), [wire]);
  assert.deepEqual(decodeEnvelope(new TextEncoder().encode(`[${JSON.stringify(wire)}]`), "application/json; charset=utf-8"), [wire]);
  assert.throws(() => decodeEnvelope(new TextEncoder().encode("{nope"), "application/json"), (x) => name(x) === "DecodingError");
  assert.throws(() => decodeEnvelope(new TextEncoder().encode("[1, 2]"), "application/json"), (x) => name(x) === "DecodingError");
  assert.throws(() => decodeEnvelope(new Uint8Array([0xc1, 0xff, 0x00])), (x) => name(x) === "DecodingError");
  assert.throws(() => decodeEnvelope(new Uint8Array([0x92, 0x01, 0x02])), (x) => name(x) === "DecodingError");
  assert.throws(() => decodeEnvelope(new Uint8Array()), (x) => name(x) === "DecodingError");
});

test("chunked envelopes: chunks decode one by one and together in order; a plain envelope is its own one chunk; bad lengths are a DecodingError", () => {
  const dicts = Array.from({ length: 5 }, (_, i) => ({ ...wire, "source.port": i + 1 }));
  const chunks = [encodeChunk(dicts.slice(0, 2)), encodeChunk(dicts.slice(2, 3)), encodeChunk(dicts.slice(3))];
  const bytes = joinChunks(chunks);
  const views = envelopeChunks(bytes);
  assert.ok(views);
  assert.deepEqual(views.map((c) => decodeEnvelope(c).map((d) => d["source.port"])), [[1, 2], [3], [4, 5]]);
  assert.deepEqual(decodeEnvelope(bytes), dicts);
  // one chunk is a plain envelope, as any msgpack reader reads it
  const one = joinChunks([encodeChunk(dicts)]);
  assert.equal(envelopeChunks(one), null);
  assert.deepEqual(unpack(one), dicts);
  assert.equal(envelopeChunks(encodeEnvelope(dicts)), null);
  assert.throws(() => decodeEnvelope(bytes.subarray(0, bytes.length - 1)), (x) => name(x) === "DecodingError");
  assert.throws(() => envelopeChunks(Buffer.concat([bytes, Buffer.from([0, 0, 0])])), (x) => name(x) === "DecodingError");
  assert.throws(() => envelopeChunks(Buffer.concat([bytes.subarray(0, 4), Buffer.from([0, 0, 0, 0])])), (x) => name(x) === "DecodingError", "an empty chunk");
});

test("raw: sanitized text is encoded and stored; unsanitized base64 is still checked", () => {
  const e = new Event();
  e.add("raw", "line ä,1");
  assert.equal(Buffer.from(String(e.get("raw")), "base64").toString("utf8"), "line ä,1");
  assert.throws(() => e.add("raw", "not base64!", { sanitize: false, overwrite: true }), /invalid value/);
  assert.equal(e.add("raw", "", { overwrite: true }), null, "empty is no value");
  e.add("raw", "bGluZQ==", { sanitize: false, overwrite: true });
  assert.equal(e.get("raw"), "bGluZQ==");
});
