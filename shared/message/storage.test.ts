// SPDX-License-Identifier: AGPL-3.0-only
// The message storage: adopted wire dicts, removed items, the flat JSON written without a dict in between.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { unpack } from "msgpackr";
import { PyFloat, createHarmonization, pyJsonDumps, pyRepr, type Harmonization } from "../harmonization/index.js";
import { Event, decodeEnvelope, encodeEnvelope, getDefaultHarmonization, messageFromDict, newEvent, Report } from "./index.js";

const dict = () => ({
  "__type": "Event", "feed.accuracy": 87.5, "feed.name": "Feed \"quoted\" é", "source.ip": "192.0.2.1", "source.port": 443,
  "extra.list": [1, "ä", { b: 2, a: 1 }], "extra.flag": true, "extra.none": null, "raw": "eA==", "comment": "line\nbreak \ud800 lone",
});

test("a trusted wire dict becomes the storage; changes go out in the same envelope shape, removed items do not", () => {
  const d = dict();
  delete (d as Record<string, unknown>)["extra.none"]; // our encoder never writes empty values
  const [wired] = decodeEnvelope(encodeEnvelope([d]));
  const ev = messageFromDict(wired!, { trusted: true });
  ev.add("source.asn", 64496);
  ev.delete("raw");
  ev.change("source.port", 80);
  assert.equal(ev.has("raw"), false);
  assert.equal(ev.get("raw"), undefined);
  assert.equal(ev.keys().includes("raw"), false);
  assert.equal(ev.size, 8);
  const out = unpack(encodeEnvelope([ev])) as Record<string, unknown>[];
  assert.equal(Object.keys(out[0]!)[0], "__type", "__type leads, as the receiver's adoption expects");
  assert.equal("raw" in out[0]!, false);
  assert.deepEqual(out[0], { ...ev.serialize() });
  // inherited names are no items
  assert.equal(ev.has("constructor"), false);
  assert.equal(ev.get("toString", "absent"), "absent");
  // the copy does not share the storage
  const c = ev.copy();
  c.add("raw", "eQ==", { sanitize: false });
  assert.equal(ev.has("raw"), false);
  assert.equal(c.get("raw"), "eQ==");
});

test("a wire dict not shaped as our storage (empty values, __type last) is copied, not adopted", () => {
  const d: Record<string, unknown> = { "source.ip": "192.0.2.1", "extra.none": null, "__type": "Event" };
  const ev = messageFromDict(d, { trusted: true });
  ev.add("source.port", 1);
  assert.deepEqual(d, { "source.ip": "192.0.2.1", "extra.none": null, "__type": "Event" }, "the dict is left as it was");
  assert.deepEqual(ev.toDict(), { "source.ip": "192.0.2.1", "source.port": 1 });
});

test("flat to_json written from the storage equals json.dumps of the dict (floats, unicode, nesting, lone surrogates, __type)", () => {
  const d = dict();
  delete (d as Record<string, unknown>)["extra.none"];
  const ev = messageFromDict(d, { trusted: true });
  for (const withType of [false, true]) {
    const viaDict = ev.toDict({ withType });
    viaDict["feed.accuracy"] = new PyFloat(viaDict["feed.accuracy"] as number);
    assert.equal(ev.toJson({ withType }), pyJsonDumps(viaDict, { ensureAscii: false, sortKeys: true }));
  }
  assert.match(ev.toJson(), /"feed.accuracy": 87.5, /);
  const whole = messageFromDict({ "__type": "Event", "feed.accuracy": 100 });
  assert.equal(whole.toJson(), '{"feed.accuracy": 100.0}');
});

test("events of one report share its validated fields until the report changes", () => {
  const r = new Report({ "feed.name": "A", "feed.url": "http://a.example/x", "raw": "eA==" });
  const a = newEvent(r), b = newEvent(r);
  assert.deepEqual(b.toDict(), a.toDict());
  b.add("feed.code", "x");
  assert.equal(newEvent(r).has("feed.code"), false, "an event's change is its own");
  r.change("feed.name", "B");
  assert.equal(newEvent(r).get("feed.name"), "B");
  r.delete("feed.url");
  assert.equal(newEvent(r).has("feed.url"), false);
  assert.ok(newEvent(r) instanceof Event);
});

