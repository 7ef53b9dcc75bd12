// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { updateDatabase } from "../../../shared/runtime/index.js";
import { serveFiles } from "../../../test/helpers/http-file.js";
import { waitFor } from "../../../test/helpers/pipeline.js";
import bot, { database, params } from "./index.js";
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

test("tor_nodes: --update-database installs a list that parses, refuses one that does not; the running bot reloads", async () => {
  const file = list();
  const srv = await serveFiles({ "/list": [200, "192.0.2.99\n"], "/html": [200, "<html>blocked</html>\n"] });
  const b = await createLibraryBot(bot, { params: { database: file } });
  try {
    const marked = async () => (await b.process([ev({ "source.ip": "192.0.2.99" })])).output._default![0]!["source.tor_node"];
    assert.equal(await marked(), undefined);
    await assert.rejects(updateDatabase(database, params.parse({ database: file, database_url: `${srv.base}/html` }), "/"), /not usable/);
    assert.match(readFileSync(file, "utf8"), /192.0.2.7/);
    const r = await updateDatabase(database, params.parse({ database: file, database_url: `${srv.base}/list` }), "/");
    assert.equal(r.summary, "1 addresses");
    await waitFor(async () => (await marked()) === true, 10_000, "the new list is loaded");
  } finally {
    await b.shutdown();
    await srv.close();
  }
});
