// SPDX-License-Identifier: AGPL-3.0-only
// Our dateutil parser against what python-dateutil itself gave for the same texts
// (fixtures/dateutil-cases.jsonl, printed by fixtures/dateutil-cases.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { src } from "../../test/helpers/paths.js";
import { dateutilParse, isoformat, matchesIsoFormat, pyStrip } from "./index.js";

interface Settings { today: string; dateutil: string; tz: string }
interface Case { input: string; sanitize: string | null; fuzzy: string | null; strict: string | null }

const [head, ...rest] = readFileSync(src("shared/harmonization/fixtures/dateutil-cases.jsonl"), "utf8").split("\n").filter(Boolean);
const settings = JSON.parse(head!) as Settings;
const cases = rest.map((l) => JSON.parse(l) as Case);
const [y, m, d] = settings.today.split("-").map(Number) as [number, number, number];
const today = { year: y, month: m, day: d };

const parse = (text: string, fuzzy: boolean): string | null => {
  const t = dateutilParse(text, { fuzzy, today });
  return t ? isoformat(t) : null;
};
/** DateTime.sanitize with the fixed today: IntelMQ's ISO form as it is, else the fuzzy parse. */
const sanitize = (text: string): string | null => (matchesIsoFormat(text) ? pyStrip(text) || null : parse(text, true));

function check(name: keyof Omit<Case, "input">, run: (text: string) => string | null): void {
  const wrong: string[] = [];
  for (const c of cases) {
    const got = run(c.input);
    if (got !== c[name]) wrong.push(`${JSON.stringify(c.input)}: dateutil ${JSON.stringify(c[name])}, we ${JSON.stringify(got)}`);
  }
  assert.deepEqual(wrong, [], `${wrong.length} of ${cases.length} differ`);
}

test("the table is broad and was printed by dateutil 2.9 in UTC", { timeout: 10_000 }, () => {
  assert.ok(cases.length >= 500, `${cases.length} cases`);
  assert.match(settings.dateutil, /^2\.9\./);
  assert.equal(settings.tz, "UTC");
  // failures are part of the table too
  assert.ok(cases.filter((c) => c.sanitize === null).length >= 50);
});

test("DateTime.sanitize gives what IntelMQ with dateutil gives", { timeout: 10_000 }, () => check("sanitize", sanitize));

test("DateTime.from_fuzzy gives what dateutil.parser.parse(fuzzy=True) gives", { timeout: 10_000 }, () => check("fuzzy", (t) => parse(t, true)));

test("without fuzzy, what dateutil.parser.parse() gives", { timeout: 10_000 }, () => check("strict", (t) => parse(t, false)));

test("offsets and zone names together, in both orders", { timeout: 10_000 }, () => {
  const at = (t: string) => parse(t, true);
  // the numeric offset counts whichever side of a zone name it is on
  assert.equal(at("2019-07-01 15:15:15 CET +0100"), "2019-07-01T14:15:15+00:00");
  assert.equal(at("2019-07-01 15:15:15 +0100 CET"), "2019-07-01T14:15:15+00:00");
  assert.equal(at("Thu, 11 Jan 2018 13:52:37 +0100 (CET)"), "2018-01-11T12:52:37+00:00");
  // attached to a name, the sign is POSIX's: CET+0100 is one hour behind UTC
  assert.equal(at("2019-07-01 15:15:15 CET+0100"), "2019-07-01T16:15:15+00:00");
  assert.equal(at("2019-07-01 15:15:15 GMT+3"), "2019-07-01T18:15:15+00:00");
  // a zone name alone that dateutil does not know leaves the time as it is (UTC)
  assert.equal(at("2019-07-01 15:15:15 EST"), "2019-07-01T15:15:15+00:00");
  // an offset with a UTC name is ignored
  assert.equal(at("2019-07-01 15:15:15 UTC -0300"), "2019-07-01T15:15:15+00:00");
});
