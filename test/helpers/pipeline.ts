// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A real pipeline for end-to-end tests and the benchmark: a temporary INTELMQ_ROOT_DIR with
 * its runtime.yaml, bots as `intelmq-bot` processes against a nats-server, and the benchmark
 * benchmark workload (test/helpers/workload.ts) as reports.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync, openSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { connectJetStream, type Broker } from "../../shared/broker/index.js";
import { encodeEnvelope } from "../../shared/message/index.js";
import { botCommand } from "../../shared/config/index.js";
import { ROOT } from "./paths.js";
import { writeWorkload } from "./workload.js";

/** Node's own, for the tests that import their helpers from here. */
export { sleep };

export const BENCH_COLUMNS = ["source.ip", "source.fqdn", "source.url", "time.source", "classification.type", "malware.name", "source.port", "source.asn"];

/** The benchmark workload (test/helpers/workload.ts), cached per size under .bench-data; its CSV files. */
export function benchWorkload(reports: number, dir?: string): string[] {
  const out = dir ?? join(ROOT, ".bench-data", `v1-r${reports}`);
  const files = () => (existsSync(out) ? readdirSync(out).filter((f) => f.endsWith(".csv")).sort().map((f) => join(out, f)) : []);
  if (files().length !== reports) {
    rmSync(out, { recursive: true, force: true });
    writeWorkload(out, { reports });
  }
  return files();
}

/** A Report of one workload file, as the benchmark describes it. */
export function benchReport(file: string): Record<string, unknown> {
  return {
    __type: "Report",
    "feed.name": "Bench Feed",
    "feed.provider": "Bench Provider",
    "feed.url": "https://feeds.example.org/bench.csv",
    "time.observation": "2024-09-16T10:00:00+00:00",
    raw: readFileSync(file).toString("base64"),
  };
}

/** runtime.yaml of the benchmark pipeline: parser -> taxonomy -> deduplicator -> file output. */
export function benchBots(outputFile: string, prefix = "bench"): Record<string, unknown> {
  const q = (id: string) => [`${prefix}-${id}-queue`];
  return {
    [`${prefix}-parser`]: {
      module: "intelmq.bots.parsers.generic.parser_csv", name: "Generic CSV", group: "Parser", enabled: true,
      parameters: { columns: BENCH_COLUMNS, delimiter: ",", default_url_protocol: "http://", destination_queues: { _default: q("taxonomy") } },
    },
    [`${prefix}-taxonomy`]: {
      module: "intelmq.bots.experts.taxonomy.expert", name: "Taxonomy", group: "Expert", enabled: true,
      parameters: { destination_queues: { _default: q("deduplicator") } },
    },
    [`${prefix}-deduplicator`]: {
      module: "intelmq.bots.experts.deduplicator.expert", name: "Deduplicator", group: "Expert", enabled: true,
      parameters: { filter_type: "blacklist", filter_keys: "raw,time.observation", destination_queues: { _default: q("output") } },
    },
    [`${prefix}-output`]: {
      module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", enabled: true,
      parameters: { file: outputFile },
    },
  };
}

export interface BotProcess { id: string; child: ChildProcess; exited: Promise<number | null> }

/** A temporary IntelMQ root with etc/, var/, a runtime.yaml, and bots run as processes. */
export class TestPipeline {
  readonly root: string;
  readonly procs = new Map<string, BotProcess>();
  #broker: Broker | null = null;

  constructor(readonly natsUrl: string, bots: Record<string, unknown>, global: Record<string, unknown> = {}) {
    this.root = mkdtempSync(join(tmpdir(), "intelmq-nats-"));
    for (const d of ["etc", "var/log", "var/lib/bots", "var/run"]) mkdirSync(join(this.root, d), { recursive: true });
    copyFileSync(join(ROOT, "etc", "harmonization.conf"), join(this.root, "etc", "harmonization.conf"));
    this.writeConfig(bots, global);
  }

  /** The module of each bot of the configuration written last. */
  #modules = new Map<string, string>();

  writeConfig(bots: Record<string, unknown>, global: Record<string, unknown> = {}): void {
    this.#modules = new Map(Object.entries(bots).map(([id, b]) => [id, String((b as { module?: unknown }).module ?? "")]));
    const doc = { global: { logging_level: "WARNING", error_retry_delay: 1, ...global }, ...bots };
    writeFileSync(join(this.root, "etc", "runtime.yaml"), stringify(doc));
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, INTELMQ_ROOT_DIR: this.root, NATS_URL: this.natsUrl };
  }

  /** Start one `intelmq-bot <id>` process; its stderr goes to var/log/<id>.log. */
  start(id: string): BotProcess {
    const fd = openSync(join(this.root, "var", "log", `${id}.log`), "a");
    const { command, args, env } = botCommand(id, [], this.#modules.get(id));
    const child = spawn(command, args, { env: { ...env, ...this.env }, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const p = { id, child, exited };
    this.procs.set(id, p);
    return p;
  }

  async kill(id: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.procs.get(id);
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill(signal);
    await p.exited;
  }

  async broker(): Promise<Broker> {
    this.#broker ??= await connectJetStream({ servers: this.natsUrl, name: "test-pipeline" });
    return this.#broker;
  }

  /** Publish reports into a queue, one report per message, retrying through broker outages. */
  async inject(queue: string, reports: Record<string, unknown>[], idPrefix = "inject"): Promise<void> {
    const b = await this.broker();
    await retry(() => b.queues.ensure(queue));
    let i = 0;
    for (const r of reports) {
      const msgId = `${idPrefix}:${i++}`;
      await retry(() => b.queues.publish(queue, encodeEnvelope([r]), { msgId }));
    }
  }

  log(id: string): string {
    const f = join(this.root, "var", "log", `${id}.log`);
    return existsSync(f) ? readFileSync(f, "utf8") : "";
  }

  async close(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((id) => this.kill(id, "SIGTERM")));
    await this.#broker?.close().catch(() => undefined);
    this.#broker = null;
    if (!process.env.KEEP_TEST_ROOT) rmSync(this.root, { recursive: true, force: true });
  }
}

/** Retry through broker outages (the same message id makes a repeated publish harmless). */
async function retry<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try { return await op(); } catch (err) {
      // longer than the longest outage a test makes (60 s) and the reconnect after it
      if (attempt > 900) throw err;
      await sleep(200);
    }
  }
}

/** Lines of a file (0 if it does not exist yet). Reads only what was appended since the last call. */
export function countLines(file: string): number {
  let c = counters.get(file);
  if (!c) counters.set(file, (c = { offset: 0, lines: 0, ino: 0 }));
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st || !st.isFile()) return 0;
  const size = st.size;
  // replaced (another inode) or truncated: count from the start
  if (size < c.offset || st.ino !== c.ino) { c.offset = 0; c.lines = 0; c.ino = st.ino; }
  if (size > c.offset) {
    const fd = openSync(file, "r");
    try {
      const buf = Buffer.allocUnsafe(Math.min(size - c.offset, 1 << 24));
      while (c.offset < size) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, size - c.offset), c.offset);
        if (n <= 0) break;
        for (let i = buf.indexOf(10); i !== -1 && i < n; i = buf.indexOf(10, i + 1)) c.lines++;
        c.offset += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  return c.lines;
}
const counters = new Map<string, { offset: number; lines: number; ino: number }>();

/** Poll until cond() is true; throws with `what` after timeoutMs. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
