// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `npm run bench`: the benchmark workload (test/helpers/workload.ts, 250 reports x 1,000 lines) through each of the
 * four benchmark bots alone and through the four-bot pipeline, as intelmq-bot processes on a
 * nats-server of its own. Prints events/s next to IntelMQ's figures on this machine, each bot's
 * peak RSS, and the raw JetStream hop rate measured in the same run.
 *
 *   npm run bench [-- --reports 250]
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer } from "../helpers/nats-server.js";
import { TestPipeline, benchBots, benchReport, benchWorkload, countLines, sleep, waitFor } from "../helpers/pipeline.js";
import { measureHop } from "./broker-hop.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const REPORTS = arg("reports", 250);
const LINES = REPORTS * 1000;
const UNIQUE = LINES * 0.8;

/** IntelMQ 3.3.2 on this machine class (2 cores), measured on the same workload with Redis as its broker. */
const INTELMQ = { parser: 3532, taxonomy: 2370, deduplicator: 1572, output: 2625, pipeline: 1152 };

interface Row { what: string; events: number; seconds: number; rssMiB: number | null; intelmq: number }
const rows: Row[] = [];
const out = (s: string) => process.stdout.write(s + "\n");

function peakRssMiB(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmHWM:\s+(\d+) kB/);
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch { return null; }
}

async function main(): Promise<void> {
  out(`workload: ${REPORTS} reports x 1,000 lines (${LINES.toLocaleString("en")} lines, ${UNIQUE.toLocaleString("en")} unique)`);
  const files = benchWorkload(REPORTS);
  const reports = files.map(benchReport);

  let nats = await startNatsServer();
  const hop = await measureHop({ url: nats.url, messages: 20_000, size: 500 });
  out(`raw JetStream hop (consume A -> publish B -> PubAck -> ack A, 500-byte messages): ${Math.round(hop.msgsPerSec).toLocaleString("en")} msg/s`);

  // Each bot alone: its input queue is filled first (by the stage before it), then it runs alone.
  // Timing runs from its first output until its input queue is empty (start-up excluded).
  const outFile = "var/lib/bots/file-output/events.txt";
  let p = new TestPipeline(nats.url, benchBots(outFile));
  const b = await p.broker();
  for (const q of ["parser", "taxonomy", "deduplicator", "output"]) await b.queues.ensure(`bench-${q}-queue`);
  await p.inject("bench-parser-queue", reports);

  const stages: [keyof typeof INTELMQ, string, string | null, number][] = [
    ["parser", "bench-parser-queue", "bench-taxonomy-queue", LINES],
    ["taxonomy", "bench-taxonomy-queue", "bench-deduplicator-queue", LINES],
    ["deduplicator", "bench-deduplicator-queue", "bench-output-queue", LINES],
    ["output", "bench-output-queue", null, UNIQUE],
  ];
  for (const [name, input, output, events] of stages) {
    const proc = p.start(`bench-${name}`);
    const file = join(p.root, outFile);
    const started = async () => (output ? (await b.queues.depth(output)) > 0 : countLines(file) > 0);
    await waitFor(started, 120_000, `${name}: first output`, 5);
    const t0 = performance.now();
    await waitFor(async () => (await b.queues.depth(input)) === 0 && (output !== null || countLines(file) >= events), 900_000, `${name}: input drained`, 20);
    const seconds = (performance.now() - t0) / 1000;
    rows.push({ what: `${name} alone`, events, seconds, rssMiB: peakRssMiB(proc.child.pid), intelmq: INTELMQ[name] });
    await p.kill(`bench-${name}`, "SIGTERM");
    out(`  ${name} alone: ${Math.round(events / seconds).toLocaleString("en")} events/s`);
  }
  if (countLines(join(p.root, outFile)) !== UNIQUE) throw new Error(`file output holds ${countLines(join(p.root, outFile))} lines, expected ${UNIQUE}`);
  await p.close();
  await nats.stop();

  // The pipeline: all four at once on a fresh server (an empty deduplicator cache).
  nats = await startNatsServer();
  p = new TestPipeline(nats.url, benchBots(outFile));
  const ids = ["bench-parser", "bench-taxonomy", "bench-deduplicator", "bench-output"];
  const procs = ids.map((id) => p.start(id));
  await sleep(2000); // start-up excluded
  const t0 = performance.now();
  await p.inject("bench-parser-queue", reports);
  await waitFor(() => countLines(join(p.root, outFile)) >= UNIQUE, 900_000, "pipeline output", 20);
  const seconds = (performance.now() - t0) / 1000;
  const rss = Math.max(...procs.map((x) => peakRssMiB(x.child.pid) ?? 0));
  rows.push({ what: "pipeline (4 bots)", events: LINES, seconds, rssMiB: rss, intelmq: INTELMQ.pipeline });
  await p.close();
  await nats.stop();

  out("");
  out("| what | events | seconds | events/s | IntelMQ events/s | x IntelMQ | peak RSS | events/s per hop msg/s |");
  out("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    const eps = r.events / r.seconds;
    out(`| ${r.what} | ${r.events.toLocaleString("en")} | ${r.seconds.toFixed(2)} | ${Math.round(eps).toLocaleString("en")} | ${r.intelmq.toLocaleString("en")} | ${(eps / r.intelmq).toFixed(1)} | ${r.rssMiB ?? "?"} MiB${r.what.startsWith("pipeline") ? " (max of 4)" : ""} | ${(eps / hop.msgsPerSec).toFixed(2)} |`);
  }
  out(`| raw JetStream hop | ${hop.messages.toLocaleString("en")} msgs | | ${Math.round(hop.msgsPerSec).toLocaleString("en")} msg/s | | | | 1.00 |`);
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
