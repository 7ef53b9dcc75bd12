// SPDX-License-Identifier: AGPL-3.0-only
// The .mmdb files are written by test/helpers/mmdb.ts (MaxMind DB format 2.0) and read by the
// `maxmind` package, as a GeoLite2-City file from MaxMind would be.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { updateDatabase } from "../../../shared/runtime/index.js";
import { writeMmdb, type MmdbValue } from "../../../test/helpers/mmdb.js";
import { serveFiles } from "../../../test/helpers/http-file.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { waitFor } from "../../../test/helpers/pipeline.js";
import bot, { database, params } from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });

const city = (cc: string, reg: string, lat: number, lon: number, name?: string): MmdbValue => ({
  country: { iso_code: cc, names: { en: `country ${cc}` } },
  registered_country: { iso_code: reg },
  location: { latitude: { double: lat }, longitude: { double: lon }, accuracy_radius: 100 },
  ...(name ? { city: { geoname_id: 2761369, names: { en: name, de: `${name} (de)` } } } : {}),
});

const DB = writeMmdb({
  "192.0.2.0/24": city("AT", "DE", 48.2, 16.37, "Vienna"),
  "198.51.100.0/24": city("FR", "FR", 0, 2.35),
  "2001:db8::/32": city("JP", "US", 35.69, 139.69, "Tokyo"),
});

function file(data = DB): string {
  const f = join(tempDir("mmdb-"), "GeoLite2-City.mmdb");
  writeFileSync(f, data);
  return f;
}

test("maxmind_geoip: country, city, latitude and longitude of source and destination (IPv4 and IPv6)", async () => {
  const out = await runBot(bot, { params: { database: file() }, input: [ev({ "source.ip": "192.0.2.7", "destination.ip": "2001:db8::1" }), ev({ "source.ip": "203.0.113.1" })] });
  assert.equal(out.dumped, 0);
  assert.deepEqual(out.output._default, [
    ev({
      "source.ip": "192.0.2.7", "source.geolocation.cc": "AT", "source.geolocation.latitude": 48.2, "source.geolocation.longitude": 16.37, "source.geolocation.city": "Vienna",
      "destination.ip": "2001:db8::1", "destination.geolocation.cc": "JP", "destination.geolocation.latitude": 35.69, "destination.geolocation.longitude": 139.69, "destination.geolocation.city": "Tokyo",
    }),
    ev({ "source.ip": "203.0.113.1" }),
  ]);
});

test("maxmind_geoip: use_registered takes the registered country; a latitude of 0 is left out (as IntelMQ); existing values kept unless overwrite", async () => {
  const out = await runBot(bot, { params: { database: file(), use_registered: true }, input: [ev({ "source.ip": "192.0.2.7" }), ev({ "source.ip": "198.51.100.1" })] });
  assert.equal(out.output._default![0]!["source.geolocation.cc"], "DE");
  assert.deepEqual(out.output._default![1], ev({ "source.ip": "198.51.100.1", "source.geolocation.cc": "FR", "source.geolocation.longitude": 2.35 }));
  const input = [ev({ "source.ip": "192.0.2.7", "source.geolocation.cc": "XX" })];
  assert.equal((await runBot(bot, { params: { database: file() }, input })).output._default![0]!["source.geolocation.cc"], "XX");
  assert.equal((await runBot(bot, { params: { database: file(), overwrite: true }, input })).output._default![0]!["source.geolocation.cc"], "AT");
});

test("maxmind_geoip: a missing or broken database stops the bot", async () => {
  await assert.rejects(runBot(bot, { params: { database: "/nonexistent/x.mmdb" }, input: [] }), /database/);
  await assert.rejects(runBot(bot, { params: { database: file(Buffer.from("not a database")) }, input: [] }));
});

test("maxmind_geoip: --update-database takes GeoLite2-City.mmdb out of MaxMind's tar.gz, with the license key; the running bot reloads", async () => {
  const dir = tempDir("mmdb-upd-");
  mkdirSync(join(dir, "GeoLite2-City_20240101"));
  writeFileSync(join(dir, "GeoLite2-City_20240101", "GeoLite2-City.mmdb"), writeMmdb({ "192.0.2.0/24": city("NL", "NL", 52.37, 4.89, "Amsterdam") }));
  writeFileSync(join(dir, "GeoLite2-City_20240101", "COPYRIGHT.txt"), "test\n");
  execFileSync("tar", ["czf", join(dir, "db.tgz"), "-C", dir, "GeoLite2-City_20240101"]);
  const srv = await serveFiles({ "/geoip?key=k%2F1": [200, readFileSync(join(dir, "db.tgz"))], "/broken?key=k%2F1": [200, "<html></html>"] });
  const db = file();
  const b = await createLibraryBot(bot, { params: { database: db } });
  try {
    const cc = async () => (await b.process([ev({ "source.ip": "192.0.2.7" })])).output._default![0]!["source.geolocation.cc"];
    assert.equal(await cc(), "AT");
    const prm = (path: string, key = "k/1") => params.parse({ database: db, license_key: key, database_url: `${srv.base}/${path}?key={license_key}` });
    await assert.rejects(updateDatabase(database, prm("geoip", "<insert Maxmind license key>"), dir), /license_key/);
    await assert.rejects(updateDatabase(database, prm("broken"), dir), /not usable/);
    const r = await updateDatabase(database, prm("geoip"), dir);
    assert.match(r.summary, /GeoLite2-City/);
    await waitFor(async () => (await cc()) === "NL", 10_000, "the new database is loaded");
  } finally {
    await b.shutdown();
    await srv.close();
  }
});
