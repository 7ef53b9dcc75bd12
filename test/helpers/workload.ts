// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The benchmark workload: CSV reports of synthetic threat data, seeded and reproducible.
 *
 * Each report has `lines` rows of 8 columns, no header, LF endings (a trailing LF):
 * source.ip, source.fqdn, source.url, time.source, classification.type, malware.name,
 * source.port, source.asn. The line with global index i (over all reports, 0-based) is a
 * byte-identical copy of an earlier unique line when i % dupEvery == dupEvery - 1, chosen
 * uniformly among the unique lines before it; with dupEvery 5 exactly 20 % of the lines repeat,
 * so a deduplicator that ignores raw and time.observation forwards exactly 80 %.
 *
 * `node dist/test/helpers/workload.js --reports 250 --out DIR` writes it from the command line.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export const WORKLOAD_COLUMNS = [
  "source.ip", "source.fqdn", "source.url", "time.source", "classification.type", "malware.name", "source.port", "source.asn",
] as const;

export interface WorkloadOptions {
  reports?: number;
  lines?: number;
  /** Every dupEvery-th line repeats an earlier one (0: no repeats). */
  dupEvery?: number;
  seed?: number;
}

export interface Workload {
  /** One CSV text per report. */
  reports: string[];
  lines: number;
  unique: number;
}

const TLDS = ["com", "net", "org", "info", "ru", "cn", "de", "xyz", "top", "io"];
const WORDS = ["cobalt", "harbor", "maple", "orbit", "quartz", "falcon", "delta", "ember", "lunar", "cedar", "pixel", "raven", "summit", "tango", "vector", "willow"];
const HOSTS = ["www", "mail", "cdn", "api", "update", "login", "secure", "files"];
const EXTS = ["php", "html", "exe", "zip", "js"];
const TYPES = ["phishing", "malware-distribution", "c2-server", "scanner", "spam", "brute-force", "infected-system", "ddos", "vulnerable-system", "exploit"];
const MALWARE = ["emotet", "qakbot", "trickbot", "mirai", "dridex", "icedid", "cobaltstrike", "agenttesla", "formbook", "lokibot"];
const PORTS = [80, 443, 8080, 22, 23, 25, 445, 3389];
/** First octets of private, loopback, shared and link-local ranges: no such addresses in the data. */
const BAD_FIRST_OCTETS = new Set([10, 100, 127, 169, 172, 192]);
/** 2024-09-01T00:00:00Z */
const T0 = 1_725_148_800;

/** sfc32: small, fast, well distributed, and the same sequence on every machine and Node version. */
export function prng(seed: number): () => number {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const r = (t + d) | 0;
    c = (c + r) | 0;
    return (r >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next(); // mix the seed in before the first value counts
  return next;
}

function timeText(epoch: number): string {
  return new Date(epoch * 1000).toISOString().slice(0, 19).replace("T", " ");
}

/** The workload in memory. Same options, same bytes. */
export function generateWorkload(opts: WorkloadOptions = {}): Workload {
  const reports = opts.reports ?? 250;
  const lines = opts.lines ?? 1000;
  const dupEvery = opts.dupEvery ?? 5;
  const rnd = prng(opts.seed ?? 20240916);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const uniques: string[] = [];
  const unique = (serial: number): string => {
    let o1: number;
    do o1 = int(1, 223); while (BAD_FIRST_OCTETS.has(o1));
    const ip = `${o1}.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`;
    const fqdn = `${pick(HOSTS)}${int(1, 99)}.${pick(WORDS)}-${pick(WORDS)}.${pick(TLDS)}`;
    const url = `${pick(["http", "https"])}://${fqdn}/${pick(WORDS)}/${serial.toString(16).padStart(8, "0")}.${pick(EXTS)}`;
    const ts = timeText(T0 + int(0, 15 * 86400 - 1));
    const port = rnd() < 0.7 ? pick(PORTS) : int(1024, 65535);
    return [ip, fqdn, url, ts, pick(TYPES), pick(MALWARE), String(port), String(int(1, 400000))].join(",");
  };
  const out: string[] = [];
  let i = 0;
  for (let r = 0; r < reports; r++) {
    const rows: string[] = [];
    for (let l = 0; l < lines; l++, i++) {
      if (dupEvery && i % dupEvery === dupEvery - 1 && uniques.length) {
        rows.push(uniques[Math.floor(rnd() * uniques.length)]!);
      } else {
        const line = unique(uniques.length);
        uniques.push(line);
        rows.push(line);
      }
    }
    out.push(rows.join("\n") + "\n");
  }
  return { reports: out, lines: i, unique: uniques.length };
}

/** Write the workload as report-00000.csv, ... into `dir`; returns the file paths. */
export function writeWorkload(dir: string, opts: WorkloadOptions = {}): string[] {
  mkdirSync(dir, { recursive: true });
  return generateWorkload(opts).reports.map((text, r) => {
    const file = join(dir, `report-${String(r).padStart(5, "0")}.csv`);
    writeFileSync(file, text);
    return file;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string, def: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  const i = process.argv.indexOf("--out");
  const dir = i > 0 ? process.argv[i + 1]! : "bench-data";
  const files = writeWorkload(dir, { reports: arg("reports", 250), lines: arg("lines", 1000), dupEvery: arg("dup-every", 5), seed: arg("seed", 20240916) });
  process.stdout.write(`wrote ${files.length} reports to ${dir}\n`);
}
