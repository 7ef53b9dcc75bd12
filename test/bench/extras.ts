// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The benchmark's other bots, each alone as an intelmq-bot process on a nats-server of its own:
 * the Shadowserver parser on generated scan_http reports, the sieve expert with 50 rules, the
 * cymru_whois expert with a warm cache (a real dnsmasq behind it), the SQL output into PostgreSQL.
 * Their input queues are filled before each starts; timing runs from the first output until the
 * input queue is empty (and, for the SQL output, every row is in the table).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { TestPipeline, benchReport, benchWorkload, waitFor, BENCH_COLUMNS } from "../helpers/pipeline.js";
import { shadowserverFileName, shadowserverScanReport } from "../helpers/shadowserver.js";
import { haveDnsmasq, startDnsmasq } from "../helpers/dnsmasq.js";
import { pgClient, pgParams } from "../helpers/sql.js";
import { generateInitdb } from "../../services/outputs/sql/initdb.js";
import { ROOT } from "../helpers/paths.js";
import { encodeEnvelope, HARMONIZED_HEADER } from "../../shared/message/index.js";
import { createLogger, runBot } from "../../shared/runtime/index.js";
import { CpuMeter, botLatency, peakRssMiB } from "./measure.js";
import type { Histogram } from "../../shared/runtime/index.js";
import csvParser from "../../services/parsers/generic_csv/index.js";
import taxonomy from "../../services/experts/taxonomy/index.js";

export interface ExtraResult { what: string; events: number; seconds: number; latency: Histogram | null; rssMiB: number | null; cpu: number; natsCpu: number }

/** Events as our parser and taxonomy expert make them from the workload (library mode). */
async function workloadEvents(reports: number): Promise<Record<string, unknown>[]> {
  const input = benchWorkload(reports).map(benchReport);
  const log = createLogger({ level: "CRITICAL" });
  const parsed = await runBot(csvParser, { params: { columns: BENCH_COLUMNS, delimiter: ",", default_url_protocol: "http://" }, input, log });
  const classified = await runBot(taxonomy, { params: {}, input: parsed.output._default!, log });
  return classified.output._default!;
}

/** Envelopes of 1,000 events, marked as coming from our bots (as a parser upstream sends them). */
async function injectEvents(p: TestPipeline, queue: string, events: Record<string, unknown>[], idPrefix: string): Promise<void> {
  const b = await p.broker();
  await b.queues.ensure(queue);
  for (let i = 0; i < events.length; i += 1000) {
    await b.queues.publish(queue, encodeEnvelope(events.slice(i, i + 1000)), { msgId: `${idPrefix}:${i}`, headers: { [HARMONIZED_HEADER]: "1" } });
  }
}

async function measure(p: TestPipeline, nats: NatsServer, id: string, what: string, input: string, events: number, done: () => Promise<boolean>, started: () => Promise<boolean>): Promise<ExtraResult> {
  const b = await p.broker();
  const proc = p.start(id);
  const cpu = new CpuMeter(() => [proc.child.pid]);
  const natsCpu = new CpuMeter(() => [nats.pid]);
  await waitFor(started, 120_000, `${what}: first output`, 5);
  cpu.start(); natsCpu.start();
  const t0 = performance.now();
  await waitFor(async () => (await b.queues.depth(input)) === 0 && (await done()), 900_000, `${what}: input drained`, 20);
  const seconds = (performance.now() - t0) / 1000;
  const r = { what, events, seconds, latency: await botLatency(b, id), rssMiB: peakRssMiB(proc.child.pid), cpu: cpu.stop(), natsCpu: natsCpu.stop() };
  await p.kill(id, "SIGTERM");
  return r;
}

/** The Shadowserver parser on `reports` scan_http reports of 1,000 lines. */
export async function shadowserverBench(reports: number): Promise<ExtraResult> {
  const nats = await startNatsServer();
  const p = new TestPipeline(nats.url, {
    "bench-shadowserver": {
      module: "intelmq.bots.parsers.shadowserver.parser", name: "Shadowserver", group: "Parser", enabled: true,
      parameters: { destination_queues: { _default: ["bench-shadowserver-out"] } },
    },
  });
  try {
    const b = await p.broker();
    await b.queues.ensure("bench-shadowserver-out");
    const list = Array.from({ length: reports }, (_, i) => ({
      __type: "Report", "feed.name": "Shadowserver Scan HTTP", "extra.file_name": shadowserverFileName("scan_http"),
      "time.observation": "2024-01-16T00:00:00+00:00", raw: Buffer.from(shadowserverScanReport(1000, i + 1)).toString("base64"),
    }));
    await p.inject("bench-shadowserver-queue", list);
    return await measure(p, nats, "bench-shadowserver", "shadowserver parser alone (scan_http)", "bench-shadowserver-queue", reports * 1000,
      async () => true, async () => (await b.queues.depth("bench-shadowserver-out")) > 0);
  } finally {
    await p.close();
    await nats.stop();
  }
}

