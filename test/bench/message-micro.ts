// SPDX-License-Identifier: AGPL-3.0-only
// Micro-benchmark of what every bot does per event: decode the envelope, validate the event
// against the harmonization (messageFromDict), serialize it and encode the outgoing envelope.
// Run: node dist/test/bench/message-micro.js [events]
import { decodeEnvelope, encodeEnvelope, messageFromDict } from "../../shared/message/index.js";

const N = Number(process.argv[2] ?? 100000);
const TYPES = ["c2-server", "phishing", "malware-distribution", "scanner", "infected-system"];

function event(i: number): Record<string, unknown> {
  const ip = `${(i * 7919) % 223 + 1}.${(i >> 8) & 255}.${i & 255}.${(i * 31) % 254 + 1}`;
  const fqdn = `api${i % 97}.host${i % 1013}.example.cn`;
  const line = `${ip},${fqdn},https://${fqdn}/maple/${String(i).padStart(8, "0")}.exe,2024-09-09 17:42:00,c2-server,formbook,${1024 + (i % 60000)},${1 + (i % 400000)}\n`;
  return {
    "feed.accuracy": 100, "feed.name": "Bench Feed", "feed.provider": "Bench Provider",
    "feed.url": "https://feeds.example.org/bench.csv", "time.observation": "2024-09-16T10:00:00+00:00",
    "source.ip": ip, "source.fqdn": fqdn, "source.url": `https://${fqdn}/maple/${String(i).padStart(8, "0")}.exe`,
    "time.source": "2024-09-09T17:42:00+00:00", "classification.type": TYPES[i % TYPES.length],
    "malware.name": "formbook", "source.port": 1024 + (i % 60000), "source.asn": 1 + (i % 400000),
    "raw": Buffer.from(line).toString("base64"), "classification.taxonomy": "malicious-code",
    "classification.identifier": "formbook", "__type": "Event",
  };
}

function run(envelopes: Uint8Array[]): number {
  const t0 = process.hrtime.bigint();
  let out = 0;
  for (const env of envelopes) {
    const items = decodeEnvelope(env);
    const msgs = new Array(items.length);
    for (let i = 0; i < items.length; i++) msgs[i] = messageFromDict(items[i]!);
    out += encodeEnvelope(msgs).length;
  }
  const t1 = process.hrtime.bigint();
  if (out === 0) throw new Error("nothing encoded");
  return Number(t1 - t0) / 1000 / N;
}

for (const batch of [1, 50]) {
  const envelopes: Uint8Array[] = [];
  for (let i = 0; i < N; i += batch) {
    const evs = [];
    for (let j = i; j < Math.min(N, i + batch); j++) evs.push(event(j));
    envelopes.push(encodeEnvelope(evs));
  }
  run(envelopes.slice(0, Math.ceil(envelopes.length / 5))); // warm-up
  const us = Math.min(run(envelopes), run(envelopes), run(envelopes));
  process.stdout.write(`message-micro: ${N} events, ${batch} per envelope: ${us.toFixed(2)} µs/event (decode + messageFromDict + serialize + encode)\n`);
}
