// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Every registered parser, fed seeded random, truncated, mutated and binary reports through the
 * real runtime (runBot on the in-memory broker). For every run: no crash, no hang (each run is
 * bounded), every input line ends in an event, in a dump or in the parser's declared skips
 * ("Skipped line." at debug level), no event without a field of its own, no control character in
 * an FQDN or URL. For reports of good records (the parser's fixtures/sample.json) mixed with
 * garbage lines, every good record still gives its event, and no line is both sent and dumped.
 * A document (an HTML page, a JSON list) whose events carry rewritten parts of it is accounted for
 * as a whole: every report gives events, a dump or a declared skip.
 *
 * Reproduce a failure with the seed it names: FUZZ_SEED=<seed> npm test -- test/fuzz/parsers
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { pino } from "pino";
import { registry } from "../../services/registry.gen.js";
import { cleanReport, commentLines, readRecords, writeRow } from "../../services/parsers/generic_csv/csv.js";
import { pyLinesKeepEnds, readCsv, runBot, writeCsvRow, type BotDefinition, type LibraryResult } from "../../shared/runtime/index.js";
import { pyStrip } from "../../shared/harmonization/index.js";
import { Rng } from "../helpers/random.js";
import { loadSample, rawLines, sampleReport, sampleText, type ParserSample } from "../helpers/parser-samples.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
/** One run that takes longer than this hangs. */
const RUN_TIMEOUT_MS = 10_000;
/** All parsers together: later cases are left out once it is spent (the count run is logged). */
const BUDGET_MS = 16_000;

/** Python's str.splitlines() boundaries: the widest any parser splits at. */
const SPLIT = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;
/**
 * Undecodable bytes (U+FFFD) and NULs are what parsers may drop; surrounding blanks too (also
 * those Python's str.strip() takes: \x1c-\x1f, \x85).
 */
const norm = (l: string): string => l.replace(/[\uFFFD\0]/g, "").replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/g, "");
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

interface Run { out: LibraryResult; skipped: string[] }

/** A logger that keeps the lines parsers declare skipped. */
function skipLogger() {
  const skipped: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n")) {
        if (!l.includes("Skipped line.")) continue;
        const e = JSON.parse(l) as { msg?: string; line?: string };
        if (e.msg === "Skipped line.") skipped.push(String(e.line));
      }
      cb();
    },
  });
  return { log: pino({ level: "debug" }, stream), skipped };
}

async function runOnce(def: BotDefinition, s: ParserSample, raw: Uint8Array, what: string): Promise<Run> {
  const { log, skipped } = skipLogger();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`${def.name}: no result within ${RUN_TIMEOUT_MS} ms for ${what}`)), RUN_TIMEOUT_MS);
  });
  try {
    const out = await Promise.race([runBot(def, {
      log, params: { error_max_retries: 0, error_retry_delay: 0, logging_level: "DEBUG", ...s.params }, input: [sampleReport(s, raw)],
    }), hang]);
    return { out, skipped };
  } finally {
    clearTimeout(timer);
  }
}

const eventsOf = (out: LibraryResult) => out.output._default ?? [];
const dumpRaws = (out: LibraryResult) => out.dumps.map((d) => (JSON.parse(d.message) as { raw?: string }).raw ?? "");
const decode = (raw: unknown) => Buffer.from(String(raw), "base64").toString("utf8");

/** The generic CSV parser's reading of the text: undecodable bytes dropped, as it does. */
function csvText(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return Buffer.from(bytes).toString("utf8").replaceAll("\uFFFD", "");
  }
}

function isJson(bytes: Uint8Array): boolean {
  try {
    JSON.parse(Buffer.from(bytes).toString("utf8"));
    return true;
  } catch {
    return false;
  }
}

