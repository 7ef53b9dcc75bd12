// SPDX-License-Identifier: AGPL-3.0-only
// A loopback HTTP server speaking MISP's events/restSearch, events/add, events/edit and events/publish.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { startHttpPeer, type PeerRequest } from "../../../test/helpers/http-peer.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ev = (fqdn: string) => ({ __type: "Event", "source.fqdn": fqdn, "source.asn": 64496, "feed.provider": "Prov", "feed.name": "Feed", "extra.k": "v" });

interface Stored { id: string; Tag: { name: string }[]; Object: { name: string; Attribute: { object_relation: string; value: string; type: string; to_ids: boolean; disable_correlation: boolean }[] }[]; timestamp?: string; published?: boolean }

async function misp() {
  const events: Stored[] = [];
  const peer = await startHttpPeer((r: PeerRequest) => {
    if (r.headers.authorization !== "k3y") return { status: 403, body: { message: "Authentication failed" } };
    const body = JSON.parse(r.body || "{}") as Record<string, unknown>;
    if (r.path === "/events/restSearch") {
      const and = (body.value as { AND: string[] }).AND;
      const hits = events.filter((e) => e.Tag.some((t) => t.name === body.tags) && and.every((v) => e.Object[0]!.Attribute.some((a) => a.value === v)));
      return { body: { response: hits.map((e) => ({ Event: e })) } };
    }
    if (r.path === "/events/add") {
      const e = { ...(body.Event as Stored), id: String(events.length + 1) };
      events.push(e);
      return { body: { Event: e } };
    }
    const edit = /^\/events\/edit\/(\d+)$/.exec(r.path);
    if (edit) { events[Number(edit[1]) - 1]!.timestamp = (body.Event as Stored).timestamp; return { body: { Event: body.Event } }; }
    const pub = /^\/events\/publish\/(\d+)$/.exec(r.path);
    if (pub) { events[Number(pub[1]) - 1]!.published = true; return { body: { saved: true } }; }
    return { status: 404 };
  });
  return { peer, events, params: { misp_url: peer.url, misp_key: "k3y", misp_tag_for_bot: "intelmq", significant_fields: "source.fqdn" } };
}

test("a new MISP event: tags, one intelmq_event object, correlation and to_ids flags; published when asked", async () => {
  const m = await misp();
  const out = await runBot(bot, { params: { ...HARNESS, ...m.params, misp_additional_tags: "OSINT", misp_to_ids_fields: "source.fqdn", misp_publish: true }, input: [ev("bad.example.org")] });
  assert.equal(out.dumped, 0);
  const [e] = m.events;
  assert.deepEqual(e!.Tag.map((t) => t.name), ["intelmq", 'IntelMQ:feed.provider="Prov"', 'IntelMQ:feed.name="Feed"', "OSINT"]);
  const attr = (rel: string) => e!.Object[0]!.Attribute.find((a) => a.object_relation === rel)!;
  assert.deepEqual({ ...attr("source.fqdn") }, { object_relation: "source.fqdn", type: "hostname", value: "bad.example.org", disable_correlation: false, to_ids: true });
  assert.equal(attr("source.asn").value, "64496");
  assert.equal(attr("source.asn").disable_correlation, true);
  assert.equal(attr("extra").value, '{"k": "v"}');
  assert.equal(e!.published, true);
  await m.peer.close();
});

test("an event MISP has already (a retry, a repeat) is not inserted again: its timestamp is renewed", async () => {
  const m = await misp();
  await runBot(bot, { params: { ...HARNESS, ...m.params }, input: [ev("bad.example.org"), ev("bad.example.org"), ev("other.example.org")] });
  assert.equal(m.events.length, 2);
  assert.ok(m.events[0]!.timestamp);
  await m.peer.close();
});

test("required parameters; MISP refusing fails the flush and the input is dumped", async () => {
  await assert.rejects(runBot(bot, { params: HARNESS, input: [] }), /misp_key, misp_tag_for_bot, misp_url, significant_fields/);
  const m = await misp();
  assert.equal((await runBot(bot, { params: { ...HARNESS, ...m.params, misp_key: "bad" }, input: [ev("x.example.org")] })).dumped, 1);
  await m.peer.close();
});
