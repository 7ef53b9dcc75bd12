// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot, { removeAffix } from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });

test("removeAffix: prefix or suffix, only when present", () => {
  assert.equal(removeAffix("www.example.com", "www.", true), "example.com");
  assert.equal(removeAffix("example.com", "www.", true), "example.com");
  assert.equal(removeAffix("host.example.com", ".example.com", false), "host");
  assert.equal(removeAffix("host.example.net", ".example.com", false), "host.example.net");
  assert.equal(removeAffix("abc", "", false), "abc", "an empty suffix removes nothing");
});

test("remove_affix: www. from source.fqdn by default, any field and suffix on request", async () => {
  const out = await runBot(bot, { params: {}, input: [ev({ "source.fqdn": "www.example.com" }), ev({ "source.ip": "192.0.2.1" })] });
  assert.equal(out.output._default![0]!["source.fqdn"], "example.com");
  assert.deepEqual(out.output._default![1], ev({ "source.ip": "192.0.2.1" }));
  const suffix = await runBot(bot, {
    params: { remove_prefix: "false", affix: ".example.com", field: "destination.fqdn" },
    input: [ev({ "destination.fqdn": "mail.example.com" })],
  });
  assert.equal(suffix.output._default![0]!["destination.fqdn"], "mail");
});

test("remove_affix: removing the whole value removes the field (an empty value is no value, as in IntelMQ)", async () => {
  const out = await runBot(bot, { params: { affix: "www.example.com" }, input: [ev({ "source.fqdn": "www.example.com", "source.ip": "192.0.2.1" })] });
  assert.deepEqual(out.output._default, [ev({ "source.ip": "192.0.2.1" })]);
  assert.equal(out.dumped, 0);
});