/** Input units the run did not account for (neither event, dump nor declared skip). */
function unaccounted(s: ParserSample, bytes: Uint8Array, run: Run): string[] {
  const raws = [...eventsOf(run.out).map((e) => e.raw), ...dumpRaws(run.out)];
  if (s.unit === "document") {
    // a document's parts are rewritten in raw: the report as a whole gave events, a dump or a declared skip
    return Buffer.from(bytes).toString("utf8").trim() === "" || raws.length > 0 || run.skipped.length > 0 ? [] : ["(the whole report)"];
  }
  if (s.unit === "json" && isJson(bytes)) return []; // its items: events or dumps of their own, written anew
  // an XML report is dumped whole when it is no XML, else its elements give events, dumps or a declared skip
  if (s.unit === "xml" && (raws.length > 0 || run.skipped.length > 0)) return [];
  if (s.unit === "report" || s.unit === "json" || s.unit === "xml") {
    const text = norm(Buffer.from(bytes).toString("utf8"));
    if (text === "") return [];
    return raws.some((r) => norm(decode(r)) === text) ? [] : [text.slice(0, 80)];
  }
  if (s.unit === "csvdict") {
    // a record (which may span lines) is the unit; the raw is the header and the record written
    // back with the report's line ending
    const text = pyStrip(Buffer.from(bytes).toString("utf8")).replaceAll("\0", "");
    const skipped = new Set(run.skipped);
    // a short record is written back padded with empty fields (Python's DictWriter restval)
    // and stripped, as IntelMQ strips the raw it writes
    const unpadded = (r: string) => {
      let x = pyStrip(r.split(/\r\n|\n|\r/).join("\n"));
      for (let y = ""; y !== x;) [y, x] = [x, pyStrip(x.replace(/,+$/, ""))];
      return x;
    };
    const records = new Set(raws.map((r) => unpadded(decode(r).split(/\r\n|\n|\r/).slice(1).join("\n"))));
    const missing: string[] = [];
    // lines the parser left out before reading the CSV (and the header) are declared skips
    const lines = [...pyLinesKeepEnds(text)].filter((l) => {
      const bare = l.replace(/[\r\n]+$/, "");
      return bare === "" || !skipped.has(bare);
    });
    for (const rec of readCsv(lines)) {
      // so is a header that spans lines
      if (rec.fields.length === 0 || skipped.has(rec.text.replace(/[\r\n]+$/, ""))) continue;
      const r = writeCsvRow(rec.fields, { lineterminator: "" });
      // an event's raw writes the record anew, a dump holds it as the report has it
      if (!records.has(unpadded(r)) && !records.has(unpadded(rec.text))) missing.push(r);
    }
    return missing;
  }
  if (s.unit === "csv") {
    // a CSV record (which may span lines) is the unit; the parser writes it back with ","
    const text = csvText(bytes);
    const records = new Set(raws.map((r) => decode(r).replace(/(\r\n|\n|\r)$/, "")));
    const skipped = new Set(run.skipped);
    const missing: string[] = [];
    for (const c of commentLines(text)) if (!skipped.has(c)) missing.push(c);
    for (const fields of readRecords(cleanReport(text), ",")) {
      if (fields.length === 0) continue;
      const r = writeRow(fields, ",", "");
      if (!records.has(r)) missing.push(r);
    }
    return missing;
  }
  const covered = new Set<string>();
  for (const r of raws) for (const l of rawLines(r)) covered.add(norm(l));
  for (const l of run.skipped) for (const p of l.split(SPLIT)) covered.add(norm(p));
  const missing: string[] = [];
  for (const l of Buffer.from(bytes).toString("utf8").split(SPLIT)) {
    const n = norm(l);
    if (n !== "" && !covered.has(n)) missing.push(n);
  }
  return missing;
}

/** The checks of every run. */
function checkRun(def: BotDefinition, s: ParserSample, bytes: Uint8Array, run: Run, what: string): void {
  const where = `${def.name}, ${what} (FUZZ_SEED=${SEED})`;
  assert.equal(run.out.exitCode, undefined, `${where}: the bot stopped`);
  const missing = unaccounted(s, bytes, run);
  assert.deepEqual(missing.slice(0, 5), [], `${where}: ${missing.length} input line(s) neither in an event, a dump nor declared skipped`);
  for (const e of eventsOf(run.out)) {
    // beyond what the report gives (feed.*, time.observation) and raw
    const own = Object.keys(e).filter((k) => k !== "raw" && k !== "__type" && k !== "time.observation" && !k.startsWith("feed."));
    assert.ok(own.length > 0, `${where}: an event without a field of its own: ${JSON.stringify(e).slice(0, 200)}`);
    assert.ok(e.raw !== undefined, `${where}: an event without raw`);
    for (const [k, v] of Object.entries(e)) {
      if ((k.endsWith(".fqdn") || k.endsWith(".url")) && typeof v === "string") assert.doesNotMatch(v, CONTROL, `${where}: ${k} ${JSON.stringify(v)}`);
    }
  }
}