test("events made without copyFields take the report's fields from the first event, not looked up again", () => {
  const real = getDefaultHarmonization();
  let lookups = 0;
  const counting: Harmonization = {
    table: real.table,
    fields: (kind) => real.fields(kind),
    field: (kind, key) => real.field(kind, key),
    check: (kind, key, value, sanitize) => real.check(kind, key, value, sanitize),
    lookup: (kind) => {
      const l = real.lookup(kind);
      return (key) => { lookups++; return l(key); };
    },
  };
  const r = new Report({ "feed.name": "A", "feed.url": "http://a.example/x", "raw": "eA==" });
  const first = newEvent(r, { harmonization: counting });
  assert.ok(lookups > 0, "the first event validates the report's fields");
  lookups = 0;
  for (let i = 0; i < 3; i++) assert.deepEqual(newEvent(r, { harmonization: counting }).toDict(), first.toDict());
  assert.equal(lookups, 0);
});

test("hash() over items larger than its reused buffer equals the hash of IntelMQ's bytes", async () => {
  const { createHash } = await import("node:crypto");
  const long = "ü".repeat(20_000) + "x".repeat(9_000);
  const ev = messageFromDict({ "__type": "Event", "comment": long, "source.port": 80, "time.observation": "2024-01-01T00:00:00+00:00" });
  const sep = Buffer.from([0xc0]);
  const bytes = Buffer.concat([Buffer.from("comment"), sep, Buffer.from(`'${long}'`), sep, Buffer.from("source.port"), sep, Buffer.from("80"), sep]);
  const expected = createHash("sha256").update(bytes).digest("hex");
  assert.equal(ev.hash(), expected);
  assert.equal(messageFromDict({ "__type": "Event", "source.port": 80 }).hash(), createHash("sha256").update(Buffer.concat([Buffer.from("source.port"), sep, Buffer.from("80"), sep])).digest("hex"));
  assert.equal(ev.hash(), expected, "the same again after the buffer grew");
});

test("hash(): a key of extra holding a NUL, and the same keys in another order, hash as IntelMQ's bytes", async () => {
  const { createHash } = await import("node:crypto");
  const sep = Buffer.from([0xc0]);
  const bytesOf = (pairs: [string, string][]) => Buffer.concat(pairs.flatMap(([k, r]) => [Buffer.from(k), sep, Buffer.from(r), sep]));
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const nul = messageFromDict({ "__type": "Event", "source.port": 80 });
  nul.add("extra", JSON.stringify({ "a\u0000b": "x" }));
  assert.ok(nul.has("extra.a\u0000b"), "a key of extra is any JSON key");
  assert.equal(nul.hash(), sha(bytesOf([["extra.a\u0000b", "'x'"], ["source.port", "80"]])));
  // the sorted keys of the last event are reused only for the same keys in the same order
  const a = messageFromDict({ "__type": "Event", "source.port": 80, "source.asn": 1 });
  const b = messageFromDict({ "__type": "Event", "source.asn": 1, "source.port": 80 });
  const c = messageFromDict({ "__type": "Event", "source.asn": 1, "source.ip": "192.0.2.1" });
  const expectedAb = sha(bytesOf([["source.asn", "1"], ["source.port", "80"]]));
  assert.equal(a.hash(), expectedAb);
  assert.equal(b.hash(), expectedAb);
  assert.equal(c.hash(), sha(bytesOf([["source.asn", "1"], ["source.ip", "'192.0.2.1'"]])));
  assert.equal(a.hash(), expectedAb);
});

test("hash(): strings with quotes, escapes, non-ASCII and astral characters, numbers and JSON values hash as IntelMQ's reprs", async () => {
  const { createHash } = await import("node:crypto");
  const { pyRepr } = await import("../harmonization/index.js");
  const values: Record<string, unknown> = {
    "a": "it's", "b": 'say "hi"', "c": "back\\slash", "d": "tab\there", "e": "grüße",
    "f": "smile 😀", "g": 1.5, "h": true, "i": { "x": [1, "y"] }, "j": "plain text", "k": 7,
  };
  const ev = messageFromDict({ "__type": "Event", "source.port": 80 });
  ev.add("extra", JSON.stringify(values));
  const sep = Buffer.from([0xc0]);
  const keys = ["source.port", ...Object.keys(values).map((k) => `extra.${k}`)].sort();
  const bytes = Buffer.concat(keys.flatMap((k) => [Buffer.from(k), sep, Buffer.from(pyRepr(ev.get(k))), sep]));
  assert.equal(ev.hash(), createHash("sha256").update(bytes).digest("hex"));
});

