// SPDX-License-Identifier: AGPL-3.0-only
/** The sieve expert through the runtime: each operator and action, nesting, paths, several files. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { runBot } from "../../../shared/sdk/index.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { dumpReason } from "../../../test/helpers/dumps.js";
import { src } from "../../../test/helpers/paths.js";
import bot from "./index.js";

const OBS = "2017-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown> = {}) => ({ __type: "Event", "time.observation": OBS, "source.ip": "127.0.0.1", ...fields });
const dir = tempDir("sieve-");
let n = 0;

function sieveFile(text: string): string {
  const file = join(dir, `rules-${++n}.sieve`);
  writeFileSync(file, text);
  return file;
}

function run(rules: string | string[], input: Record<string, unknown>[], destinationPaths = ["_default"], log?: pino.Logger) {
  const file = Array.isArray(rules) ? rules.map(sieveFile) : sieveFile(rules);
  return runBot(bot, { params: { file }, input, destinationPaths, ...(log ? { log } : {}) });
}

/** The comment each event leaves with (null: dropped) under one rule `if <cond> { add! comment = 'hit' }`. */
async function hits(cond: string, events: Record<string, unknown>[]): Promise<boolean[]> {
  const out = await run(`if ${cond} { add! comment = 'hit' }`, events.map((e) => ev(e)));
  assert.equal(out.dumped, 0, JSON.stringify(out.dumps));
  return (out.output._default ?? []).map((m) => m.comment === "hit");
}

test("sieve: string operators ==, !=, :contains, =~, !~ (a missing key matches only != and !~)", async () => {
  const fqdn = [{ "source.fqdn": "www.example.com" }, { "source.fqdn": "mail.example.org" }, {}];
  assert.deepEqual(await hits("source.fqdn == 'www.example.com'", fqdn), [true, false, false]);
  assert.deepEqual(await hits("source.fqdn != 'www.example.com'", fqdn), [false, true, true]);
  assert.deepEqual(await hits("source.fqdn :contains '.org'", fqdn), [false, true, false]);
  assert.deepEqual(await hits("source.fqdn =~ '^www\\.'", fqdn), [true, false, false]);
  assert.deepEqual(await hits("source.fqdn !~ '^www\\.'", fqdn), [false, true, true]);
  // non-strings: == compares values (123 is not '123'); the others see Python's str() or JSON for dicts
  assert.deepEqual(await hits("source.asn == '123'", [{ "source.asn": 123 }]), [false]);
  assert.deepEqual(await hits("source.asn :contains '12'", [{ "source.asn": 123 }]), [true]);
  assert.deepEqual(await hits("feed.accuracy =~ '^100\\.0$'", [{ "feed.accuracy": 100 }]), [true]);
  assert.deepEqual(await hits("extra.d =~ '\"key\": \\[\\]'", [{ "extra.d": { key: [] } }]), [true]);
  assert.deepEqual(await hits("extra.flag :contains 'True'", [{ "extra.flag": true }]), [true]);
});

test("sieve: string lists :in, :containsany, :regexin", async () => {
  const types = [{ "classification.type": "c2-server" }, { "classification.type": "infected-system" }, {}];
  assert.deepEqual(await hits("classification.type :in ['c2-server', 'malware-configuration']", types), [true, false, false]);
  const hosts = [{ "source.fqdn": "a.example.mx" }, { "source.fqdn": "b.example.com" }];
  assert.deepEqual(await hits("source.fqdn :containsany ['.mx', '.zz']", hosts), [true, false]);
  assert.deepEqual(await hits("source.fqdn :regexin ['com$', '^x']", hosts), [false, true]);
  // str.find() of a number is an error of the event, as in IntelMQ
  const out = await run("if source.asn :containsany ['1'] { drop }", [ev({ "source.asn": 123 })]);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /AttributeError: 'int' object has no attribute 'find'/);
});

