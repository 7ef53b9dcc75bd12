// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot, { geohash } from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });

test("geohash: known points", () => {
  assert.equal(geohash(57.64911, 10.40744, 11), "u4pruydqqvj");
  assert.equal(geohash(42.6, -5.6, 5), "ezs42");
  assert.equal(geohash(-90, -180, 4), "0000");
});

test("geohash expert: both spaces, existing values kept unless overwrite", async () => {
  const input = [ev({
    "source.geolocation.latitude": 57.64911, "source.geolocation.longitude": 10.40744,
    "destination.geolocation.latitude": 42.6, "destination.geolocation.longitude": -5.6,
    "extra.destination.geolocation.geohash": "kept",
  })];
  const got = (await runBot(bot, { params: { precision: 5 }, input })).output._default![0]!;
  assert.equal(got["extra.source.geolocation.geohash"], "u4pru");
  assert.equal(got["extra.destination.geolocation.geohash"], "kept");
  const over = (await runBot(bot, { params: { precision: "5", overwrite: true }, input })).output._default![0]!;
  assert.equal(over["extra.destination.geolocation.geohash"], "ezs42");
  const none = ev({ "source.geolocation.latitude": 1.5 });
  assert.deepEqual((await runBot(bot, { params: {}, input: [none] })).output._default![0], none, "needs both coordinates");
});