test("fields read and write the storage by accessors of their own; an inherited name is an item only once added", () => {
  const h = createHarmonization({
    event: { "constructor": { type: "String" }, "to_string": { type: "String" }, "source.ip": { type: "IPAddress" }, "extra": { type: "JSONDict" } },
  });
  const ev = new Event(null, { harmonization: h });
  for (const key of ["constructor", "to_string"]) {
    assert.equal(ev.has(key), false);
    assert.equal(ev.add(key, "x", { overwrite: false }), true, `${key} is absent before it is added`);
    assert.throws(() => ev.add(key, "y"), (e: { intelmqName?: string }) => e.intelmqName === "KeyExists");
    assert.equal(ev.add(key, "y", { overwrite: true }), true);
    assert.equal(ev.get(key), "y");
  }
  ev.add("source.ip", "192.0.2.1");
  ev.add("extra", '{"a": 1}');
  assert.throws(() => ev.add("source.ip", "192.0.2.2"), (e: { intelmqName?: string }) => e.intelmqName === "KeyExists");
  assert.deepEqual(ev.keys(), ["constructor", "to_string", "source.ip", "extra.a"]);
});

test("where code cannot be made from text, messages work by the shared accessors", () => {
  const index = new URL("./index.js", import.meta.url).href;
  const script = `
    const { Event, encodeEnvelope, decodeEnvelope } = await import(${JSON.stringify(index)});
    const ev = new Event();
    ev.add("source.ip", "192.0.2.1");
    ev.add("source.port", 443);
    let exists = false;
    try { ev.add("source.port", 80); } catch (e) { exists = e.intelmqName === "KeyExists"; }
    process.stdout.write(JSON.stringify({ exists, items: decodeEnvelope(encodeEnvelope([ev]))[0] }));`;
  const out = execFileSync(process.execPath, ["--disallow-code-generation-from-strings", "--input-type=module", "-e", script], { encoding: "utf8" });
  assert.deepEqual(JSON.parse(out), { exists: true, items: { __type: "Event", "source.ip": "192.0.2.1", "source.port": 443 } });
});

test("hash() of random values equals the hash of IntelMQ's bytes, whichever way they are written", async () => {
  const { createHash } = await import("node:crypto");
  const sep = Buffer.from([0xc0]);
  const pieces = ["a", "Z", " ", "0", "'", '"', "\\", "ü", "\u0000", "\u007f", "\t", "€", "x".repeat(40), "\u00c0"];
  let seed = 5;
  const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 16) % n; };
  const text = () => Array.from({ length: 1 + rand(4) }, () => pieces[rand(rand(3) ? 4 : pieces.length)]).join("");
  let plain = 0;
  for (let k = 0; k < 400; k++) {
    const items: Record<string, unknown> = { "__type": "Event", "comment": text(), "source.port": rand(65536), "source.asn": rand(5) ? 1 + rand(4_000_000) : 64496 };
    if (rand(3) === 0) items["feed.accuracy"] = rand(2) ? 100 : 87.5;
    if (rand(2)) items["feed.name"] = text();
    const ev = messageFromDict(items);
    if (rand(3) === 0) {
      // a key of extra is any JSON key: the non-ASCII one is written byte by byte
      const key = rand(4) ? "count" : "zähler", value = rand(2) ? -rand(1000) : rand(2) === 0;
      ev.add("extra", JSON.stringify({ [key]: value }));
      items[`extra.${key}`] = value;
    }
    const keys = Object.keys(items).filter((key) => key !== "__type").sort();
    const bytes = Buffer.concat(keys.flatMap((key) => [Buffer.from(key), sep, Buffer.from(pyRepr(items[key], key === "feed.accuracy")), sep]));
    assert.equal(ev.hash(), createHash("sha256").update(bytes).digest("hex"), JSON.stringify(items));
    if (/^[ -~]*$/.test(bytes.toString("latin1").replaceAll("\u00c0", "")) && !/['"\\]/.test(String(items["comment"]))) plain++;
  }
  assert.ok(plain > 50, `${plain} events of plain values among the cases`);
});