test("sieve: numeric operators and :in on numbers", async () => {
  const acc = [{ "feed.accuracy": 50 }, { "feed.accuracy": 90 }, { "feed.accuracy": 100 }, {}];
  assert.deepEqual(await hits("feed.accuracy == 90", acc), [false, true, false, false]);
  assert.deepEqual(await hits("feed.accuracy != 90.0", acc), [true, false, true, false]);
  assert.deepEqual(await hits("feed.accuracy < 90", acc), [true, false, false, false]);
  assert.deepEqual(await hits("feed.accuracy <= 90", acc), [true, true, false, false]);
  assert.deepEqual(await hits("feed.accuracy > 90", acc), [false, false, true, false]);
  assert.deepEqual(await hits("feed.accuracy >= 9e1", acc), [false, true, true, false]);
  assert.deepEqual(await hits("destination.asn :in [20965, 6939, 8220]", [{ "destination.asn": 6939 }, { "destination.asn": 1 }]), [true, false]);
});

test("sieve: IP ranges with <<, single and lists, IPv6, host bits; an unparsable address warns and does not match", async () => {
  const ips = [{ "source.ip": "192.0.0.1" }, { "source.ip": "169.254.3.1" }, { "source.ip": "8.8.8.8" }, { "source.ip": "2001:620:0:ff::56" }];
  assert.deepEqual(await hits("source.ip << '192.0.0.0/24'", ips), [true, false, false, false]);
  assert.deepEqual(await hits("source.ip << ['192.0.0.5/24', '169.254.2.1/16']", ips), [true, true, false, false]);
  assert.deepEqual(await hits("source.ip << '2001:620:0:0:0:0:0:0/29'", ips), [false, false, false, true]);
  const lines: string[] = [];
  const log = pino({ level: "warn" }, { write: (s: string) => { lines.push(s); } });
  const out = await run("if comment << '10.0.0.0/8' { add! extra.hit = true }", [ev({ comment: "300.300.300.300" })], ["_default"], log);
  assert.deepEqual(out.output._default, [ev({ comment: "300.300.300.300" })]);
  assert.ok(lines.some((l) => l.includes("Could not parse IP address comment=300.300.300.300")), lines.join(""));
});

test("sieve: :exists, :notexists, booleans, negation, && before ||, parentheses", async () => {
  const e = [{ "source.fqdn": "x.example" }, {}];
  assert.deepEqual(await hits(":exists source.fqdn", e), [true, false]);
  assert.deepEqual(await hits(":notexists source.fqdn", e), [false, true]);
  const b = [{ "extra.t": true }, { "extra.t": false }, { "extra.t": "true" }];
  assert.deepEqual(await hits("extra.t == true", b), [true, false, false]);
  assert.deepEqual(await hits("extra.t != true", b), [false, true, false]);
  assert.deepEqual(await hits("! extra.t == true", b), [false, true, true]);
  const p = [{ "source.asn": 1, "source.port": 1 }, { "source.asn": 2, "source.port": 2 }, { "source.asn": 3, "source.port": 3 }];
  assert.deepEqual(await hits("source.asn == 1 && source.port == 2 || source.asn == 3", p), [false, false, true]);
  assert.deepEqual(await hits("source.asn == 1 && (source.port == 2 || source.port == 1)", p), [true, false, false]);
  assert.deepEqual(await hits("!(source.asn == 1 || source.asn == 2) && :exists source.port", p), [false, false, true]);
});

