// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { startPeer, testCollector, unb64, type Peer, type PeerRequest } from "../lib/testing.js";
import bot from "./index.js";

const NS = "http://taxii.mitre.org/messages/taxii_xml_binding-1.1";
const BASIC = "Basic " + Buffer.from("eset-user:pw").toString("base64");
const BLOCKS = [
  '[{"type": "url", "url": "http://malicious.example.com/a?x=1&y=2"}]',
  '[{"type": "url", "url": "http://bad.example.net/"}]',
  '[{"type": "url", "url": "http://third.example.org/"}]',
];

/** A TAXII 1.1 server: discovery names the poll service; results come in two parts. */
function taxii(state: { failPart2?: boolean; seen: string[] }, peer: () => Peer) {
  return (req: PeerRequest, res: ServerResponse) => {
    const body = req.body.toString();
    state.seen.push(body);
    const send = (xml: string) => { res.writeHead(200, { "content-type": "application/xml", "x-taxii-content-type": "urn:taxii.mitre.org:message:xml:1.1" }); res.end(xml); };
    if (req.headers.authorization !== BASIC) {
      return send(`<taxii_11:Status_Message xmlns:taxii_11="${NS}" message_id="1" in_response_to="0" status_type="UNAUTHORIZED"><taxii_11:Message>bad credentials</taxii_11:Message></taxii_11:Status_Message>`);
    }
    if (req.headers["x-taxii-content-type"] !== "urn:taxii.mitre.org:message:xml:1.1") { res.writeHead(400); return res.end(); }
    if (req.url === "/taxiiservice/discovery") {
      return send(`<taxii_11:Discovery_Response xmlns:taxii_11="${NS}" message_id="2" in_response_to="1">`
        + `<taxii_11:Service_Instance service_type="DISCOVERY" service_version="urn:taxii.mitre.org:services:1.1" available="true"><taxii_11:Protocol_Binding>urn:taxii.mitre.org:protocol:http:1.0</taxii_11:Protocol_Binding><taxii_11:Address>${peer().url}/taxiiservice/discovery</taxii_11:Address><taxii_11:Message_Binding>urn:taxii.mitre.org:message:xml:1.1</taxii_11:Message_Binding></taxii_11:Service_Instance>`
        + `<taxii_11:Service_Instance service_type="POLL" service_version="urn:taxii.mitre.org:services:1.1" available="true"><taxii_11:Protocol_Binding>urn:taxii.mitre.org:protocol:http:1.0</taxii_11:Protocol_Binding><taxii_11:Address>${peer().url}/taxiiservice/poll</taxii_11:Address><taxii_11:Message_Binding>urn:taxii.mitre.org:message:xml:1.1</taxii_11:Message_Binding></taxii_11:Service_Instance>`
        + `</taxii_11:Discovery_Response>`);
    }
    if (req.url === "/taxiiservice/poll") {
      const block = (s: string) => `<taxii_11:Content_Block><taxii_11:Content_Binding binding_id="urn:eset.com:json"/><taxii_11:Content>${s.replace(/&/g, "&amp;")}</taxii_11:Content></taxii_11:Content_Block>`;
      if (body.includes("Poll_Fulfillment")) {
        if (state.failPart2) { res.writeHead(500); return res.end("internal error"); }
        return send(`<taxii_11:Poll_Response xmlns:taxii_11="${NS}" message_id="4" in_response_to="3" collection_name="ei.urls.json" more="false" result_id="r1" result_part_number="2">${block(BLOCKS[2]!)}</taxii_11:Poll_Response>`);
      }
      return send(`<taxii_11:Poll_Response xmlns:taxii_11="${NS}" message_id="3" in_response_to="2" collection_name="ei.urls.json" more="true" result_id="r1" result_part_number="1">`
        + `${block(BLOCKS[0]!)}<taxii_11:Content_Block><taxii_11:Content_Binding binding_id="urn:eset.com:json"/><taxii_11:Content></taxii_11:Content></taxii_11:Content_Block>${block(BLOCKS[1]!)}</taxii_11:Poll_Response>`);
    }
    res.writeHead(404);
    res.end();
  };
}

async function setup(state: { failPart2?: boolean; seen: string[] }) {
  const holder: { peer?: Peer } = {};
  holder.peer = await startPeer(taxii(state, () => holder.peer!));
  return holder.peer;
}

test("every content block of every part is a report with extra.eset_feed and the discovery URL", async () => {
  const state = { seen: [] as string[] };
  const peer = await setup(state);
  const c = await testCollector(bot, { name: "ESET URLs", endpoint: "eti.eset.com", collection: "ei.urls.json", username: "eset-user", password: "pw", time_delta: 600, discovery_url: `${peer.url}/taxiiservice/discovery` });
  try {
    const r = await c.round();
    assert.equal(r.failures, 0);
    assert.deepEqual(r.reports.map((x) => unb64(x.raw)), BLOCKS, "the empty block is left out");
    assert.equal(r.reports[0]!["feed.url"], "https://eti.eset.com/taxiiservice/discovery");
    assert.equal(r.reports[0]!["extra.eset_feed"], "ei.urls.json");
    const poll = state.seen.find((b) => b.includes("Poll_Request"))!;
    const begin = /<taxii_11:Exclusive_Begin_Timestamp>([^<]+)</.exec(poll)![1]!;
    const end = /<taxii_11:Inclusive_End_Timestamp>([^<]+)</.exec(poll)![1]!;
    assert.equal(new Date(end).getTime() - new Date(begin).getTime(), 600_000);
    assert.match(poll, /collection_name="ei\.urls\.json"/);
    assert.match(state.seen.at(-1)!, /Poll_Fulfillment[^>]*result_id="r1" result_part_number="2"/);
  } finally {
    await c.shutdown();
    await peer.close();
  }
});

test("the second part failing sends nothing of the round; bad credentials fail the round", async () => {
  const state = { failPart2: true, seen: [] as string[] };
  const peer = await setup(state);
  const params = { collection: "ei.urls.json", username: "eset-user", password: "pw", discovery_url: `${peer.url}/taxiiservice/discovery` };
  const c = await testCollector(bot, params);
  try {
    const r = await c.round();
    assert.equal(r.failures, 1);
    assert.deepEqual(r.reports, [], "the first part is not sent alone");
    state.failPart2 = false;
    const r2 = await c.round();
    assert.equal(r2.failures, 0);
    assert.deepEqual(r2.reports.map((x) => unb64(x.raw)), BLOCKS, "every block of both parts, once");
    assert.equal(r2.duplicates, 0);
    const bad = await testCollector(bot, { ...params, password: "wrong" });
    const rb = await bad.round();
    assert.equal(rb.failures, 1);
    await bad.shutdown();
  } finally {
    await c.shutdown();
    await peer.close();
  }
});
