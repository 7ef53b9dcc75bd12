// SPDX-License-Identifier: AGPL-3.0-only
/**
 * UDP output: sends each event as one datagram, JSON or `key:value` fields after a header
 * (IntelMQ's intelmq.bots.outputs.udp.output), e.g. to a syslog daemon. The flush waits until the
 * kernel took every datagram of the input; UDP tells nothing of their arrival.
 */
import { createSocket, type Socket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { ConfigurationError, defineBot, p, pyStr, z, type BotContext, type Event, type OutputImpl } from "../../../shared/sdk/index.js";

export const params = z.object({
  field_delimiter: z.string().default("|").describe("Written before each key:value with format delimited"),
  format: z.string().nullable().default(null).describe("json or delimited (required)"),
  header: z.string().default("<header text>").describe("Text at the start of every datagram"),
  keep_raw_field: p.bool().default(false).describe("Keep the raw field"),
  udp_host: z.string().default("localhost").describe("Host to send to"),
  udp_port: p.int().nullable().default(null).describe("Port to send to (required)"),
}).strict();

export type Params = z.infer<typeof params>;

/** Python's unicodedata category C (control, format, surrogate, private use, unassigned) removed, as IntelMQ does. */
const CONTROL = /\p{C}/gu;

export function delimited(event: Event, header: string, delimiter: string): string {
  let line = header;
  for (const [k, v] of event.entries()) line += `${delimiter}${k}:${pyStr(v)}`;
  return line;
}

function create(prm: Params, ctx: BotContext): OutputImpl {
  const format = (prm.format ?? "").toLowerCase();
  if (format !== "json" && format !== "delimited") throw new ConfigurationError("format", `unknown format ${JSON.stringify(prm.format)}: json or delimited`);
  if (prm.udp_port === null) throw new ConfigurationError("udp_port", "is not set");
  const port = prm.udp_port;
  let address: Promise<{ address: string; family: number }> | null = null;
  let socket: Socket | null = null;
  let pending: Buffer[] = [];
  const target = () => (address ??= lookup(prm.udp_host, { family: 4 }).catch((err: unknown) => { address = null; throw err; }));
  return {
    export(event: Event) {
      if (!prm.keep_raw_field) event.delete("raw");
      const text = format === "json" ? prm.header + event.toJson() : delimited(event, prm.header, prm.field_delimiter);
      pending.push(Buffer.from(text.replace(CONTROL, "") + "\n", "utf8"));
    },
    async flush() {
      const to = await target();
      socket ??= createSocket(to.family === 6 ? "udp6" : "udp4").on("error", (err) => ctx.log.warn({ err }, "UDP socket error"));
      const s = socket;
      await Promise.all(pending.map((d) => new Promise<void>((resolve, reject) => s.send(d, port, to.address, (err) => (err ? reject(err) : resolve())))));
      pending = [];
    },
    discard() { pending = []; },
    shutdown() { socket?.close(); socket = null; },
  };
}

export default defineBot({
  kind: "output",
  name: "udp",
  intelmq: "intelmq.bots.outputs.udp.output",
  description: "Send events as UDP datagrams (JSON or delimited key:value), e.g. to syslog",
  params,
  create,
});
