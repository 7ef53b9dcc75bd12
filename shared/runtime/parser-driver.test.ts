// SPDX-License-Identifier: AGPL-3.0-only
// The parser driver: every item is an event, a failed line (dumped with a reason) or a declared skip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { pino } from "pino";
import { z } from "zod";
import type { Report } from "../message/index.js";
import { LineError, commentHeader, defineBot, parserParams, rawLines, runBot, skipLine } from "./index.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

/** "ip,type" lines; "#" comments; "nothing" lines give an event with nothing but raw; "!" lines are no record. */
const toy = defineBot({
  kind: "parser", name: "toy", intelmq: "test.toy", description: "",
  params: z.object({ ...parserParams }).strict(),
  create: (_p, ctx) => commentHeader((line: string, report: Report) => {
    if (line.startsWith("!")) throw new LineError(`no record: ${JSON.stringify(line)}`);
    const ev = ctx.newEvent(report);
    if (line !== "nothing") {
      const [ip, type] = line.split(",");
      ev.add("source.ip", ip);
      ev.add("classification.type", type);
    }
    ev.add("raw", line);
    return ev;
  }),
});

/** A logger that keeps its JSON lines. */
function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l)); cb(); } });
  return { log: pino({ level: "debug" }, stream), lines };
}

const REPORT = { __type: "Report", "feed.name": "Toy", "feed.url": "http://example.com/list", "time.observation": "2020-01-01T00:00:00+00:00" };

test("declared skips are logged with their reason, never dumped", { timeout: 10_000 }, async () => {
  const { log, lines } = memoryLogger();
  const out = await runBot(toy, { log, params: { logging_level: "DEBUG" }, input: [{ ...REPORT, raw: b64("# list of 2020\n192.0.2.1,scanner\n\n# end\n") }] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 0);
  const skipped = lines.filter((l) => l.msg === "Skipped line.").map((l) => [l.line, l.reason]);
  assert.deepEqual(skipped, [["# list of 2020", "comment"], ["# end", "comment"]]);
});

test("a LineError is dumped with the parser's name and the problem; the other lines go on", { timeout: 10_000 }, async () => {
  const out = await runBot(toy, { input: [{ ...REPORT, raw: b64("# head\n!garbage\n192.0.2.1,scanner\n") }] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 1);
  const tb = String(out.dumps[0]!.traceback);
  assert.match(tb.trim().split("\n").pop()!, /^ValueError: toy: no record: "!garbage"$/);
  // the dump holds the report with the failed line (after the comments, as commentHeader rebuilds it)
  assert.equal(unb64(JSON.parse(out.dumps[0]!.message).raw), "# head\n!garbage");
  assert.equal(out.output._on_error!.length, 1);
});

test("an event without a field of its own is not sent: its line is dumped with the reason", { timeout: 10_000 }, async () => {
  const out = await runBot(toy, {
    params: { default_fields: { "protocol.application": "http" }, copy_collector_provided_fields: ["extra.file_name"] },
    input: [{ ...REPORT, "extra.file_name": "list.txt", raw: b64("nothing\n192.0.2.1,scanner\n") }],
  });
  // default_fields and copied report fields are no fields of the line's own
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["192.0.2.1"]);
  assert.equal(out.output._default![0]!["protocol.application"], "http");
  assert.equal(out.dumped, 1);
  assert.equal(unb64(JSON.parse(out.dumps[0]!.message).raw), "nothing");
  assert.match(String(out.dumps[0]!.traceback), /ValueError: toy: the line gives no field of its own/);
});

test("a field is the line's own unless the report holds the same value when the event is made", { timeout: 10_000 }, async () => {
  // "report=v" lines first give the report extra.note=v; every line gives its event extra.note=v
  const marking = defineBot({
    kind: "parser", name: "marking", intelmq: "test.marking", description: "",
    params: z.object({ ...parserParams }).strict(),
    create: (_p, ctx) => commentHeader((line: string, report: Report) => {
      const [k, v] = line.split("=");
      if (k === "report") report.add("extra.note", v, { overwrite: true });
      const ev = ctx.newEvent(report);
      ev.add("extra.note", v);
      ev.add("raw", line);
      return ev;
    }),
  });
  const out = await runBot(marking, { input: [{ ...REPORT, raw: b64("event=a\nreport=b\nevent=c\nevent=b\n") }] });
  assert.deepEqual(out.output._default!.map((e) => e["extra.note"]), ["a", "c"]);
  assert.deepEqual(out.dumps.map((d) => unb64(JSON.parse(d.message).raw)), ["report=b", "event=b"]);
});

test("a parser may skip lines in parse() too", { timeout: 10_000 }, async () => {
  const headed = defineBot({
    kind: "parser", name: "headed", intelmq: "test.headed", description: "",
    params: z.object({ ...parserParams }).strict(),
    create: (_p, ctx) => ({
      *parse(report: Report) {
        const [head, ...rest] = unb64(report.get("raw")).split("\n");
        yield skipLine(head!, "header");
        yield* rest;
      },
      parseLine(line: unknown, report: Report) {
        const ev = ctx.newEvent(report);
        ev.add("source.fqdn", String(line));
        ev.add("raw", String(line));
        return ev;
      },
    }),
  });
  const { log, lines } = memoryLogger();
  const out = await runBot(headed, { log, params: { logging_level: "DEBUG" }, input: [{ ...REPORT, raw: b64("domains\nexample.com\nexample.net") }] });
  assert.deepEqual(out.output._default!.map((e) => e["source.fqdn"]), ["example.com", "example.net"]);
  assert.deepEqual(lines.filter((l) => l.msg === "Skipped line.").map((l) => l.line), ["domains"]);
});

test("rawLines: the lines of the decoded raw as Python's splitlines() gives them, across chunk boundaries", () => {
  const reportOf = (text: string) => ({ get: (k: string) => (k === "raw" ? Buffer.from(text, "utf8").toString("base64") : undefined) }) as unknown as Report;
  const split = (text: string) => [...rawLines(reportOf(text))];
  assert.deepEqual(split(""), []);
  assert.deepEqual(split("a\nb\r\nc\rd\n\ne\u2028f\x1cg\n"), ["a", "b", "c", "d", "", "e", "f", "g"]);
  assert.deepEqual(split("\nx"), ["", "x"]);
  // Long reports are decoded a chunk at a time: "\r\n", multi-byte characters and lines that
  // straddle a chunk's end must come out whole.
  const line = (i: number) => `${i}:${"é€".repeat(i % 7)},${"x".repeat((i * 37) % 200)}`;
  const lines = Array.from({ length: 20_000 }, (_, i) => line(i));
  const text = lines.join("\r\n") + "\r\n";
  assert.ok(Buffer.byteLength(text) > 3 * 196_608, "several chunks");
  assert.deepEqual(split(text), lines);
  assert.deepEqual(split(lines.join("\r")), lines);
});
