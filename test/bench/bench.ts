// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `npm run bench`: the benchmark workload (test/helpers/workload.ts, 250 reports x 1,000 lines) through each of the
 * four benchmark bots alone and through the four-bot pipeline, as intelmq-bot processes on a
 * nats-server of its own. For each: events/s, latency per hop (p50/p99, from the bots' own
 * histograms: time from entering the input queue to the acknowledgement), peak RSS, CPU µs per
 * event (the bot, and nats-server; for the pipeline also each bot's share), and the ratio to
 * IntelMQ's figure on this machine scaled by the raw JetStream hop measured in the same run (the
 * median of three measurements, each by a fresh process, as the reference figure was taken).
 *
 * Then the other bots measured the same way (Shadowserver parser, sieve with 50 rules, cymru_whois
 * with a warm cache, SQL output into PostgreSQL), unless --no-extras.
 *
 *   npm run bench [-- --reports 250] [--runs 3] [--instances 1,2] [--batch-size 1000] [--no-extras] [--json]
 *
 * --runs N runs the four bots alone N times too, each time on a fresh server, and reports the run
 * with the median events/s (IntelMQ's figures are medians of three runs); the pipeline's N runs
 * are each reported.
 *
 * --batch-size sets runtime.yaml's batch_size (events per envelope) of the four bots, for
 * measuring the envelope size (shared/runtime/README.md, JetStream settings).
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { TestPipeline, benchBots, benchReport, benchWorkload, countLines, sleep, waitFor } from "../helpers/pipeline.js";
import type { HopResult } from "./broker-hop.js";
import { CpuMeter, botLatency, msText, peakRssMiB, quantileOf } from "./measure.js";
import { extras } from "./extras.js";
import type { Histogram } from "../../shared/runtime/index.js";

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const REPORTS = Number(arg("reports") ?? 250);
const RUNS = Number(arg("runs") ?? 1);
const INSTANCES = (arg("instances") ?? "").split(",").filter(Boolean).map(Number);
const JSON_OUT = argv.includes("--json");
const BATCH = arg("batch-size");
/** runtime.yaml's global section of the benchmark pipelines. */
const GLOBAL: Record<string, unknown> = BATCH ? { batch_size: Number(BATCH) } : {};
const LINES = REPORTS * 1000;
const UNIQUE = LINES * 0.8;

/** IntelMQ 3.3.2 on this machine class (2 cores), measured on the same workload with Redis as its broker. */
const INTELMQ = { parser: 3532, taxonomy: 2370, deduplicator: 1572, output: 2625, pipeline: 1152 };
/** The raw hop on this machine class when IntelMQ's figures were taken (15-21k msg/s; the middle). */
const HOP_REFERENCE = 18_000;
/** Hop measurements, the median of which scales the ratios. */
const HOP_RUNS = 3;

interface Row {
  what: string; events: number; seconds: number; eventsPerSec: number;
  p50ms: number | null; p99ms: number | null; latency: string;
  rssMiB: number | null; cpuUsPerEvent: number; natsCpuUsPerEvent: number;
  intelmq: number | null; ratio: number | null; scaledRatio: number | null;
  /** The pipeline's CPU µs per event, bot by bot. */
  cpuPerBot?: Record<string, number>;
  /** A bot alone run several times (--runs): each run's events/s; the row is the median run. */
  runsEventsPerSec?: number[];
}
const rows: Row[] = [];
let hopRate = 0;
const say = (s: string) => { if (!JSON_OUT) process.stdout.write(s + "\n"); };
const OUT_FILE = "var/lib/bots/file-output/events.txt";

function row(what: string, events: number, seconds: number, h: Histogram | null, rssMiB: number | null, cpu: number, natsCpu: number, intelmq: number | null, keep = true): Row {
  const eps = events / seconds;
  const ratio = intelmq ? eps / intelmq : null;
  const r: Row = {
    what, events, seconds, eventsPerSec: Math.round(eps),
    p50ms: quantileOf(h, 0.5), p99ms: quantileOf(h, 0.99), latency: `${msText(h, 0.5)} / ${msText(h, 0.99)}`,
    rssMiB, cpuUsPerEvent: Math.round((cpu / events) * 1e6 * 10) / 10, natsCpuUsPerEvent: Math.round((natsCpu / events) * 1e6 * 10) / 10,
    intelmq, ratio: ratio && Math.round(ratio * 10) / 10, scaledRatio: ratio && Math.round(ratio * (HOP_REFERENCE / hopRate) * 10) / 10,
  };
  if (keep) rows.push(r);
  say(`  ${what}${keep ? "" : " (a run)"}: ${r.eventsPerSec.toLocaleString("en")} events/s, p50/p99 ${r.latency} ms, ${r.cpuUsPerEvent} µs CPU/event, peak RSS ${rssMiB ?? "?"} MiB`);
  return r;
}

/** One bot alone on a filled input queue; timing from its first output until its input is drained. */
async function alone(p: TestPipeline, nats: NatsServer, name: keyof typeof INTELMQ, input: string, output: string | null, events: number, instances = 1, label?: string, keep = true): Promise<Row> {
  const b = await p.broker();
  const id = `bench-${name}`;
  const procs = Array.from({ length: instances }, () => p.start(id));
  // The same bot id started twice: TestPipeline keeps the last; the meters keep every process.
  const cpu = new CpuMeter(() => procs.map((x) => x.child.pid));
  const natsCpu = new CpuMeter(() => [nats.pid]);
  const file = join(p.root, OUT_FILE);
  const started = async () => (output ? (await b.queues.depth(output)) > 0 : countLines(file) > 0);
  await waitFor(started, 120_000, `${name}: first output`, 5);
  cpu.start(); natsCpu.start();
  const t0 = performance.now();
  await waitFor(async () => (await b.queues.depth(input)) === 0 && (output !== null || countLines(file) >= events), 900_000, `${name}: input drained`, 20);
  const seconds = (performance.now() - t0) / 1000;
  const used = cpu.stop(); const natsUsed = natsCpu.stop();
  const h = await botLatency(b, id);
  const rss = Math.max(...procs.map((x) => peakRssMiB(x.child.pid) ?? 0));
  const r = row(label ?? `${name} alone`, events, seconds, h, rss, used, natsUsed, instances === 1 ? INTELMQ[name] : null, keep);
  for (const x of procs) { x.child.kill("SIGTERM"); await x.exited; }
  return r;
}

/** The four bots alone, RUNS times; the row of each is its median run by events/s. */
async function botsAlone(reports: Record<string, unknown>[]): Promise<void> {
  if (RUNS <= 1) {
    await bots(reports, true);
    return;
  }
  const runs: Row[][] = [];
  for (let run = 1; run <= RUNS; run++) runs.push(await bots(reports, false));
  for (let i = 0; i < runs[0]!.length; i++) {
    const these = runs.map((rs) => rs[i]!);
    const median = [...these].sort((a, b) => a.eventsPerSec - b.eventsPerSec)[Math.floor(these.length / 2)]!;
    median.runsEventsPerSec = these.map((r) => r.eventsPerSec);
    rows.push(median);
    say(`  ${median.what}, median of ${RUNS} runs (${these.map((r) => r.eventsPerSec.toLocaleString("en")).join(", ")} events/s): ${median.eventsPerSec.toLocaleString("en")} events/s, ${median.cpuUsPerEvent} µs CPU/event, peak RSS ${median.rssMiB ?? "?"} MiB`);
  }
}

async function bots(reports: Record<string, unknown>[], keep: boolean): Promise<Row[]> {
  const nats = await startNatsServer();
  const p = new TestPipeline(nats.url, benchBots(OUT_FILE), GLOBAL);
  try {
    const b = await p.broker();
    for (const q of ["parser", "taxonomy", "deduplicator", "output"]) await b.queues.ensure(`bench-${q}-queue`);
    await p.inject("bench-parser-queue", reports);
    const out = [
      await alone(p, nats, "parser", "bench-parser-queue", "bench-taxonomy-queue", LINES, 1, undefined, keep),
      await alone(p, nats, "taxonomy", "bench-taxonomy-queue", "bench-deduplicator-queue", LINES, 1, undefined, keep),
      await alone(p, nats, "deduplicator", "bench-deduplicator-queue", "bench-output-queue", LINES, 1, undefined, keep),
      await alone(p, nats, "output", "bench-output-queue", null, UNIQUE, 1, undefined, keep),
    ];
    const lines = countLines(join(p.root, OUT_FILE));
    if (lines !== UNIQUE) throw new Error(`file output holds ${lines} lines, expected ${UNIQUE}`);
    return out;
  } finally {
    await p.close();
    await nats.stop();
  }
}

/** The parser with 1, 2, ... instances on one queue while the rest of the pipeline is idle. */
async function scaleOut(reports: Record<string, unknown>[], counts: number[]): Promise<void> {
  for (const n of counts) {
    const nats = await startNatsServer();
    const p = new TestPipeline(nats.url, benchBots(OUT_FILE), GLOBAL);
    try {
      const b = await p.broker();
      await b.queues.ensure("bench-taxonomy-queue");
      await p.inject("bench-parser-queue", reports);
      await alone(p, nats, "parser", "bench-parser-queue", "bench-taxonomy-queue", LINES, n, `parser, ${n} instance${n === 1 ? "" : "s"}`);
    } finally {
      await p.close();
      await nats.stop();
    }
  }
}

/** All four at once on a fresh server (an empty deduplicator cache), from injecting to the last line written. */
async function pipeline(reports: Record<string, unknown>[], run: number): Promise<void> {
  const nats = await startNatsServer();
  const p = new TestPipeline(nats.url, benchBots(OUT_FILE), GLOBAL);
  try {
    const ids = ["bench-parser", "bench-taxonomy", "bench-deduplicator", "bench-output"];
    const procs = ids.map((id) => p.start(id));
    await sleep(2000); // start-up excluded
    const perBot = procs.map((x) => new CpuMeter(() => [x.child.pid]));
    const natsCpu = new CpuMeter(() => [nats.pid]);
    natsCpu.start();
    for (const m of perBot) m.start();
    const t0 = performance.now();
    await p.inject("bench-parser-queue", reports);
    await waitFor(() => countLines(join(p.root, OUT_FILE)) >= UNIQUE, 900_000, "pipeline output", 20);
    const seconds = (performance.now() - t0) / 1000;
    const natsUsed = natsCpu.stop();
    const split = perBot.map((m) => m.stop());
    const used = split.reduce((a, b) => a + b, 0);
    const b = await p.broker();
    const hops = await Promise.all(ids.map((id) => botLatency(b, id)));
    const rss = Math.max(...procs.map((x) => peakRssMiB(x.child.pid) ?? 0));
    const r = row(`pipeline (4 bots)${RUNS > 1 ? ` run ${run}` : ""}`, LINES, seconds, null, rss, used, natsUsed, INTELMQ.pipeline);
    r.latency = hops.map((h, i) => `${ids[i]!.slice(6)} ${msText(h, 0.5)}/${msText(h, 0.99)}`).join(", ");
    say(`    latency per hop p50/p99 ms: ${r.latency}`);
    r.cpuPerBot = Object.fromEntries(ids.map((id, i) => [id.slice(6), Math.round((split[i]! / LINES) * 1e7) / 10]));
    say(`    CPU µs/event per bot: ${Object.entries(r.cpuPerBot).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  } finally {
    await p.close();
    await nats.stop();
  }
}

/** One hop measurement by broker-hop.js in a process of its own, on a nats-server of its own: msg/s. */
function hopInFreshProcess(): number {
  const script = fileURLToPath(new URL("./broker-hop.js", import.meta.url));
  const out = execFileSync(process.execPath, [script, "20000", "500", "--json"], { encoding: "utf8", timeout: 120_000 });
  return (JSON.parse(out.trim().split("\n").pop()!) as HopResult).msgsPerSec;
}

async function main(): Promise<void> {
  say(`workload: ${REPORTS} reports x 1,000 lines (${LINES.toLocaleString("en")} lines, ${UNIQUE.toLocaleString("en")} unique)`);
  const reports = benchWorkload(REPORTS).map(benchReport);
  // The hop is measured as IntelMQ's reference figure was, by a fresh process (a warm one moves
  // a third more), and one run drifts by ±10 % here: the ratios are scaled by the median of three.
  const hops: number[] = [];
  for (let i = 0; i < HOP_RUNS; i++) hops.push(hopInFreshProcess());
  hopRate = [...hops].sort((a, b) => a - b)[Math.floor(HOP_RUNS / 2)]!;
  say(`raw JetStream hop (consume A -> publish B -> PubAck -> ack A, 500-byte messages): ${Math.round(hopRate).toLocaleString("en")} msg/s, median of ${hops.map((h) => Math.round(h).toLocaleString("en")).join(", ")} (reference ${HOP_REFERENCE.toLocaleString("en")})`);

  await botsAlone(reports);
  if (INSTANCES.length) await scaleOut(reports, INSTANCES);
  if (!argv.includes("--no-extras")) {
    for (const x of await extras(REPORTS, say)) row(x.what, x.events, x.seconds, x.latency, x.rssMiB, x.cpu, x.natsCpu, null);
  }
  for (let run = 1; run <= RUNS; run++) await pipeline(reports, run);

  if (JSON_OUT) {
    process.stdout.write(JSON.stringify({ reports: REPORTS, hop: { msgsPerSec: Math.round(hopRate), runs: hops.map(Math.round), reference: HOP_REFERENCE }, rows }) + "\n");
    return;
  }
  say("");
  say("| what | events/s | IntelMQ | x IntelMQ | x IntelMQ, hop-scaled | latency p50 / p99 ms | CPU µs/event (bot + nats) | peak RSS |");
  say("|---|---:|---:|---:|---:|---|---:|---:|");
  for (const r of rows) {
    say(`| ${r.what} | ${r.eventsPerSec.toLocaleString("en")} | ${r.intelmq?.toLocaleString("en") ?? ""} | ${r.ratio ?? ""} | ${r.scaledRatio ?? ""} | ${r.latency} | ${r.cpuUsPerEvent} + ${r.natsCpuUsPerEvent} | ${r.rssMiB ?? "?"} MiB |`);
  }
  say(`| raw JetStream hop | ${Math.round(hopRate).toLocaleString("en")} msg/s | | | | | | |`);
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