// ---- inputs ----

const PRINTABLE = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\t";
const EXOTIC = ["\u00e4", "\u00df", "\u20ac", "\u0663", "\uff12", "\u00b2", "\u2028", "\ufeff", "\u202e", "\ud83d\ude00", "\u0000", "\u001b", "\u0085", "\u007f"];

function randomText(rng: Rng, len: number): string {
  let out = "";
  for (let i = 0; i < len; i++) out += rng.next() < 0.9 ? PRINTABLE[rng.int(PRINTABLE.length)] : rng.pick(EXOTIC);
  return out;
}

/** One garbage line of a random kind, as bytes (binary kinds need not be UTF-8). */
function garbageLine(rng: Rng, s: ParserSample): Uint8Array {
  const record = rng.pick(s.records);
  const text = (t: string) => new Uint8Array(Buffer.from(t, "utf8"));
  switch (rng.int(9)) {
    case 0: return text(randomText(rng, 1 + rng.int(120)));
    case 1: return rng.bytes(1 + rng.int(200)).map((b) => (b === 10 || b === 13 ? 32 : b));
    case 2: return text(record.slice(0, rng.int(record.length)));
    case 3: {
      const at = rng.int(record.length);
      return text(record.slice(0, at) + randomText(rng, 1) + record.slice(at + 1));
    }
    case 4: {
      const at = rng.int(record.length + 1);
      return text(record.slice(0, at) + rng.pick(["\x00", "\x01", "\x07", "\x1b[31m", "\x7f", "\u0085", "\t"]) + record.slice(at));
    }
    case 5: return text(randomText(rng, 2000 + rng.int(10_000)));
    case 6: return text(rng.pick([",,,,", "\t\t\t\t", "  |  |  |  ", ";;;", "====", "key=", "=value", "{}", "[]", "null", "\"\"", "."]));
    case 7: return text(`${record} ${randomText(rng, 1 + rng.int(20))}`);
    default: return text(record.split("").reverse().join(""));
  }
}

const join = (parts: readonly Uint8Array[]): Uint8Array => {
  const nl = new Uint8Array([10]);
  return new Uint8Array(Buffer.concat(parts.flatMap((p, i) => (i ? [nl, p] : [p]))));
};
const utf8 = (t: string) => new Uint8Array(Buffer.from(t, "utf8"));

/** Garbage reports: binary, random text, cut and mutated samples, samples of garbage lines. */
function garbageReports(rng: Rng, s: ParserSample): [string, Uint8Array][] {
  const sample = utf8(sampleText(s));
  const out: [string, Uint8Array][] = [];
  for (const n of [1, 17, 1000, 64 * 1024]) out.push([`${n} random bytes`, rng.bytes(n)]);
  for (let i = 0; i < 2; i++) out.push(["random text lines", utf8(Array.from({ length: 50 }, () => randomText(rng, rng.int(100))).join("\n"))]);
  out.push(["2000 short garbage lines", join(Array.from({ length: 2000 }, () => utf8(randomText(rng, rng.int(12)))))]);
  for (let i = 0; i < 6; i++) {
    const cut = rng.int(sample.length);
    out.push([`the sample cut after ${cut} bytes`, sample.slice(0, cut)]);
  }
  for (let i = 0; i < 8; i++) {
    const m = sample.slice();
    for (let k = 0; k < 1 + rng.int(8); k++) m[rng.int(m.length)] = rng.int(256);
    out.push(["the sample with random bytes changed", m]);
  }
  for (let i = 0; i < 8; i++) {
    const lines = Array.from({ length: 5 + rng.int(30) }, () => garbageLine(rng, s));
    out.push(["the sample's head and tail around garbage lines", join([...s.head.map(utf8), ...lines, ...s.tail.map(utf8)])]);
  }
  return out;
}

/** A garbage line kept on one line: every line break any parser knows becomes a space. */
function oneLine(g: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < g.length; i++) {
    const b = g[i]!;
    if (b === 10 || b === 11 || b === 12 || b === 13 || (b >= 28 && b <= 30)) out.push(32);
    else if (b === 0xc2 && g[i + 1] === 0x85) { out.push(32, 32); i++; } // U+0085
    else if (b === 0xe2 && g[i + 1] === 0x80 && (g[i + 2] === 0xa8 || g[i + 2] === 0xa9)) { out.push(32, 32, 32); i += 2; } // U+2028/9
    else out.push(b);
  }
  return new Uint8Array(out);
}

