// SPDX-License-Identifier: AGPL-3.0-only
/**
 * RPZ file output: appends a DNS Response Policy Zone rule for the domain of every event to a zone
 * file (IntelMQ's intelmq.bots.outputs.rpz_file.output). An empty file first gets the zone header
 * (SOA, NS, comments). Lines are buffered and written, then synced to disk, in flush(), which the
 * runtime calls before it acknowledges the input: nothing is acknowledged that is not on disk.
 */
import { z } from "zod";
import { INTELMQ_ROOT, appendOutput, defineBot, encodingErrorsMode, outputParams, p, type BotContext, type OutputImpl, type Event } from "../../../shared/sdk/index.js";
const UNUSED = "Accepted as in IntelMQ; has no effect on the zone file";

export const params = z.object({
  file: z.string().default(`${INTELMQ_ROOT}/var/lib/bots/file-output/rpz`)
    .describe("Zone file to append to; /opt/intelmq/ at its start means the project's root (INTELMQ_ROOT_DIR)"),
  format_filename: p.bool().default(false)
    .describe("Treat `file` as a Python format string over the event, e.g. /data/{event[time.source]:%Y-%m-%d}.rpz"),
  encoding_errors_mode: encodingErrorsMode(),
  cname: z.string().default("").describe("Target of every rule (e.g. `.` for NXDOMAIN, or a walled-garden name)"),
  dns_record_type: z.string().default("CNAME").describe("Record type of every rule"),
  organization_name: z.string().default("").describe("Organisation named in the header comment"),
  rpz_domain: z.string().default("").describe("Zone name in the SOA record and the terms-of-use URL"),
  hostmaster_rpz_domain: z.string().default("").describe("Responsible mailbox (as a DNS name) of the SOA record"),
  rpz_email: z.string().default("").describe("Contact address in the header comment"),
  ttl: p.int().default(3600).describe("$TTL of the zone"),
  serial: z.union([z.string(), z.number()]).nullable().default(null).transform((v) => (v === null ? null : String(v)))
    .describe("SOA serial; default: the start time as %y%m%d%H%M (local time)"),
  refresh: p.int().default(60).describe("SOA refresh"),
  retry: p.int().default(60).describe("SOA retry"),
  expire: p.int().default(432000).describe("SOA expire"),
  ncachttl: p.int().default(60).describe("SOA negative-caching TTL"),
  test_domain: z.string().default("").describe("A domain whose rule is written into the header, to test the zone"),
  generate_time: z.string().nullable().default(null).describe(`${UNUSED} (the header shows the start time)`),
  hierarchical_output: outputParams.hierarchical_output.describe(UNUSED),
  message_with_type: outputParams.message_with_type.describe(UNUSED),
  message_jsondict_as_string: outputParams.message_jsondict_as_string.describe(UNUSED),
  single_key: outputParams.single_key.describe(UNUSED),
  keep_raw_field: outputParams.keep_raw_field.describe(UNUSED),
}).strict();

export type Params = z.infer<typeof params>;

const pad2 = (n: number): string => String(n).padStart(2, "0");

/** The zone header: IntelMQ's, with the start time in local time (IntelMQ labels it UTC all the same). */
export function rpzHeader(prm: Params, start: Date): string {
  const y = start.getFullYear(), mo = pad2(start.getMonth() + 1), d = pad2(start.getDate());
  const h = pad2(start.getHours()), mi = pad2(start.getMinutes()), s = pad2(start.getSeconds());
  const serial = prm.serial ?? `${pad2(y % 100)}${mo}${d}${h}${mi}`;
  let header = `$TTL ${prm.ttl}\n`
    + `@ SOA ${prm.rpz_domain}. ${prm.hostmaster_rpz_domain}. ${serial} ${prm.refresh} ${prm.retry} ${prm.expire} ${prm.ncachttl}\n`
    + " NS localhost.\n"
    + ";\n"
    + `; ${prm.organization_name} Response Policy Zones (RPZ)\n`
    + `; Last updated: ${y}-${mo}-${d} ${h}:${mi}:${s} (UTC)\n`
    + ";\n"
    + `; Terms Of Use: https://${prm.rpz_domain}\n`
    + `; For questions please contact ${prm.rpz_email}\n`
    + ";\n";
  if (prm.test_domain) header += `${prm.test_domain} ${prm.dns_record_type} ${prm.cname}\n`;
  return header;
}

/** The two rules of a domain: itself (without a leading www.) and its www. name; null without source.fqdn. */
export function rpzLines(event: Event, prm: Params): string | null {
  const fqdn = event.get("source.fqdn");
  if (typeof fqdn !== "string" || !fqdn) return null;
  const domain = fqdn.startsWith("www.") ? fqdn.slice(4) : fqdn;
  return `${domain} ${prm.dns_record_type} ${prm.cname}\nwww.${domain} ${prm.dns_record_type} ${prm.cname}\n`;
}

function create(prm: Params, ctx: BotContext): OutputImpl {
  const header = rpzHeader(prm, new Date());
  return appendOutput(ctx, {
    file: prm.file,
    formatFilename: prm.format_filename,
    encodingErrorsMode: prm.encoding_errors_mode,
    // As IntelMQ on every open: an empty file gets the zone header.
    header: (_fd, size) => (size === 0 ? header : null),
    render(event) {
      const lines = rpzLines(event, prm);
      if (lines === null) {
        ctx.log.debug("Event did not have RPZ indicator types.");
        return "";
      }
      return lines;
    },
  });
}

export default defineBot({
  kind: "output",
  name: "rpz_file",
  intelmq: "intelmq.bots.outputs.rpz_file.output",
  description: "Appends DNS Response Policy Zone rules for event domains to a zone file",
  params,
  create,
});
