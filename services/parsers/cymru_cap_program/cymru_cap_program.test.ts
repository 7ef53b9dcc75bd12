// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const NEW = ["#generated on 20240102", "#category|address|asn|timestamp|optional_information|asninfo"];
const OLD = ["# Data file written at Tue Jan 02 10:00:00 2024 GMT", "# Format: report|ip|asn|timestamp|comments|asn_name"];
const report = (lines: string[]) => ({ __type: "Report", raw: b64([...lines, ""].join("\n")) });

test("cymru_cap_program: new format, categories and key-value comments, one event per destination port", async () => {
  const bot1 = "bot|192.0.2.1|64496|2024-01-02 03:04:05|family: Emotet;dest_addr: 198.51.100.1; dest_port: 80,443;protocol: 6;|Example Net, Inc., AT";
  const out = await runBot(bot, { params: HARNESS, input: [report([...NEW, "", bot1,
    "proxy|192.0.2.2|0|2024-01-02 03:04:06|socks4-1080;|Example Net, AT",
    "controller|192.0.2.3|64496|2024-01-02 03:04:07|family: x;hostname: c2.example.comport: 8080;|Example Net, AT",
  ])] });
  const [a, b, proxy, c2] = out.output._default!;
  assert.equal(out.output._default!.length, 4);
  assert.equal(a!["classification.type"], "infected-system");
  assert.equal(a!["malware.name"], "emotet");
  assert.equal(a!["destination.ip"], "198.51.100.1");
  assert.equal(a!["protocol.transport"], "tcp");
  assert.equal(a!["source.as_name"], "Example Net, Inc.");
  assert.equal(a!["source.geolocation.cc"], "AT");
  assert.equal(a!["time.source"], "2024-01-02T03:04:05+00:00");
  assert.deepEqual([a!["destination.port"], b!["destination.port"]], [80, 443]);
  assert.equal(unb64(a!.raw), [...NEW, bot1].join("\n"));
  assert.equal(proxy!["source.asn"], undefined, "AS 0 is no AS");
  assert.equal(proxy!["protocol.application"], "socks4");
  assert.equal(proxy!["source.port"], 1080);
  assert.equal(c2!["source.fqdn"], "c2.example.com");
  assert.equal(c2!["source.port"], 8080);
});

test("cymru_cap_program: old format, bots comments with a free description", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report([...OLD,
    "bots|192.0.2.1|64496|2024-01-02 10:00:05|srcport 1337 mwtype Some Malware destaddr 198.51.100.2 A Botnet|Example AS",
    "proxy|192.0.2.1|64496|2024-01-02 10:00:06|HTTP CONNECT (8080)|Example AS",
  ])] });
  const [bots, proxy] = out.output._default!;
  assert.equal(bots!["malware.name"], "some malware");
  assert.equal(bots!["extra.source_port"], 1337);
  assert.equal(bots!["destination.ip"], "198.51.100.2");
  assert.equal(bots!["event_description.text"], "A Botnet");
  assert.equal(bots!["source.as_name"], "Example AS");
  assert.equal(proxy!["extra.request"], "HTTP CONNECT (8080)");
});

test("cymru_cap_program: unknown categories and keys are dumped with the header, the others go on", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report([...NEW,
    "unheard|192.0.2.1|64496|2024-01-02 03:04:05||Example Net, AT",
    "scanner|192.0.2.1|64496|2024-01-02 03:04:05|colour: blue;|Example Net, AT",
    "scanner|192.0.2.1|64496|2024-01-02 03:04:05|port: 1234;|Example Net, AT",
    "scanner|192.0.2.1|64496",
  ])] });
  assert.deepEqual(out.output._default!.map((e) => e["source.port"]), [1234]);
  assert.equal(out.dumped, 3);
  const tracebacks = out.dumps.map((d) => String(d.traceback)).join("\n");
  assert.match(tracebacks, /Unknown category "unheard"/);
  assert.match(tracebacks, /Unknown key "colour" in comment of category "scanner"/);
  assert.match(tracebacks, /line has 3 fields, the CAP format has 6/);
  assert.deepEqual(out.dumps.map((d) => [dumpReason(d).match(/Unknown category|Unknown key|line has 3 fields/)?.[0], dumpedRaw(d)]), [
    ["Unknown category", [...NEW, "unheard|192.0.2.1|64496|2024-01-02 03:04:05||Example Net, AT"].join("\n")],
    ["Unknown key", [...NEW, "scanner|192.0.2.1|64496|2024-01-02 03:04:05|colour: blue;|Example Net, AT"].join("\n")],
    ["line has 3 fields", [...NEW, "scanner|192.0.2.1|64496"].join("\n")],
  ]);
});

test("cymru_cap_program: without a format header the lines fail", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(["spam|192.0.2.1|64496|2024-01-02 03:04:05||Example Net, AT"])] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /names no known format/);
  assert.equal(dumpedRaw(out.dumps[0]!), "spam|192.0.2.1|64496|2024-01-02 03:04:05||Example Net, AT");
});

test("cymru_cap_program: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "cymru_cap_program");
});
