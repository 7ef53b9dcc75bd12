// SPDX-License-Identifier: AGPL-3.0-only
// Bad input on a real nats-server: a malformed report line and an event that fails the
// harmonization land in the dumps stream with IntelMQ's reason text; the rest goes on.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer } from "../helpers/nats-server.js";
import { BENCH_COLUMNS, TestPipeline, countLines, waitFor } from "../helpers/pipeline.js";

describe("dumps on JetStream", { timeout: 120_000 }, () => {
  it("dumps a malformed line and an invalid event with their reasons, and delivers the rest", async () => {
    const nats = await startNatsServer();
    const out = "var/lib/bots/file-output/events.txt";
    const p = new TestPipeline(nats.url, {
      "dumps-parser": {
        module: "intelmq.bots.parsers.generic.parser_csv", name: "CSV", group: "Parser",
        parameters: { columns: BENCH_COLUMNS, delimiter: ",", destination_queues: { _default: ["dumps-taxonomy-queue"] } },
      },
      "dumps-taxonomy": {
        module: "intelmq.bots.experts.taxonomy.expert", name: "Taxonomy", group: "Expert",
        parameters: { destination_queues: { _default: ["dumps-output-queue"] } },
      },
      "dumps-output": { module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", parameters: { file: out } },
    });
    try {
      for (const id of ["dumps-parser", "dumps-taxonomy", "dumps-output"]) p.start(id);
      const csv = [
        "192.0.2.10,a.example.com,http://a.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496",
        "not-an-ip,b.example.com,http://b.example.com/y,2024-09-01 10:00:00,phishing,emotet,80,64496",
        "192.0.2.12,c.example.com,http://c.example.com/z,2024-09-01 10:00:00,scanner,mirai,23,64497",
      ].join("\n") + "\n";
      await p.inject("dumps-parser-queue", [{
        __type: "Report", "feed.name": "Dump Feed", "time.observation": "2024-09-16T10:00:00+00:00",
        raw: Buffer.from(csv).toString("base64"),
      }]);
      // Another tool feeds JSON: one good event and one whose source.ip fails the harmonization.
      const b = await p.broker();
      await b.queues.ensure("dumps-taxonomy-queue");
      const json = JSON.stringify([
        { __type: "Event", "feed.name": "Partner", "source.ip": "198.51.100.7", "classification.type": "scanner" },
        { __type: "Event", "feed.name": "Partner", "source.ip": "300.1.2.3", "classification.type": "scanner" },
      ]);
      await b.queues.publish("dumps-taxonomy-queue", new TextEncoder().encode(json), { headers: { "Content-Type": "application/json" }, msgId: "json-1" });

      const file = join(p.root, out);
      await waitFor(() => countLines(file) >= 3, 60_000, "three good events in the output");
      await waitFor(async () => (await b.dumps.read()).length >= 2, 30_000, "two dump entries");
      const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(lines.map((l) => l["source.ip"]).sort(), ["192.0.2.10", "192.0.2.12", "198.51.100.7"]);

      const parserDumps = await b.dumps.read("dumps-parser");
      assert.equal(parserDumps.length, 1);
      const pd = parserDumps[0];
      assert.equal(pd.bot_id, "dumps-parser");
      assert.equal(pd.source_queue, "dumps-parser-queue");
      const ptb = Array.isArray(pd.traceback) ? pd.traceback.join("\n") : pd.traceback;
      assert.match(ptb, /InvalidValue: invalid value 'not-an-ip' \(<class 'str'>\) for key 'source\.ip'/);
      const failedReport = JSON.parse(pd.message_type === "base64" ? Buffer.from(pd.message, "base64").toString() : pd.message) as Record<string, unknown>;
      assert.equal(failedReport.__type, "Report");
      assert.match(Buffer.from(String(failedReport.raw), "base64").toString(), /^not-an-ip,b\.example\.com/);

      const taxDumps = await b.dumps.read("dumps-taxonomy");
      assert.equal(taxDumps.length, 1);
      const td = taxDumps[0];
      const ttb = Array.isArray(td.traceback) ? td.traceback.join("\n") : td.traceback;
      assert.match(ttb, /InvalidValue: invalid value '300\.1\.2\.3' \(<class 'str'>\) for key 'source\.ip'/);
      const bad = JSON.parse(td.message_type === "base64" ? Buffer.from(td.message, "base64").toString() : td.message) as Record<string, unknown>;
      assert.equal(bad["source.ip"], "300.1.2.3");
      assert.equal(await b.queues.depth("dumps-taxonomy-queue"), 0, "the envelope with the invalid event was acknowledged");
    } finally {
      await p.close();
      await nats.stop();
    }
  });
});
