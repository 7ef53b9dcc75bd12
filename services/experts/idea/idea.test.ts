// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";

const INPUT = {
  "__type": "Event", "classification.type": "infected-system", "destination.ip": "2001:DB8::BB2B:F258", "destination.port": 22,
  "event_description.target": "DHL", "event_description.text": "Angler EK",
  "event_description.url": "http://www.phishtank.com/phish_detail.php?phish_id=3989866", "feed.accuracy": 100.0,
  "feed.name": "Malware Domain List", "feed.url": "http://www.malwaredomainlist.com/updatescsv.php",
  "misp.event_uuid": "81494d6a-0341-11e7-a0ef-002564d9514f", "protocol.application": "ssh", "protocol.transport": "tcp",
  "raw": Buffer.from("2016/04/20_14:28,wc9uj.lrva32xwd.top/SHnxBdE-rMTYfp-CShr/VKdtk-983-EjqJ/,185.141.25.60,-,Angler EK,Registrant maykoe@list.ru,60117").toString("base64"),
  "source.as_name": "PURDUE - Purdue University, US", "source.asn": 60117, "source.ip": "185.141.25.60", "source.network": "0.0.0.0/8",
  "source.reverse_dns": "customer.worldstream.nl", "source.url": "http://wc9uj.lrva32xwd.top/SHnxBdE-rMTYfp-CShr/VKdtk-983-EjqJ/",
  "time.observation": "2016-04-20T19:02:35+00:00", "time.source": "2016-04-20T14:28:00+00:00",
};
const IDEA = {
  Format: "IDEA0", Description: "Malware Domain List: Angler EK", Category: ["Malware"],
  DetectTime: "2016-04-20T19:02:35+00:00", EventTime: "2016-04-20T14:28:00+00:00", Confidence: 1,
  Ref: ["http://www.phishtank.com/phish_detail.php?phish_id=3989866", "misp_event:81494d6a-0341-11e7-a0ef-002564d9514f"],
  Target: [{ IP6: ["2001:DB8::BB2B:F258"], Port: [22], Proto: ["tcp", "ssh"] }],
  Source: [{ URL: ["http://wc9uj.lrva32xwd.top/SHnxBdE-rMTYfp-CShr/VKdtk-983-EjqJ/"], ASN: [60117], PTR: ["customer.worldstream.nl"], IP4: ["185.141.25.60"], Proto: ["tcp", "ssh"] }],
  Attach: [{ Content: "2016/04/20_14:28,wc9uj.lrva32xwd.top/SHnxBdE-rMTYfp-CShr/VKdtk-983-EjqJ/,185.141.25.60,-,Angler EK,Registrant maykoe@list.ru,60117", Type: ["OrigData"], Ref: ["http://www.malwaredomainlist.com/updatescsv.php"] }],
};

function idea(out: { output: Record<string, Record<string, unknown>[]> }): Record<string, unknown> {
  const ev = out.output._default![0]!;
  return JSON.parse(ev.output as string) as Record<string, unknown>;
}

test("idea: IntelMQ's conversion case (the random ID aside)", async () => {
  const out = await runBot(bot, { params: { test_mode: false }, input: [INPUT] });
  assert.equal(out.dumped, 0);
  const got = idea(out);
  assert.match(got.ID as string, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  delete got.ID;
  assert.deepEqual(got, IDEA);
  const { output: _o, ...rest } = out.output._default![0]!;
  assert.deepEqual(rest, INPUT);
});

test("idea: test mode, references quoted, tor nodes, local addresses, hashes", async () => {
  const ev = {
    "__type": "Event", "classification.type": "c2-server", "classification.identifier": "zeus bot/v2", "feed.accuracy": 50,
    "feed.name": "X", "comment": "a comment", "feed.code": "x&y", "source.tor_node": true, "destination.tor_node": false,
    "source.local_ip": "10.0.0.1", "destination.ip": "192.0.2.7", "malware.name": "zeus", "malware.hash.md5": "0123456789abcdef0123456789abcdef",
    "status": "online", "event_hash": "ABC",
  };
  const got = idea(await runBot(bot, { params: { test_mode: "true" }, input: [ev] }));
  delete got.ID;
  assert.deepEqual(got, {
    Format: "IDEA0", Description: "X: a comment", Category: ["Intrusion.Botnet", "Test"], RelID: "hash:ABC", Confidence: 0.5, Note: "a comment",
    Ref: ["malid:zeus+bot%2Fv2", "intelmq_feed:x%26y"],
    Attach: [{ Hash: ["md5:0123456789abcdef0123456789abcdef"], Ref: ["malware:zeus-"] }],
    Source: [{ Type: ["CC", "Tor"], LocalIP4: ["10.0.0.1"], Note: "online" }],
    Target: [{ Type: [false], IP4: ["192.0.2.7"], Note: "online" }],
  });
});

test("idea: an event that has output already is dumped (KeyExists)", async () => {
  const out = await runBot(bot, { params: { error_max_retries: 0 }, input: [{ __type: "Event", "feed.name": "x", "output": "\"y\"" }] });
  assert.equal(out.dumped, 1);
});
