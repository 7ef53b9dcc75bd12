// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { json, startPeer, testCollector, unb64, type Peer, type PeerRequest } from "../lib/testing.js";
import bot from "./index.js";

const KEY = "abcdef0123456789";

/** A MISP server: events with their tags; restSearch by tag, attach/remove tags. */
function misp(events: { uuid: string; info: string; tags: string[] }[], faults: { search?: boolean; attach?: string } = {}) {
  return (req: PeerRequest, res: Parameters<Peer["handler"]>[1]) => {
    if (req.headers.authorization !== KEY) return json(res, { message: "Authentication failed" }, 403);
    const body = JSON.parse(req.body.toString() || "{}") as { tags?: string; uuid?: string; tag?: string };
    if (req.url === "/events/restSearch") {
      if (faults.search) { res.writeHead(200, { "content-length": "5000" }); res.write("{\"response\": [{\"Ev", () => res.destroy()); return; }
      return json(res, { response: events.filter((e) => e.tags.includes(body.tags!)).map((e) => ({ Event: { uuid: e.uuid, info: e.info, Tag: e.tags.map((name) => ({ name })), id: "1" } })) });
    }
    const ev = events.find((e) => e.uuid === body.uuid);
    if (!ev) return json(res, { errors: "Invalid object." }, 404);
    if (req.url === "/tags/attachTagToObject") {
      if (faults.attach === ev.uuid) return json(res, { errors: "Internal error" }, 500);
      if (!ev.tags.includes(body.tag!)) ev.tags.push(body.tag!);
      return json(res, { saved: true, success: "Tag attached." });
    }
    if (req.url === "/tags/removeTagFromObject") {
      ev.tags = ev.tags.filter((t) => t !== body.tag);
      return json(res, { saved: true, success: "Tag removed." });
    }
    json(res, { errors: "not found" }, 404);
  };
}

const params = (peer: Peer) => ({ name: "MISP", misp_url: `${peer.url}/`, misp_key: KEY, misp_tag_to_process: "to-process", misp_tag_processed: "processed" });

test("tagged events become reports of their sorted JSON, then are re-tagged", async () => {
  const events = [{ uuid: "u-1", info: "first", tags: ["to-process"] }, { uuid: "u-2", info: "other", tags: ["tlp:white"] }, { uuid: "u-3", info: "third", tags: ["to-process", "x"] }];
  const peer = await startPeer(misp(events));
  const c = await testCollector(bot, params(peer));
  try {
    const r = await c.round();
    assert.equal(r.failures, 0);
    assert.equal(r.reports.length, 2);
    assert.equal(unb64(r.reports[0]!.raw), '{"Tag": [{"name": "to-process"}], "id": "1", "info": "first", "uuid": "u-1"}');
    assert.equal(r.reports[0]!["feed.url"], `${peer.url}/`);
    assert.deepEqual(JSON.parse(peer.requests[0]!.body.toString()), { returnFormat: "json", tags: "to-process" });
    assert.deepEqual(events.map((e) => e.tags), [["processed"], ["tlp:white"], ["x", "processed"]]);
    assert.deepEqual((await c.round()).reports, [], "nothing is left to process");
  } finally {
    await c.shutdown();
    await peer.close();
  }
});

test("the search dropped midway: no report, no event re-tagged", async () => {
  const events = [{ uuid: "u-1", info: "first", tags: ["to-process"] }];
  const faults: { search?: boolean } = { search: true };
  const peer = await startPeer(misp(events, faults));
  const c = await testCollector(bot, params(peer));
  try {
    const r = await c.round();
    assert.equal(r.failures, 1);
    assert.deepEqual(r.reports, []);
    assert.deepEqual(events[0]!.tags, ["to-process"]);
    assert.ok(!peer.requests.some((q) => q.url.startsWith("/tags/")));
    faults.search = false;
    const r2 = await c.round();
    assert.deepEqual(r2.reports.map((x) => JSON.parse(unb64(x.raw)).uuid), ["u-1"]);
    assert.equal(r2.duplicates, 0);
    assert.deepEqual(events[0]!.tags, ["processed"]);
  } finally {
    await c.shutdown();
    await peer.close();
  }
});

test("tagging failing after the reports were stored: the events keep their tag and are not sent again, the tagging is redone", async () => {
  const events = [{ uuid: "u-1", info: "first", tags: ["to-process"] }, { uuid: "u-2", info: "second", tags: ["to-process"] }];
  const faults: { attach?: string } = { attach: "u-2" };
  const peer = await startPeer(misp(events, faults));
  const c = await testCollector(bot, params(peer));
  try {
    const r1 = await c.round();
    assert.equal(r1.failures, 1);
    assert.equal(r1.reports.length, 2, "both reports are stored");
    assert.deepEqual(events.map((e) => e.tags), [["processed"], ["to-process"]], "the second event is not marked");
    delete faults.attach;
    const r2 = await c.round();
    assert.equal(r2.failures, 0);
    assert.deepEqual(r2.reports, [], "no report sent twice");
    assert.deepEqual(events.map((e) => e.tags), [["processed"], ["processed"]]);
  } finally {
    await c.shutdown();
    await peer.close();
  }
});
