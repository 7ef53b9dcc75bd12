// SPDX-License-Identifier: AGPL-3.0-only
// A loopback HTTP server speaking Elasticsearch's index, template and bulk API (per-item errors included).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { encodeEnvelope } from "../../../shared/message/index.js";
import { startHttpPeer, type PeerRequest } from "../../../test/helpers/http-peer.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ev = (ip: string, extra: Record<string, unknown> = {}) => ({
  __type: "Event", "source.ip": ip, "time.source": "2024-09-01T05:06:07+00:00", "time.observation": "2024-09-16T10:00:00+00:00", raw: "eA==", ...extra,
});

/** Indices of documents by _id; `refuse` answers that many next bulk items with 429. */
async function elastic(opts: { templates?: string[]; indices?: string[]; refuse?: number } = {}) {
  const docs = new Map<string, Map<string, unknown>>();
  for (const i of opts.indices ?? []) docs.set(i, new Map());
  let refuse = opts.refuse ?? 0;
  let writes = 0;
  const peer = await startHttpPeer((r: PeerRequest) => {
    const path = decodeURIComponent(r.path);
    if (r.method === "HEAD" && path.startsWith("/_template/")) return { status: (opts.templates ?? []).includes(path.slice(11)) ? 200 : 404 };
    if (r.method === "HEAD") return { status: docs.has(path.slice(1)) ? 200 : 404 };
    if (r.method === "PUT") { docs.set(path.slice(1), new Map()); return { body: { acknowledged: true } }; }
    if (r.method === "POST" && path === "/_bulk") {
      assert.equal(r.headers["content-type"], "application/x-ndjson");
      const lines = r.body.split("\n").filter(Boolean);
      const items = [];
      for (let i = 0; i < lines.length; i += 2) {
        const { index } = JSON.parse(lines[i]!) as { index: { _index: string; _id: string } };
        if (refuse > 0) { refuse--; items.push({ index: { _index: index._index, status: 429, error: { type: "es_rejected_execution_exception" } } }); continue; }
        if (!docs.has(index._index)) docs.set(index._index, new Map());
        docs.get(index._index)!.set(index._id, JSON.parse(lines[i + 1]!));
        writes++;
        items.push({ index: { _index: index._index, _id: index._id, status: 201 } });
      }
      return { body: { took: 1, errors: items.some((it) => it.index.status >= 300), items } };
    }
    return { status: 400, body: { error: "unexpected" } };
  });
  return { peer, docs, writes: () => writes, params: { elastic_port: peer.port } };
}

test("one bulk request per input: documents as IntelMQ's flat to_dict (extra.* keys, raw kept), the index created when missing", async () => {
  const es = await elastic();
  const out = await runBot(bot, { params: { ...HARNESS, ...es.params }, input: [ev("192.0.2.1", { "extra.a": 1, "extra.b": "x" })] });
  assert.equal(out.dumped, 0);
  assert.deepEqual(es.peer.requests.map((r) => `${r.method} ${r.path}`), ["HEAD /intelmq", "PUT /intelmq", "POST /_bulk"]);
  const [doc] = [...es.docs.get("intelmq")!.values()];
  assert.deepEqual(doc, { "extra.a": 1, "extra.b": "x", raw: "eA==", "source.ip": "192.0.2.1", "time.observation": "2024-09-16T10:00:00+00:00", "time.source": "2024-09-01T05:06:07+00:00" });
  await es.peer.close();
});

test("replacement_char replaces the dots of keys", async () => {
  const es = await elastic({ indices: ["intelmq"] });
  await runBot(bot, { params: { ...HARNESS, ...es.params, replacement_char: "_" }, input: [ev("192.0.2.1")] });
  assert.deepEqual(Object.keys([...es.docs.get("intelmq")!.values()][0] as object).sort(), ["raw", "source_ip", "time_observation", "time_source"]);
  await es.peer.close();
});

test("rotate_index: the template must exist; indices by time.source, else time.observation (exact +00:00 form only)", async () => {
  const none = await elastic();
  await assert.rejects(runBot(bot, { params: { ...HARNESS, ...none.params, rotate_index: "daily" }, input: [] }), /no template with the name 'intelmq'/);
  await none.peer.close();
  for (const [rotate, index] of [["daily", "intelmq-2024-09-01"], ["weekly", "intelmq-2024-35"], ["monthly", "intelmq-2024-09"], ["yearly", "intelmq-2024"]]) {
    const es = await elastic({ templates: ["intelmq"] });
    await runBot(bot, { params: { ...HARNESS, ...es.params, rotate_index: rotate }, input: [ev("192.0.2.1")] });
    assert.deepEqual([...es.docs.keys()], [index], rotate);
    await es.peer.close();
  }
  const es = await elastic({ templates: ["intelmq"] });
  await runBot(bot, { params: { ...HARNESS, ...es.params, rotate_index: "daily" }, input: [ev("192.0.2.1", { "time.source": "2024-09-01T05:06:07.5+00:00" })] });
  assert.deepEqual([...es.docs.keys()], ["intelmq-2024-09-16"]);
  await es.peer.close();
});

test("items refused in the bulk answer are sent again, the accepted ones not; under the same _ids", async () => {
  const es = await elastic({ indices: ["intelmq"], refuse: 2 });
  const b = await createLibraryBot(bot, { params: { ...es.params, error_max_retries: 3, error_retry_delay: 0 } });
  const envelope = encodeEnvelope([ev("192.0.2.1"), ev("192.0.2.2"), ev("192.0.2.3")]);
  try {
    assert.equal((await b.process([envelope])).dumped, 0);
    const bulks = es.peer.requests.filter((r) => r.path === "/_bulk").map((r) => r.body.split("\n").filter(Boolean).length / 2);
    assert.deepEqual(bulks, [3, 2], "two items of three refused, then those two sent again");
    assert.equal(es.docs.get("intelmq")!.size, 3);
    assert.equal(es.writes(), 3, "each document written once");
    // A redelivery keeps the input's key (queue, stream sequence, content), hence the same _ids.
    const ids = es.peer.requests.filter((r) => r.path === "/_bulk").map((r) => r.body.split("\n").filter(Boolean).filter((_, i) => i % 2 === 0).map((l) => (JSON.parse(l) as { index: { _id: string } }).index._id));
    assert.deepEqual(ids[1], ids[0]!.slice(0, 2), "resent under the same _ids");
  } finally {
    await b.shutdown();
    await es.peer.close();
  }
});

test("a failing bulk request (HTTP 500) fails the flush; the input is dumped after its retries", async () => {
  const peer = await startHttpPeer((r) => (r.method === "HEAD" ? { status: 200 } : { status: 500, body: { error: "boom" } }));
  const out = await runBot(bot, { params: { ...HARNESS, elastic_port: peer.port }, input: [ev("192.0.2.1")] });
  assert.equal(out.dumped, 1);
  await peer.close();
});
