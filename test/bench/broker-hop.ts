// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The raw JetStream hop: consume from queue A with a window in flight, publish each message to
 * queue B (pipelined, with the runtime's kind of Nats-Msg-Id), await the PubAck, then ack A.
 * This is the ceiling of one bot instance that does no work. Not a test: run it as
 * `node dist/test/bench/broker-hop.js [messages] [size] [--json]`; the project benchmark runs it so, three times.
 */
import { pathToFileURL } from "node:url";
import { connectJetStream, type Delivery } from "../../shared/broker/index.js";
import { startNatsServer } from "../helpers/nats-server.js";

export interface HopOptions {
  /** nats:// URL of a server with JetStream. */
  url: string;
  /** How many messages go through the hop (default 20000). */
  messages?: number;
  /** Payload size in bytes (default 500). */
  size?: number;
  /** Deliveries held at once (default 1000). */
  inFlight?: number;
}

export interface HopResult {
  messages: number;
  size: number;
  seconds: number;
  msgsPerSec: number;
}

/** Measure the hop rate on the server at `url` (creates and removes two queues of its own). */
export async function measureHop(opts: HopOptions): Promise<HopResult> {
  const messages = opts.messages ?? 20_000;
  const size = opts.size ?? 500;
  const inFlight = opts.inFlight ?? 1000;
  const broker = await connectJetStream({ servers: opts.url, name: "broker-hop" });
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const qa = `hop-a-${tag}`;
  const qb = `hop-b-${tag}`;
  try {
    await broker.queues.ensure(qa, { maxAckPending: inFlight });
    await broker.queues.ensure(qb);
    const body = new Uint8Array(size).fill(0x61);

    // Fill A, pipelined in windows.
    for (let i = 0; i < messages; i += inFlight) {
      const n = Math.min(inFlight, messages - i);
      await Promise.all(Array.from({ length: n }, (_, k) => broker.queues.publish(qa, body, { msgId: `fill:${i + k}` })));
    }

    const sub = await broker.queues.consume(qa, { maxInFlight: inFlight });
    let done = 0;
    let failed: unknown = null;
    let finish!: () => void;
    const finished = new Promise<void>((r) => { finish = r; });
    const hop = async (d: Delivery) => {
      try {
        await broker.queues.publish(qb, d.data, { msgId: `${qa}:${d.seq}:_default:${qb}:0` });
        await d.ack();
      } catch (err) {
        failed ??= err;
        d.nak();
      }
      if (++done === messages || failed) finish();
    };
    const start = process.hrtime.bigint();
    const reader = (async () => {
      for await (const d of sub) {
        void hop(d); // many hops in flight; the consumer's window bounds them
        if (failed) break;
      }
    })();
    await finished;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    await sub.stop();
    await reader;
    if (failed) throw failed;
    return { messages, size, seconds, msgsPerSec: messages / seconds };
  } finally {
    await broker.queues.purge(qa).catch(() => 0);
    await broker.queues.purge(qb).catch(() => 0);
    await broker.close();
  }
}

async function main(): Promise<void> {
  const messages = Number(process.argv[2] ?? 20_000);
  const size = Number(process.argv[3] ?? 500);
  await using server = await startNatsServer();
  const r = await measureHop({ url: server.url, messages, size });
  if (process.argv.includes("--json")) {
    process.stdout.write(JSON.stringify({ ...r, server: server.version }) + "\n");
    return;
  }
  process.stdout.write(
    `JetStream hop on nats-server ${server.version}: ${r.messages} messages of ${r.size} bytes in ${r.seconds.toFixed(2)} s = ` +
    `${Math.round(r.msgsPerSec).toLocaleString("en")} msg/s\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
