// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The sample report of each parser (services/parsers/<name>/fixtures/sample.json): a good report
 * of its feed, used by the parser's own test and by the fuzz test (test/fuzz/parsers.test.ts).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runBot, type BotDefinition } from "../../shared/runtime/index.js";
import { src } from "./paths.js";

export interface ParserSample {
  /**
   * What one record of the feed is: a line, a CSV record, the whole report (one JSON document, one
   * event), or an item of the report's one JSON document ("json": head, records and tail joined
   * by newlines make the document, so a list's items carry their commas; the parser writes each
   * item's raw anew, as IntelMQ's json.dumps), or a CSV record under a header row ("csvdict": the
   * raw is the header and the record written back, as IntelMQ's recover_line_csv_dict), or an
   * element of the report's one XML document ("xml": written anew, as ElementTree writes it), or a
   * part of a document (an HTML page's table rows, a JSON report's parts) whose events carry that
   * part, rewritten, as raw ("document": a report is accounted for as a whole: events, a dump or a
   * declared skip).
   */
  unit: "line" | "csv" | "csvdict" | "report" | "json" | "xml" | "document";
  /**
   * The lines are CSV records whose fields may be quoted (an open quote joins the following lines
   * into one record, as in Python): the fuzz test's garbage lines then hold no quote. Implied by unit "csv".
   */
  quotedFields?: boolean;
  /** The parser's parameters for this feed. */
  params: Record<string, unknown>;
  /** Report fields besides raw (feed.url tells some parsers which feed it is). */
  report: Record<string, unknown>;
  /** Lines before the records (headers, comments) and after them (footers): no events of their own. */
  head: string[];
  /** Each gives at least one event. */
  records: string[];
  tail: string[];
}

export function loadSample(name: string): ParserSample {
  return JSON.parse(readFileSync(src("services", "parsers", name, "fixtures", "sample.json"), "utf8")) as ParserSample;
}

/** The report text: head, the records (or other lines in their place), tail. */
export function sampleText(s: ParserSample, records: readonly string[] = s.records): string {
  return [...s.head, ...records, ...s.tail].join("\n") + "\n";
}

/** A Report message of the sample's feed with this raw text (or bytes). */
export function sampleReport(s: ParserSample, raw: string | Uint8Array): Record<string, unknown> {
  return {
    __type: "Report", "time.observation": "2024-01-02T03:04:05+00:00", ...s.report,
    raw: (typeof raw === "string" ? Buffer.from(raw, "utf8") : Buffer.from(raw)).toString("base64"),
  };
}

/** The decoded lines of an event's or a dump's raw. */
export function rawLines(raw: unknown): string[] {
  return Buffer.from(String(raw), "base64").toString("utf8").split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/).map((l) => l.trim());
}

/** The parser's own test of its sample: every record gives its event, nothing is dumped. */
export async function assertSample(def: BotDefinition, name: string): Promise<void> {
  const s = loadSample(name);
  const out = await runBot(def, { params: { error_max_retries: 0, error_retry_delay: 0, ...s.params }, input: [sampleReport(s, sampleText(s))] });
  assert.equal(out.dumped, 0, out.dumps.map((d) => d.traceback).join("\n"));
  const events = out.output._default!;
  assert.ok(events.length >= s.records.length, `${events.length} events of ${s.records.length} records`);
  const lines = new Set(events.flatMap((e) => rawLines(e.raw)));
  for (const r of s.records) {
    if (s.unit === "report") assert.ok(events.length === 1);
    else if (s.unit === "document") {
      // the record holds the event's raw, or the raw the record (without the comma between a JSON list's items)
      const rec = r.trim().replace(/^,\s*|,$/g, "");
      const found = events.some((e) => {
        const raw = rawLines(e.raw).join("\n");
        return raw.includes(rec) || rec.includes(raw);
      });
      assert.ok(found, `no event of ${JSON.stringify(r)}`);
    }
    else if (s.unit === "json" || s.unit === "xml") continue;
    else if (s.unit === "csvdict") assert.ok([...lines].some((l) => l.includes(r.trim().slice(0, 20))), `no event of ${JSON.stringify(r)}`);
    else assert.ok(lines.has(r.trim()), `no event of ${JSON.stringify(r)}`);
  }
}