test("sieve: list operators :equals, :setequals, :overlaps, :subsetof, :supersetof (1, 1.0 and true are one value)", async () => {
  const l = [{ "extra.l": ["a", "b", "c"] }, { "extra.l": ["c", "a", "b", "a"] }, { "extra.l": [] }, { "extra.l": "a" }];
  assert.deepEqual(await hits("extra.l :equals ['a', 'b', 'c']", l), [true, false, false, false]);
  assert.deepEqual(await hits("extra.l :equals []", l), [false, false, true, false]);
  assert.deepEqual(await hits("extra.l :setequals ['a', 'c', 'b']", l), [true, true, false, false]);
  assert.deepEqual(await hits("extra.l :overlaps ['b', 'x']", l), [true, true, false, false]);
  assert.deepEqual(await hits("extra.l :subsetof ['a', 'b', 'c', 'd']", l), [true, true, true, false]);
  assert.deepEqual(await hits("extra.l :supersetof ['a', 'b']", l), [true, true, false, false]);
  assert.deepEqual(await hits("extra.l :equals [true, 2.5, 'three', 4]", [{ "extra.l": [1, 2.5, "three", 4.0] }]), [true]);
});

test("sieve: :before and :after, absolute (UTC without a zone) and relative to now", async () => {
  const now = new Date().toISOString().replace(/\.\d+Z$/, "+00:00");
  const t = [{ "time.source": "2023-06-01T10:00:00+00:00" }, { "time.source": now }];
  assert.deepEqual(await hits("time.source :before '2023-06-01 15:00'", t), [true, false]);
  assert.deepEqual(await hits("time.source :after '2023-06-01T12:00:00+02:00'", t), [false, true]);
  assert.deepEqual(await hits("time.source :after '2023-06-01'", t), [true, true]);
  assert.deepEqual(await hits("time.source :before '1 week'", t), [true, false]);
  assert.deepEqual(await hits("time.source :after '2 days'", t), [false, true]);
});

test("sieve: nested if / elif / else", async () => {
  const rules = `
if comment == 'm1' {
  if extra.t == 'a' { update comment = 'c1' } elif extra.t == 'b' { update comment = 'c2' } else { update comment = 'c3' }
} elif comment == 'm2' {
  if extra.t == 'a' { update comment = 'c4' } else { update comment = 'c5' }
} else {
  add! comment = 'c6'
}`;
  const inputs = [["m1", "a"], ["m1", "b"], ["m1", "z"], ["m2", "a"], ["m2", "z"], ["other", "a"]].map(([c, t]) => ev({ comment: c, "extra.t": t }));
  const out = await run(rules, inputs);
  assert.deepEqual(out.output._default!.map((m) => m.comment), ["c1", "c2", "c3", "c4", "c5", "c6"]);
});

test("sieve: add keeps an existing value, add! overwrites, update only changes existing keys, remove", async () => {
  const rules = `add comment = 'added'
add source.ip = '10.0.0.1'
add! destination.ip = '10.0.0.2'
update source.port = 25
update source.asn = 64496
remove feed.name
add! extra.v = 1.5
add extra.b = true`;
  const out = await run(rules, [ev({ "source.asn": 1, "feed.name": "x" })]);
  assert.deepEqual(out.output._default, [ev({
    comment: "added", "destination.ip": "10.0.0.2", "source.asn": 64496, "extra.v": 1.5, "extra.b": true,
  })]);
});

test("sieve: append and append! on lists, single values and missing keys", async () => {
  const rules = "append extra.l 'c'\nappend extra.s 'x'\nappend extra.new 'n'\nappend! extra.s2 'y'\nappend! extra.l2 3";
  const out = await run(rules, [ev({ "extra.l": ["a", "b"], "extra.s": "one", "extra.s2": "two", "extra.l2": [1, 2] })]);
  assert.deepEqual(out.output._default, [ev({
    "extra.l": ["a", "b", "c"], "extra.s": "one", "extra.new": ["n"], "extra.s2": ["two", "y"], "extra.l2": [1, 2, 3],
  })]);
});

test("sieve: += and -= on times (add applies only to absent keys: there it fails, as in IntelMQ)", async () => {
  const out = await run("add! time.observation += '1 hour'\nupdate time.source -= '2 days'\nadd time.observation += '1 hour'", [ev({ "time.source": "2017-01-03T00:00:00.5+00:00" })]);
  assert.deepEqual(out.output._default, [ev({ "time.observation": "2017-01-01T01:00:00+00:00", "time.source": "2017-01-01T00:00:00.500000+00:00" })]);
  const failed = await run("add time.source += '1 hour'", [ev()]);
  assert.equal(failed.dumped, 1);
  assert.match(dumpReason(failed.dumps[0]!), /KeyError: 'time\.source'/);
});

