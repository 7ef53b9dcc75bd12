// SPDX-License-Identifier: AGPL-3.0-only
/** The runtime's parser driver: items, failed lines, default_fields, envelopes of batch_size. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { MemoryBroker } from "../broker/index.js";
import { decodeEnvelope, encodeEnvelope, type Report } from "../message/index.js";
import { defineBot, runBot, startBot, type BotContext, parserParams } from "./index.js";
import { log, b64, unb64, nextSettled, take, lineParser } from "./runner-fixtures.js";

const RAW = `# ignore this
2015/06/04 13:37 +00,example.org,192.0.2.3,reverse.example.net,example description,report@example.org,1

2015/06/04 13:38 +00,example.org,19a2.0.2.3,reverse.example.net,example description,report@example.org,1
2015/06/04 13:38 +00,example.org,19b2.0.2.3,reverse.example.net,example description,report@example.org,1
#ending line`;
const RAW_SPLIT = RAW.split("\n");
const REPORT = { "feed.url": "http://www.example.com/", "time.observation": "2015-08-11T13:03:40+00:00", raw: b64(RAW), __type: "Report", "feed.name": "Example" };
const EVENT = {
  "feed.url": "http://www.example.com/", "source.ip": "192.0.2.3", "time.source": "2015-06-04T13:37:00+00:00",
  "source.reverse_dns": "reverse.example.net", "source.fqdn": "example.org", "source.account": "report@example.org",
  "time.observation": "2015-08-11T13:03:40+00:00", __type: "Event", "classification.type": "malware-distribution",
  "event_description.text": "example description", "source.asn": 1, "feed.name": "Example", raw: b64(RAW_SPLIT.slice(0, 2).join("\n")),
};

/** IntelMQ's DummyParserBot of test_parser_bot.py, in our terms. */
const dummyParser = defineBot({
  kind: "parser", name: "dummy", intelmq: "test.parser", description: "",
  params: z.object({ ...parserParams }).strict(),
  create: (_p, ctx: BotContext) => {
    let tempdata: string[] = [];
    return {
      *parse(report: Report) {
        tempdata = [];
        for (const l of unb64(report.get("raw")).split("\n")) if (l.trim()) yield l.trim();
      },
      *parseLine(line: unknown, report: Report) {
        const s = String(line);
        if (s.startsWith("#")) { tempdata.push(s); return; }
        const ev = ctx.newEvent(report);
        const f = s.split(",");
        ev.add("time.source", f[0]);
        ev.add("source.fqdn", f[1]);
        ev.add("source.ip", f[2]);
        ev.add("source.reverse_dns", f[3]);
        ev.add("event_description.text", f[4]);
        ev.add("source.account", f[5]);
        ev.add("source.asn", f[6]);
        ev.add("classification.type", "malware-distribution");
        ev.add("raw", [...tempdata, s].join("\n"));
        yield ev;
      },
      recoverLine: (line: unknown) => [tempdata[0], String(line), tempdata[1]].join("\n"),
    };
  },
});

test("parser: failed lines dumped as report copies and sent to _on_error; other lines go on (IntelMQ test_event)", async () => {
  const r = await runBot(dummyParser, { input: [REPORT] });
  assert.deepEqual(r.output._default, [EVENT]);
  assert.equal(r.dumped, 2);
  const expectRaw = [3, 4].map((i) => b64([RAW_SPLIT[0], RAW_SPLIT[i], RAW_SPLIT[5]].join("\n")));
  assert.deepEqual(r.dumps.map((d) => JSON.parse(d.message).raw), expectRaw);
  for (const d of r.dumps) {
    assert.equal(typeof d.traceback, "string");
    assert.match(d.traceback as string, /InvalidValue.*source\.ip/);
    const { raw: _r, ...rest } = JSON.parse(d.message);
    const { raw: _r2, ...restReport } = REPORT;
    assert.deepEqual(rest, restReport);
  }
  assert.deepEqual(r.output._on_error!.map((m) => m.raw), expectRaw);
});

test("parser: default_fields added without overwrite (IntelMQ test_default_fields_parameter)", async () => {
  const r = await runBot(dummyParser, { params: { default_fields: { "protocol.application": "http", "source.ip": "10.0.0.1" } }, input: [REPORT] });
  assert.deepEqual(r.output._default, [{ ...EVENT, "protocol.application": "http" }]);
});

test("parser: bad default_fields stop a real bot, in tests the lines fail (IntelMQ test_bad_default_fields_parameter)", async () => {
  const r = await runBot(dummyParser, { params: { error_dump_message: false, default_fields: { invalid_key: 100000 } }, input: [REPORT] });
  assert.deepEqual(r.output._default, []);
  const broker = new MemoryBroker();
  const h = await startBot({ def: dummyParser, botId: "p", params: { default_fields: { "source.port": 100000 } }, broker, logger: log });
  assert.equal(await h.done, 1);
  await broker.close();
});

test("parser: copy_collector_provided_fields copies report fields into events", async () => {
  const report = { ...REPORT, "extra.file_name": "file.txt", "extra.field2": "value2" };
  const r = await runBot(dummyParser, { params: { copy_collector_provided_fields: ["extra.file_name", "extra.not_exists"] }, input: [report] });
  assert.deepEqual(r.output._default, [{ ...EVENT, "extra.file_name": "file.txt" }]);
});

test("parser: a report without raw is acked and dropped (IntelMQ test_missing_raw)", async () => {
  const r = await runBot(dummyParser, { input: [{ "feed.url": "http://www.example.com/", __type: "Report", "feed.name": "Example" }] });
  assert.deepEqual(r.output._default, []);
  assert.equal(r.dumped, 0);
});


test("parser: default parse, events of one report in envelopes of batch_size", async () => {
  const broker = new MemoryBroker();
  const raw = b64(" 192.0.2.1\n\n192.0.2.2 \r\n192.0.2.3\n192.0.2.4\n192.0.2.5\n");
  const h = await startBot({ def: lineParser, botId: "lp", params: { batch_size: 2, destination_queues: ["out"] }, broker, logger: log });
  const settled = nextSettled(h);
  await broker.queues.publish("lp-queue", encodeEnvelope([{ __type: "Report", raw }]));
  await settled;
  const sub = await broker.queues.consume("out");
  const envelopes = await take(sub, 3);
  assert.deepEqual(envelopes.map((d) => decodeEnvelope(d.data).map((e) => e["source.ip"])), [["192.0.2.1", "192.0.2.2"], ["192.0.2.3", "192.0.2.4"], ["192.0.2.5"]]);
  await sub.stop();
  await h.stop();
  await broker.close();
});
