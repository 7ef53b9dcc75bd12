// SPDX-License-Identifier: AGPL-3.0-only
import { z } from "zod";
import { defineBot, p } from "../../../shared/sdk/index.js";

/** The prefixes whose url is turned into fqdn (or ip). */
const PREFIXES = ["source.", "destination."] as const;

// scheme (optional) then "//" authority: the part Python's urlparse() calls netloc.
const AUTHORITY = /^\s*(?:[A-Za-z][A-Za-z0-9+.-]*:)?\/\/([^/?#]*)/;

/**
 * The host of a URL as Python's `urlparse(url).hostname` gives it: lower case, without
 * user info, port or IPv6 brackets; null when the URL has no authority part.
 */
export function urlHostname(url: string): string | null {
  const m = AUTHORITY.exec(url.replace(/[\t\r\n]/g, ""));
  if (!m) return null;
  let host = m[1]!;
  const at = host.lastIndexOf("@");
  if (at >= 0) host = host.slice(at + 1);
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    host = end >= 0 ? host.slice(1, end) : host.slice(1);
  } else {
    const colon = host.indexOf(":");
    if (colon >= 0) host = host.slice(0, colon);
  }
  return host === "" ? null : host.toLowerCase();
}

export const params = z.object({
  overwrite: p.bool().default(false).describe("Replace an existing source/destination.fqdn (or .ip)"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "url2fqdn",
  intelmq: "intelmq.bots.experts.url2fqdn.expert",
  description: "Sets source/destination.fqdn from the host of source/destination.url, or .ip when the host is an IP address (deprecated in IntelMQ in favour of the URL expert)",
  params,
  create: ({ overwrite }, ctx) => {
    ctx.log.warn("This bot is deprecated in IntelMQ and will be removed in its version 4.0. Use the URL expert instead.");
    return {
      process(event) {
        for (const prefix of PREFIXES) {
          if (!event.has(`${prefix}url`)) continue;
          if (!overwrite && event.has(`${prefix}fqdn`)) continue;
          const host = urlHostname(String(event.get(`${prefix}url`)));
          if (host === null) continue;
          // An IP address is no valid fqdn: IntelMQ then tries the ip field.
          if (!event.add(`${prefix}fqdn`, host, { overwrite, raiseFailure: false })) {
            event.add(`${prefix}ip`, host, { overwrite, raiseFailure: false });
          }
        }
        return event;
      },
    };
  },
});