/** The sieve expert with the 50 rules of services/experts/sieve/fixtures/bench-50.sieve. */
export async function sieveBench(events: Record<string, unknown>[]): Promise<ExtraResult> {
  const nats = await startNatsServer();
  const p = new TestPipeline(nats.url, {
    "bench-sieve": {
      module: "intelmq.bots.experts.sieve.expert", name: "Sieve", group: "Expert", enabled: true,
      parameters: {
        file: join(ROOT, "services", "experts", "sieve", "fixtures", "bench-50.sieve"),
        destination_queues: { _default: ["bench-sieve-out"], "abuse-ch": ["bench-sieve-out"], vulnerable: ["bench-sieve-out"] },
      },
    },
  });
  try {
    const b = await p.broker();
    await b.queues.ensure("bench-sieve-out");
    await injectEvents(p, "bench-sieve-queue", events, "sieve");
    return await measure(p, nats, "bench-sieve", "sieve expert alone (50 rules)", "bench-sieve-queue", events.length,
      async () => true, async () => (await b.queues.depth("bench-sieve-out")) > 0);
  } finally {
    await p.close();
    await nats.stop();
  }
}

/** cymru_whois with a warm cache: a first pass over the events fills it, the second is measured. */
export async function cymruBench(events: Record<string, unknown>[]): Promise<ExtraResult | null> {
  if (!haveDnsmasq()) return null;
  // 500 addresses, each with its origin and AS records in a real DNS server.
  const ips = Array.from({ length: 500 }, (_, i) => `${["192.0.2", "198.51.100"][i % 2]}.${(i >> 1) + 1}`);
  const records = ips.flatMap((ip) => [`--txt-record=${ip.split(".").reverse().join(".")}.origin.asn.cymru.com,64496 | ${ip.split(".").slice(0, 3).join(".")}.0/24 | AT | ripencc | 2010-01-01`]);
  records.push("--txt-record=AS64496.asn.cymru.com,64496 | AT | ripencc | 2010-01-01 | EXAMPLE-AS, AT");
  const dns = await startDnsmasq({ zones: ["cymru.com"], records });
  const nats = await startNatsServer();
  const p = new TestPipeline(nats.url, {
    "bench-cymru": {
      module: "intelmq.bots.experts.cymru_whois.expert", name: "Cymru", group: "Expert", enabled: true,
      parameters: { dns_server: dns.server, destination_queues: { _default: ["bench-cymru-out"] } },
    },
  });
  try {
    const b = await p.broker();
    await b.queues.ensure("bench-cymru-out");
    const mine = events.map((e, i) => ({ ...e, "source.ip": ips[i % ips.length] }));
    await injectEvents(p, "bench-cymru-queue", mine.slice(0, 5000), "warm");
    const warm = p.start("bench-cymru");
    await waitFor(async () => (await b.queues.depth("bench-cymru-queue")) === 0, 300_000, "cymru: cache warmed", 50);
    await p.kill("bench-cymru", "SIGTERM");
    void warm;
    await b.queues.purge("bench-cymru-out");
    await injectEvents(p, "bench-cymru-queue", mine, "measured");
    return await measure(p, nats, "bench-cymru", "cymru_whois expert alone (warm cache)", "bench-cymru-queue", mine.length,
      async () => true, async () => (await b.queues.depth("bench-cymru-out")) > 0);
  } finally {
    await p.close();
    await nats.stop();
    await dns.stop();
  }
}

/** The SQL output into an eventdb table of PostgreSQL. */
export async function sqlBench(events: Record<string, unknown>[]): Promise<ExtraResult | null> {
  let client;
  try { client = await pgClient(); } catch { return null; }
  const table = `bench_events_${process.pid}`;
  await client.query(`DROP TABLE IF EXISTS ${table}`);
  // IntelMQ's eventdb table, as intelmq_psql_initdb makes it from etc/harmonization.conf, under the benchmark's name.
  const harmonization = JSON.parse(readFileSync(join(ROOT, "etc", "harmonization.conf"), "utf8")) as Parameters<typeof generateInitdb>[0];
  await client.query(generateInitdb(harmonization).replace("CREATE TABLE events (", `CREATE TABLE ${table} (`)
    .replaceAll(" ON events ", ` ON ${table} `).replaceAll('"idx_events_', `"idx_${table}_`));
  const nats = await startNatsServer();
  const p = new TestPipeline(nats.url, {
    "bench-sql": {
      module: "intelmq.bots.outputs.sql.output", name: "SQL", group: "Output", enabled: true,
      parameters: pgParams(table),
    },
  });
  const rows = async () => Number((await client.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
  try {
    await injectEvents(p, "bench-sql-queue", events, "sql");
    return await measure(p, nats, "bench-sql", "sql output alone (PostgreSQL)", "bench-sql-queue", events.length,
      async () => (await rows()) >= events.length, async () => (await rows()) > 0);
  } finally {
    await p.close();
    await nats.stop();
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
  }
}

export async function extras(reports: number, say: (s: string) => void): Promise<ExtraResult[]> {
  const out: ExtraResult[] = [];
  const events = await workloadEvents(Math.min(reports, 100));
  out.push(await shadowserverBench(Math.min(reports, 100)));
  out.push(await sieveBench(events.slice(0, 50_000)));
  const cymru = await cymruBench(events.slice(0, 50_000));
  if (cymru) out.push(cymru); else say("  cymru_whois: skipped (dnsmasq is not installed)");
  const sql = await sqlBench(events);
  if (sql) out.push(sql); else say("  sql output: skipped (no PostgreSQL on 127.0.0.1:5432)");
  return out;
}
