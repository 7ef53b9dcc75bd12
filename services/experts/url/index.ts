// SPDX-License-Identifier: AGPL-3.0-only
/**
 * URL expert: fills ip or fqdn, port, urlpath and account of source and destination from their
 * URLs, and protocol.application/transport from the scheme, preferring source.url (IntelMQ's
 * intelmq.bots.experts.url.expert).
 */
import { z } from "zod";
import { InvalidValue, types, urlsplit, defineBot, p } from "../../../shared/sdk/index.js";

const SCHEMES: Record<string, { port: number; transport?: string; application?: string }> = {
  ftp: { port: 21, transport: "tcp" },
  http: { port: 80, transport: "tcp" },
  // As IntelMQ's table: https names its application protocol (http), not its transport.
  https: { port: 443, application: "http" },
  sftp: { port: 22, transport: "tcp" },
  ssh: { port: 22, transport: "tcp" },
  tftp: { port: 69, transport: "udp" },
  ws: { port: 80, transport: "tcp" },
  wss: { port: 443, transport: "tcp" },
};

// Python's urllib.parse.uses_params: the schemes whose last path segment may carry ";params".
const USES_PARAMS = new Set(["", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtspu", "sip", "sips", "mms", "sftp", "tel"]);

export interface ParsedUrl {
  scheme: string;
  path: string;
  hostname: string | null;
  port: number | null;
  username: string | null;
}

/** The parts of Python's urlparse() result this bot reads; throws where Python raises ValueError. */
export function parseUrl(url: string): ParsedUrl {
  const s = urlsplit(url);
  if (!s) throw new InvalidValue("url", url, "(the host part is malformed)");
  let path = s.path;
  if (USES_PARAMS.has(s.scheme) && path.includes(";")) {
    const slash = path.lastIndexOf("/");
    const i = slash >= 0 ? path.indexOf(";", slash) : path.indexOf(";");
    if (i >= 0) path = path.slice(0, i);
  }
  const at = s.netloc.lastIndexOf("@");
  const username = at >= 0 ? s.netloc.slice(0, at).split(":")[0]! : null;
  const hostinfo = s.netloc.slice(at + 1);
  let host: string;
  let portText: string;
  if (hostinfo.includes("[")) {
    const close = hostinfo.indexOf("]");
    host = hostinfo.slice(hostinfo.indexOf("[") + 1, close >= 0 ? close : undefined);
    const after = close >= 0 ? hostinfo.slice(close + 1) : "";
    portText = after.includes(":") ? after.slice(after.indexOf(":") + 1) : "";
  } else {
    const colon = hostinfo.indexOf(":");
    host = colon >= 0 ? hostinfo.slice(0, colon) : hostinfo;
    portText = colon >= 0 ? hostinfo.slice(colon + 1) : "";
  }
  let port: number | null = null;
  if (portText !== "") {
    if (!/^\d+$/.test(portText)) throw new InvalidValue("url", url, "(the port is not a number)");
    port = Number(portText);
    if (port > 65535) throw new InvalidValue("url", url, "(the port is out of range 0-65535)");
  }
  return { scheme: s.scheme, path, hostname: host === "" ? null : host.toLowerCase(), port, username };
}

export const params = z.object({
  overwrite: p.bool().default(false).describe("Replace fields that are already set"),
  skip_fields: p.list().nullable().default(null).describe("Fields not to fill, e.g. [source.account, protocol.transport]"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "url",
  intelmq: "intelmq.bots.experts.url.expert",
  description: "Fills ip or fqdn, port, urlpath and account of source and destination, and the protocols, from source.url and destination.url",
  params,
  create: ({ overwrite, skip_fields: skipList }) => {
    const skip = new Set(skipList ?? []);
    const want = (key: string) => !skip.has(key);
    return {
      process(event) {
        let protocols = 0;
        for (const base of ["source", "destination"] as const) {
          const raw = event.get(`${base}.url`);
          if (!raw) continue;
          const url = parseUrl(String(raw));
          // The protocols come from the first URL that sets any.
          const setProtocols = protocols === 0;
          const host = url.hostname;
          if (host && want(`${base}.ip`) && types.IPAddress!.isValid(host, true)) {
            event.add(`${base}.ip`, host, { overwrite });
          } else if (host && want(`${base}.fqdn`) && types.FQDN!.isValid(host, true)) {
            event.add(`${base}.fqdn`, host, { overwrite });
          }
          const scheme = SCHEMES[url.scheme];
          if (url.port && want(`${base}.port`)) event.add(`${base}.port`, String(url.port), { overwrite });
          else if (want(`${base}.port`) && scheme) event.add(`${base}.port`, String(scheme.port), { overwrite });
          if (url.path && want(`${base}.urlpath`)) event.add(`${base}.urlpath`, url.path, { overwrite });
          if (url.username && want(`${base}.account`)) event.add(`${base}.account`, url.username, { overwrite, raiseFailure: false });
          if (setProtocols && url.scheme && want("protocol.application")) {
            event.add("protocol.application", scheme?.application ?? url.scheme, { overwrite });
            protocols++;
          }
          if (setProtocols && url.scheme && want("protocol.transport") && scheme?.transport) {
            event.add("protocol.transport", scheme.transport, { overwrite });
            protocols++;
          }
        }
        return event;
      },
    };
  },
});
