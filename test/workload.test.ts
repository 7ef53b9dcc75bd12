// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { WORKLOAD_COLUMNS, generateWorkload } from "./helpers/workload.js";

test("workload: the same seed gives the same bytes, another seed other bytes", () => {
  const a = generateWorkload({ reports: 3, lines: 200 });
  const b = generateWorkload({ reports: 3, lines: 200 });
  const c = generateWorkload({ reports: 3, lines: 200, seed: 7 });
  assert.deepEqual(a.reports, b.reports);
  assert.notDeepEqual(a.reports, c.reports);
});

test("workload: exactly every fifth line repeats an earlier line, the others are unique", () => {
  const w = generateWorkload({ reports: 4, lines: 1000 });
  assert.equal(w.reports.length, 4);
  const seen = new Set<string>();
  let i = 0;
  let repeats = 0;
  for (const text of w.reports) {
    assert.ok(text.endsWith("\n") && !text.includes("\r"));
    const rows = text.slice(0, -1).split("\n");
    assert.equal(rows.length, 1000);
    for (const row of rows) {
      const cols = row.split(",");
      assert.equal(cols.length, WORKLOAD_COLUMNS.length, row);
      assert.match(cols[0]!, /^\d+\.\d+\.\d+\.\d+$/);
      assert.match(cols[3]!, /^2024-09-(0[1-9]|1[0-5]) \d\d:\d\d:\d\d$/);
      if (i % 5 === 4) {
        assert.ok(seen.has(row), `line ${i} should repeat an earlier line`);
        repeats++;
      } else {
        assert.ok(!seen.has(row), `line ${i} should be new`);
        seen.add(row);
      }
      i++;
    }
  }
  assert.equal(repeats, 800);
  assert.equal(w.unique, 3200);
  assert.equal(seen.size, 3200);
});
