// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { tempDir } from "../../../test/helpers/tmp.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });

function list(): string {
  const f = join(tempDir("tor-"), "tor_nodes.dat");
  writeFileSync(f, "# exit nodes\n192.0.2.7\n\n2001:db8::7\n");
  return f;
}

test("tor_nodes: known exit nodes are marked, others left alone", async () => {
  const out = await runBot(bot, {
    params: { database: list() },
    input: [ev({ "source.ip": "192.0.2.7", "destination.ip": "2001:db8::7" }), ev({ "source.ip": "192.0.2.8" })],
  });
  const [a, b] = out.output._default!;
  assert.equal(a!["source.tor_node"], true);
  assert.equal(a!["destination.tor_node"], true);
  assert.deepEqual(b, ev({ "source.ip": "192.0.2.8" }));
});

test("tor_nodes: an existing tor_node is kept unless overwrite", async () => {
  const input = [ev({ "source.ip": "192.0.2.7", "source.tor_node": false })];
  assert.equal((await runBot(bot, { params: { database: list() }, input })).output._default![0]!["source.tor_node"], false);
  assert.equal((await runBot(bot, { params: { database: list(), overwrite: true }, input })).output._default![0]!["source.tor_node"], true);
});

test("tor_nodes: a missing list stops the bot, naming the parameter", async () => {
  await assert.rejects(runBot(bot, { params: { database: "/nonexistent/tor.dat" }, input: [] }), (e: Error) => /database/.test(e.message));
});
