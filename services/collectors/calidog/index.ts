// SPDX-License-Identifier: AGPL-3.0-only
/**
 * CertStream collector: follows the certificate transparency updates of a CertStream websocket,
 * each certificate update a report (IntelMQ's intelmq.bots.collectors.calidog.collector_certstream).
 */
import WebSocket from "ws";
import { z } from "zod";
import { collectorParams, defineBot, p, pyJsonDumps, ReportStream, errorMessage, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";

export const params = z.object({
  ...collectorParams,
  url: z.string().default("wss://certstream.calidog.io/").describe("Ours: the CertStream websocket (IntelMQ: always CaliDog's)"),
  max_in_flight: p.int().pipe(z.number().int().positive()).default(1000)
    .describe("Ours: reports handed to the broker and not yet stored at most; the websocket is read no further until some are"),
}).strict();

export type Params = z.infer<typeof params>;

function create(prm: Params, ctx: BotContext): CollectorImpl {
  const stream = new ReportStream();
  let ws: WebSocket | null = null;
  let stopping = false;
  let timer: NodeJS.Timeout | null = null;
  let inFlight = 0;
  let paused = false;

  const settled = () => {
    inFlight--;
    if (paused && inFlight < prm.max_in_flight) { paused = false; ws?.resume(); }
  };

  function onMessage(text: string): void {
    let msg: { message_type?: unknown };
    try {
      msg = JSON.parse(text) as { message_type?: unknown };
    } catch (err) {
      ctx.log.error(`A message that is no JSON was skipped: ${errorMessage(err)}`);
      return;
    }
    if (msg.message_type === "heartbeat") return;
    if (msg.message_type !== "certificate_update") {
      // IntelMQ fails here (and its stream restarts); a stream goes on
      ctx.log.error(`Unhandled message_type ${JSON.stringify(msg.message_type)}.`);
      return;
    }
    const report = ctx.newReport();
    report.add("raw", pyJsonDumps(msg));
    inFlight++;
    // nothing to acknowledge to a websocket: settling only frees room for reading on
    stream.push(report, { queued: settled, failed: settled });
    if (inFlight >= prm.max_in_flight && !paused) { paused = true; ws?.pause(); }
  }

  function open(): void {
    ctx.log.info(`Connecting to ${prm.url}.`);
    const sock = new WebSocket(prm.url, { handshakeTimeout: 30_000 });
    ws = sock;
    paused = false;
    sock.on("open", () => ctx.log.info("Connection established to CertStream! Listening for events..."));
    sock.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      if (!isBinary) onMessage(data.toString());
    });
    sock.on("error", (err: Error) => ctx.log.error(`CertStream connection error: ${errorMessage(err)}`));
    sock.on("close", () => {
      if (ws === sock) ws = null;
      if (stopping) return;
      const wait = ctx.runtime.error_retry_delay;
      ctx.log.info(`CertStream connection closed; connecting again in ${wait} s.`);
      timer = setTimeout(() => { timer = null; if (!stopping) open(); }, wait * 1000);
    });
  }

  open();

  return {
    streaming: true,
    collect: (signal) => stream.drain(signal),
    queued: (r: Report) => stream.queued(r),
    failed: (r: Report, err: unknown) => stream.failed(r, err),
    shutdown() {
      stopping = true;
      if (timer) clearTimeout(timer);
      ws?.terminate();
      ws = null;
      stream.close(new Error("the collector stopped"));
    },
  };
}

export default defineBot({
  kind: "collector",
  name: "calidog",
  intelmq: "intelmq.bots.collectors.calidog.collector_certstream",
  description: "Follows a CertStream websocket (certificate transparency logs), each certificate update a report",
  params,
  create,
});