/**
 * Good records with garbage lines between them. A garbage line never starts (after blanks) like a
 * header line of any feed (# ; : / $ <), which would legitimately change how the records after it
 * are read, and holds no quote for CSV (an open quote joins the following lines into one record,
 * as in Python; also for line feeds of quoted CSV records, ParserSample.quotedFields).
 */
function mixedReport(rng: Rng, s: ParserSample): Uint8Array {
  const garbage = (): Uint8Array => {
    let g = oneLine(garbageLine(rng, s));
    if (s.unit === "csv" || s.unit === "csvdict" || s.quotedFields) g = g.filter((b) => b !== 34);
    const first = g.find((b) => b !== 32 && b !== 9);
    return first !== undefined && "#;:/$<".includes(String.fromCharCode(first)) ? new Uint8Array([120, ...g]) : g;
  };
  const body: Uint8Array[] = [];
  for (const r of s.records) {
    for (let k = rng.int(4); k > 0; k--) body.push(garbage());
    body.push(utf8(r));
  }
  body.push(garbage());
  return join([...s.head.map(utf8), ...body, ...s.tail.map(utf8)]);
}

/** An event in a form to compare. */
const key = (e: Record<string, unknown>) => JSON.stringify(Object.entries(e).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

test("fuzz: every parser accounts for every line of random, truncated and binary reports", { timeout: 120_000 }, async (t) => {
  const parsers: [string, BotDefinition][] = [];
  for (const [module, load] of Object.entries(registry)) {
    const def = await load();
    if (def.kind === "parser") parsers.push([module, def]);
  }
  assert.ok(parsers.length >= 15, `${parsers.length} parsers registered`);
  const started = Date.now();
  const perParser = BUDGET_MS / parsers.length;
  let runs = 0, left = 0;
  for (const [i, [module, def]] of parsers.entries()) {
    await t.test(`${def.name} (${module})`, async () => {
      const s = loadSample(def.name);
      const rng = new Rng(SEED + i);
      const until = started + perParser * (i + 1);
      // partly bad reports: every good record still gives its event
      const good = await runOnce(def, s, utf8(sampleText(s)), "the sample");
      checkRun(def, s, utf8(sampleText(s)), good, "the sample");
      assert.equal(good.out.dumped, 0, `${def.name}: the sample itself has failures`);
      // (a document's parts cannot be told apart from garbage between them: no mixed reports)
      for (let k = 0; k < 8 && s.unit !== "report" && s.unit !== "json" && s.unit !== "xml" && s.unit !== "document"; k++) {
        const mixed = mixedReport(rng, s);
        const run = await runOnce(def, s, mixed, `mixed report ${k}`);
        runs++;
        checkRun(def, s, mixed, run, `mixed report ${k}`);
        // nothing twice: no line both gives an event and is dumped as failed (each raw ends with its own line)
        const last = (raw: unknown) => decode(raw).split(SPLIT).filter((l) => l.trim() !== "").pop() ?? "";
        const dumped = new Set(dumpRaws(run.out).map(last));
        const both = eventsOf(run.out).map((e) => last(e.raw)).filter((l) => dumped.has(l));
        assert.deepEqual(both, [], `${def.name}, mixed report ${k} (FUZZ_SEED=${SEED}): lines both sent and dumped`);
        const got = new Map<string, number>();
        for (const e of eventsOf(run.out)) got.set(key(e), (got.get(key(e)) ?? 0) + 1);
        for (const e of eventsOf(good.out)) {
          const n = got.get(key(e)) ?? 0;
          assert.ok(n > 0, `${def.name}, mixed report ${k} (FUZZ_SEED=${SEED}): the good record of ${JSON.stringify(decode(e.raw))} lost its event`);
          got.set(key(e), n - 1);
        }
      }
      for (const [what, bytes] of garbageReports(rng, s)) {
        if (Date.now() > until) { left++; continue; }
        const run = await runOnce(def, s, bytes, what);
        runs++;
        checkRun(def, s, bytes, run, what);
      }
    });
  }
  t.diagnostic(`${runs} runs in ${Date.now() - started} ms, ${left} left out for time (seed ${SEED})`);
});
