// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { src } from "../../test/helpers/paths.js";
import { callTypeMethod, fromPyData } from "./index.js";

interface Case { type: string; method: string; args: Record<string, unknown>; expected?: unknown; raises?: string; test: string }

const cases: Case[] = readFileSync(src("shared/harmonization/fixtures/harmonization-cases.jsonl"), "utf8")
  .split("\n").filter(Boolean).map((l) => JSON.parse(l));

test("IntelMQ's harmonization cases", async (t) => {
  assert.ok(cases.length >= 150);
  for (const [i, c] of cases.entries()) {
    await t.test(`${i} ${c.type}.${c.method}(${JSON.stringify(c.args)})`, () => {
      if (c.raises) {
        assert.throws(() => callTypeMethod(c.type, c.method, c.args), (e: { intelmqName?: string }) => e.intelmqName === c.raises);
      } else {
        assert.deepStrictEqual(callTypeMethod(c.type, c.method, c.args), fromPyData(c.expected ?? null));
      }
    });
  }
});
