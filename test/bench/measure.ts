// SPDX-License-Identifier: AGPL-3.0-only
/** What the benchmark reads about a process from outside: CPU time, peak RSS, and a bot's latency histogram. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { botSubject, BotVerb, InstanceStatus } from "../../shared/control-protocol/index.js";
import { quantile, type Histogram } from "../../shared/runtime/index.js";
import type { Broker } from "../../shared/broker/index.js";

let ticks: number | null = null;
/** Clock ticks per second of /proc/<pid>/stat's times. */
function clockTicks(): number {
  if (ticks === null) {
    try { ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100; } catch { ticks = 100; }
  }
  return ticks;
}

/** User + system CPU seconds the process used so far (0 if it is gone). */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / clockTicks();
  } catch {
    return 0;
  }
}

/** Peak resident set size in MiB (VmHWM), null if the process is gone. */
export function peakRssMiB(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmHWM:\s+(\d+) kB/);
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch { return null; }
}

/** CPU used by a set of processes between start() and stop(). */
export class CpuMeter {
  #start = new Map<number, number>();
  constructor(private readonly pids: () => (number | undefined)[]) {}
  start(): void {
    this.#start.clear();
    for (const pid of this.pids()) if (pid) this.#start.set(pid, cpuSeconds(pid));
  }
  /** CPU seconds used since start(). */
  stop(): number {
    let sum = 0;
    for (const [pid, s0] of this.#start) sum += Math.max(0, cpuSeconds(pid) - s0);
    return sum;
  }
}

/** The bot's instances' latency histograms, merged (asked over the control subject). */
export async function botLatency(broker: Broker, botId: string): Promise<Histogram | null> {
  const replies = await broker.control.requestMany(botSubject(botId, BotVerb.status), new Uint8Array(), 1500);
  let merged: Histogram | null = null;
  for (const r of replies) {
    const parsed = InstanceStatus.safeParse(JSON.parse(Buffer.from(r).toString("utf8")));
    const h = parsed.success ? parsed.data.counters.latency_ms : undefined;
    if (!h) continue;
    if (!merged) merged = { le: h.le, counts: [...h.counts], sum: h.sum, count: h.count };
    else {
      h.counts.forEach((c, i) => { merged!.counts[i] = (merged!.counts[i] ?? 0) + c; });
      merged.sum += h.sum;
      merged.count += h.count;
    }
  }
  return merged;
}

/** "≤ 25 ms" style text of a quantile (the histogram knows buckets, not exact values). */
export function msText(h: Histogram | null, q: number): string {
  if (!h || h.count === 0) return "?";
  const v = quantile(h, q);
  return Number.isFinite(v) ? `≤${v}` : `>${h.le[h.le.length - 1]}`;
}

export function quantileOf(h: Histogram | null, q: number): number | null {
  if (!h || h.count === 0) return null;
  const v = quantile(h, q);
  return Number.isFinite(v) ? v : null;
}
