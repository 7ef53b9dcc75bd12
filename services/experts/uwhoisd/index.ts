// SPDX-License-Identifier: AGPL-3.0-only
/**
 * uWhoisd expert (IntelMQ's intelmq.bots.experts.uwhoisd.expert): the whois entries of the
 * source's name, address and AS from a uWhoisd server (plain whois protocol over TCP).
 */
import { connect } from "node:net";
import { z } from "zod";
import { defineBot, p, urlsplit } from "../../../shared/sdk/index.js";

export const params = z.object({
  server: z.string().default("localhost").describe("The uWhoisd server"),
  port: p.int().pipe(z.number().int().min(1).max(65535)).default(4243).describe("Its port"),
  whois_timeout: z.coerce.number().positive().default(30)
    .describe("Ours: seconds a query may take (connecting and reading the whole answer); longer fails the message, which the runtime retries"),
}).strict();

/** One whois query: `query\n` sent, everything until the server closes the connection read. */
export function whois(server: string, port: number, query: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect({ host: server, port });
    const timer = setTimeout(() => sock.destroy(new Error(`whois ${query} at ${server}:${port}: no complete answer within ${timeoutMs / 1000} s`)), timeoutMs);
    // no half-close after the query: some servers take it as the end of the connection
    sock.on("connect", () => sock.write(`${query}\n`));
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", (err) => { clearTimeout(timer); reject(err); });
    sock.on("close", (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(Buffer.concat(chunks).toString("utf8"));
    });
  });
}

/** Python's urlparse(url).hostname: no user info, no port, no brackets, lower case. */
function hostname(url: string): string | null {
  const netloc = urlsplit(url)?.netloc;
  if (!netloc) return null;
  let host = netloc.slice(netloc.lastIndexOf("@") + 1);
  if (host.startsWith("[")) host = host.slice(1, host.indexOf("]"));
  else host = host.replace(/:[^:]*$/, "");
  return host.toLowerCase() || null;
}

export default defineBot({
  kind: "expert",
  name: "uwhoisd",
  intelmq: "intelmq.bots.experts.uwhoisd.expert",
  description: "Adds extra.whois.fqdn/ip/asn: the whois entries of source.fqdn (or the url's host), source.ip and source.asn from a uWhoisd server",
  params,
  create: (prm) => {
    const ask = (q: string) => whois(prm.server, prm.port, q, prm.whois_timeout * 1000);
    return {
      async process(event) {
        if (event.has("source.url") || event.has("source.fqdn")) {
          const query = event.has("source.fqdn") ? String(event.get("source.fqdn")) : hostname(String(event.get("source.url")));
          if (query) event.add("extra.whois.fqdn", await ask(query));
        }
        if (event.has("source.ip")) event.add("extra.whois.ip", await ask(String(event.get("source.ip"))));
        if (event.has("source.asn")) event.add("extra.whois.asn", await ask(`AS${String(event.get("source.asn"))}`));
        return event;
      },
    };
  },
});
