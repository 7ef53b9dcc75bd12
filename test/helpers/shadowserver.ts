// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Synthetic Shadowserver reports, seeded and reproducible: a scan_http ("Accessible-HTTP") CSV
 * with Shadowserver's columns, for the parser's tests and for measuring it on large reports.
 */
import { Rng } from "./random.js";

/** The columns of Shadowserver's scan_http report, in its order. */
export const SCAN_HTTP_COLUMNS = [
  "timestamp", "ip", "protocol", "port", "hostname", "tag", "asn", "geo", "region", "city", "naics", "hostname_source",
  "sector", "http", "http_code", "http_reason", "content_type", "connection", "www_authenticate", "set_cookie", "server",
  "content_length", "transfer_encoding", "http_date", "version", "severity",
] as const;

const SERVERS = ["nginx/1.18.0", "Apache/2.4.41 (Ubuntu)", "Microsoft-IIS/10.0", "lighttpd/1.4.59", "", "mini_httpd/1.30"];
const REASONS: [number, string][] = [[200, "OK"], [301, "Moved Permanently"], [401, "Unauthorized"], [403, "Forbidden"], [404, "Not Found"]];
const GEO: [string, string, string][] = [["DE", "BERLIN", "BERLIN"], ["AT", "WIEN", "VIENNA"], ["US", "CALIFORNIA", "LOS ANGELES"], ["ZZ", "", ""]];
const TAGS = ["http", "http;cve-2021-41773", "http;cve-2021-42013;cve-2021-41773", "http-alt"];

/** A Shadowserver file name for a report type and date, as the reports API names them. */
export function shadowserverFileName(type: string, date = "2024-01-15"): string {
  return `${date}-${type}-example-org.csv`;
}

function quote(s: string): string {
  return '"' + s.replaceAll('"', '""') + '"';
}

/**
 * A scan_http report of `lines` rows after the header (LF line endings, every field quoted as
 * Shadowserver writes them); the same seed gives the same text. Addresses are documentation
 * and private ranges only.
 */
export function shadowserverScanReport(lines: number, seed = 1): string {
  const rng = new Rng(seed);
  const out: string[] = [SCAN_HTTP_COLUMNS.map(quote).join(",")];
  const base = Date.UTC(2024, 0, 15);
  for (let i = 0; i < lines; i++) {
    const t = new Date(base + rng.int(86_400) * 1000).toISOString().slice(0, 19).replace("T", " ");
    const ip = rng.pick(["192.0.2", "198.51.100", "203.0.113", "10.20.30"]) + "." + (rng.int(254) + 1);
    const [code, reason] = rng.pick(REASONS);
    const [geo, region, city] = rng.pick(GEO);
    const body = rng.int(100_000);
    const row = [
      t, ip,
      "tcp", String(rng.pick([80, 8080, 443, 8000])), rng.next() < 0.5 ? `host${i}.example.net` : "", rng.pick(TAGS),
      String(rng.pick([64496, 64511, 65551, 0])), geo, region, city, String(rng.pick([0, 517311, 518210])),
      rng.next() < 0.5 ? "ptr" : "", rng.pick(["Communications, Service Provider, and Hosting Service", "", "Education"]),
      `HTTP/1.1 ${code} ${reason}`, String(code), reason, rng.pick(["text/html", "text/html; charset=UTF-8", ""]),
      rng.pick(["close", "keep-alive"]), code === 401 ? 'Basic realm="router"' : "", rng.next() < 0.2 ? `sid=${rng.int(1e9)}; path=/` : "",
      rng.pick(SERVERS), String(body), rng.next() < 0.1 ? "chunked" : "",
      new Date(base + rng.int(86_400) * 1000).toUTCString(), rng.pick(["", "1.1"]), rng.pick(["medium", "high", "low"]),
    ];
    out.push(row.map(quote).join(","));
  }
  return out.join("\n") + "\n";
}
