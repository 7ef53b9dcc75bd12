// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { updateDatabase } from "../../../shared/runtime/index.js";
import { src } from "../../../test/helpers/paths.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { waitFor } from "../../../test/helpers/pipeline.js";
import bot, { database, params } from "./index.js";
import { parseRiskList } from "./risklist.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });
const FIXTURE = src("services", "experts", "recordedfuture_iprisk", "fixtures", "rfiprisk.dat");

function copy(): string {
  const f = join(tempDir("rf-"), "rfiprisk.dat");
  copyFileSync(FIXTURE, f);
  return f;
}

test("recordedfuture_iprisk: the risk of source and destination, 0 for addresses not listed", async () => {
  const out = await runBot(bot, { params: { database: copy() }, input: [ev({ "source.ip": "192.0.2.7", "destination.ip": "2001:db8::7" }), ev({ "source.ip": "10.0.0.1" })] });
  assert.deepEqual(out.output._default, [
    ev({ "source.ip": "192.0.2.7", "destination.ip": "2001:db8::7", "extra.rf_iprisk.source": 65, "extra.rf_iprisk.destination": 89 }),
    ev({ "source.ip": "10.0.0.1", "extra.rf_iprisk.source": 0 }),
  ]);
});

test("recordedfuture_iprisk: existing values are kept unless overwrite", async () => {
  const input = [ev({ "source.ip": "192.0.2.7", "extra.rf_iprisk.source": 10 })];
  assert.deepEqual((await runBot(bot, { params: { database: copy() }, input })).output._default, input);
  assert.equal((await runBot(bot, { params: { database: copy(), overwrite: true }, input })).output._default![0]!["extra.rf_iprisk.source"], 65);
});

test("recordedfuture_iprisk: quoted fields with commas, quotes and line breaks; a broken list is refused", () => {
  const db = parseRiskList('"Name","Risk","EvidenceDetails"\r\n"192.0.2.1","5","a, ""b""\nc"\r\n192.0.2.2,7,x\n');
  assert.deepEqual([...db], [["192.0.2.1", 5], ["192.0.2.2", 7]]);
  assert.throws(() => parseRiskList("<html>\n"), /Name/);
  assert.throws(() => parseRiskList('"Name","Risk"\n"192.0.2.1","high"\n'), /no integer/);
});

test("recordedfuture_iprisk: a missing list stops the bot", async () => {
  await assert.rejects(runBot(bot, { params: { database: "/nonexistent/rf.dat" }, input: [] }), /database/);
});

test("recordedfuture_iprisk: update from the configured URL with the API token (a tar.gz holding rfiprisk.dat); the running bot reloads", async () => {
  const dir = tempDir("rf-upd-");
  mkdirSync(join(dir, "pack"));
  writeFileSync(join(dir, "pack", "rfiprisk.dat"), '"Name","Risk"\n"192.0.2.7","99"\n');
  execFileSync("tar", ["czf", join(dir, "list.tgz"), "-C", join(dir, "pack"), "rfiprisk.dat"]);
  const tokens: (string | undefined)[] = [];
  const srv = createServer((req, res) => {
    tokens.push(req.headers["x-rftoken"] as string | undefined);
    res.writeHead(200);
    res.end(readFileSync(join(dir, "list.tgz")));
  });
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const file = copy();
  const prm = params.parse({ database: file, api_token: "tok-123", database_url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/risklist` });
  const b = await createLibraryBot(bot, { params: { database: file } });
  try {
    const risk = async () => (await b.process([ev({ "source.ip": "192.0.2.7" })])).output._default![0]!["extra.rf_iprisk.source"];
    assert.equal(await risk(), 65);
    const r = await updateDatabase(database, prm, dir);
    assert.equal(r.summary, "1 addresses");
    assert.deepEqual(tokens, ["tok-123"]);
    assert.equal(readFileSync(file, "utf8"), '"Name","Risk"\n"192.0.2.7","99"\n');
    await waitFor(async () => (await risk()) === 99, 10_000, "the new list is loaded");
  } finally {
    await b.shutdown();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});
