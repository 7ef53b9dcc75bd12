// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot, { TAXONOMY } from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";

async function one(input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out = await runBot(bot, { params: {}, input: [{ __type: "Event", "time.observation": OBS, ...input }] });
  assert.equal(out.dumped, 0);
  assert.equal(out.output._default?.length, 1);
  return out.output._default![0]!;
}

test("taxonomy: set from the type", async () => {
  const ev = await one({ "classification.type": "unauthorised-information-modification" });
  assert.equal(ev["classification.taxonomy"], "information-content-security");
  assert.equal(ev["classification.type"], "unauthorised-information-modification");
});

test("taxonomy: types outside RSIT map to other", async () => {
  for (const type of ["malware", "blacklist", "dga-domain", "tor", "proxy"]) {
    assert.equal((await one({ "classification.type": type }))["classification.taxonomy"], "other", type);
  }
});

test("taxonomy: neither given -> other/undetermined", async () => {
  const ev = await one({});
  assert.equal(ev["classification.taxonomy"], "other");
  assert.equal(ev["classification.type"], "undetermined");
});

test("taxonomy: taxonomy given, type missing -> type undetermined, taxonomy kept", async () => {
  const ev = await one({ "classification.taxonomy": "vulnerable" });
  assert.equal(ev["classification.taxonomy"], "vulnerable");
  assert.equal(ev["classification.type"], "undetermined");
});

test("taxonomy: both given -> unchanged, even when they disagree", async () => {
  const ev = await one({ "classification.taxonomy": "vulnerable", "classification.type": "phishing" });
  assert.equal(ev["classification.taxonomy"], "vulnerable");
  assert.equal(ev["classification.type"], "phishing");
});

test("taxonomy: every table entry is accepted by the harmonization", async () => {
  const input = [...TAXONOMY.keys()].map((type) => ({ __type: "Event", "time.observation": OBS, "classification.type": type }));
  const out = await runBot(bot, { params: {}, input });
  assert.equal(out.dumped, 0);
  assert.deepEqual(out.output._default!.map((e) => e["classification.taxonomy"]), [...TAXONOMY.values()]);
});

test("taxonomy: unknown parameters are refused", () => {
  assert.throws(() => bot.params.parse({ overwrite: true }), (e: { name?: string; issues?: { code: string; keys?: string[] }[] }) =>
    e.name === "ZodError" && e.issues?.length === 1 && e.issues[0]!.code === "unrecognized_keys" && e.issues[0]!.keys?.join() === "overwrite");
});