test("sieve: keep stops processing, drop drops, path routes (several paths: one message each; unconfigured: skipped)", async () => {
  const rules = `
if comment == 'keep' { keep }
if comment == 'drop' { drop }
if comment == 'route' { path 'other' }
if comment == 'both' { path ['one', 'two'] keep }
if comment == 'nowhere' { path 'unconfigured' }
add! extra.seen = true`;
  const out = await run(rules, ["keep", "drop", "route", "both", "nowhere", "plain"].map((c) => ev({ comment: c })), ["_default", "other", "one", "two"]);
  assert.deepEqual(out.output._default!.map((m) => [m.comment, m["extra.seen"] ?? null]), [["keep", null], ["plain", true]]);
  assert.deepEqual(out.output.other!.map((m) => m.comment), ["route"]);
  assert.deepEqual(out.output.one!.map((m) => m.comment), ["both"]);
  assert.deepEqual(out.output.two!.map((m) => m.comment), ["both"]);
  assert.equal(out.dumped, 0);
});

test("sieve: variables hold a field's value; used before they are set the event fails", async () => {
  const out = await run("$c = source.abuse_contact\nadd! extra.email = $c\nif comment == $c { add! extra.same = true }", [ev({ "source.abuse_contact": "a@example.com", comment: "a@example.com" })]);
  assert.deepEqual(out.output._default, [ev({ "source.abuse_contact": "a@example.com", comment: "a@example.com", "extra.email": "a@example.com", "extra.same": true })]);
  const bad = await run("add! extra.email = $c", [ev()]);
  assert.equal(bad.dumped, 1);
  assert.match(dumpReason(bad.dumps[0]!), /NameError: Sieve variable \$c used before definition\./);
});

test("sieve: comments #, // and /* */ are ignored", async () => {
  const out = await run("# a\nadd comment = 'x' // b\n/* update comment = 'y'\n   drop */\nadd! extra.z = 1 # c", [ev()]);
  assert.deepEqual(out.output._default, [ev({ comment: "x", "extra.z": 1 })]);
});

test("sieve: several files run in order as one rule set; keep or drop in one stops the later ones", async () => {
  const first = "if comment == 'stop' { keep }\nif comment == 'gone' { drop }\nadd extra.first = true";
  const second = "add! extra.second = true\nif :exists extra.first { update comment = 'both' }";
  const out = await run([first, second], [ev({ comment: "stop" }), ev({ comment: "gone" }), ev({ comment: "go" })]);
  assert.deepEqual(out.output._default, [ev({ comment: "stop" }), ev({ comment: "both", "extra.first": true, "extra.second": true })]);
});

test("sieve: the benchmark's 50-rule file loads and routes a typical event", async () => {
  const file = src("services", "experts", "sieve", "fixtures", "bench-50.sieve");
  const out = await runBot(bot, {
    params: { file }, destinationPaths: ["_default", "abuse-ch", "vulnerable"],
    input: [ev({ "classification.type": "c2-server", "classification.taxonomy": "malicious-code", "source.ip": "198.51.100.7", "feed.name": "Feodo Tracker", "feed.provider": "abuse.ch", "source.port": 443, "source.asn": 64500 })],
  });
  assert.equal(out.dumped, 0, JSON.stringify(out.dumps));
  assert.equal(out.output["abuse-ch"]?.length, 1);
  const [m] = out.output._default!;
  assert.deepEqual([m!["classification.identifier"], m!["extra.severity"], m!["protocol.application"], m!["protocol.transport"], m!["extra.constituency"]],
    ["feodo", "high", "https", "tcp", "academia"]);
});
