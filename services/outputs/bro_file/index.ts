// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Bro file output: appends the IP address, domain and URL of every event as indicators to a Bro
 * (Zeek) Intel framework file (IntelMQ's intelmq.bots.outputs.bro_file.output). A file whose first
 * line is not the #fields header gets it appended, as in IntelMQ. Lines are buffered and written,
 * then synced to disk, in flush(), which the runtime calls before it acknowledges the input:
 * nothing is acknowledged that is not on disk.
 */
import { readSync } from "node:fs";
import { z } from "zod";
import { INTELMQ_ROOT, appendOutput, defineBot, encodingErrorsMode, outputParams, p, type BotContext, type OutputImpl, type Event } from "../../../shared/sdk/index.js";
const UNUSED = "Accepted as in IntelMQ; has no effect on the intel file";

export const params = z.object({
  file: z.string().default(`${INTELMQ_ROOT}/var/lib/bots/file-output/bro`)
    .describe("Intel file to append to; /opt/intelmq/ at its start means the project's root (INTELMQ_ROOT_DIR)"),
  format_filename: p.bool().default(false)
    .describe("Treat `file` as a Python format string over the event, e.g. /data/{event[time.source]:%Y-%m-%d}.intel"),
  encoding_errors_mode: encodingErrorsMode(),
  hierarchical_output: outputParams.hierarchical_output.describe(UNUSED),
  message_with_type: outputParams.message_with_type.describe(UNUSED),
  message_jsondict_as_string: outputParams.message_jsondict_as_string.describe(UNUSED),
  single_key: outputParams.single_key.describe(UNUSED),
  keep_raw_field: outputParams.keep_raw_field.describe(UNUSED),
}).strict();

export type Params = z.infer<typeof params>;

export const BRO_HEADER = "#fields\tindicator\tindicator_type\tmeta.desc\tmeta.cif_confidence\tmeta.source\n";

/** Event fields written as indicators, in this order, with their Intel framework types. */
const INDICATORS: readonly (readonly [string, string])[] = [
  ["source.ip", "Intel::ADDR"],
  ["source.fqdn", "Intel::DOMAIN"],
  ["source.url", "Intel::URL"],
];

/** Python's `"apt" in value` for a value of extra.tags: list member, substring or dict key. */
function hasApt(tags: unknown): boolean {
  if (Array.isArray(tags)) return tags.includes("apt");
  if (typeof tags === "string") return tags.includes("apt");
  if (tags !== null && typeof tags === "object") return Object.hasOwn(tags, "apt");
  throw new TypeError(`argument of type '${tags === null ? "NoneType" : typeof tags}' is not iterable`);
}

function required(event: Event, key: string): unknown {
  if (!event.has(key)) throw new Error(`KeyError: '${key}'`);
  return event.get(key);
}

function text(key: string, v: unknown): string {
  if (typeof v !== "string") throw new TypeError(`can only concatenate str (not "${typeof v}") to str: ${key}`);
  return v;
}

/**
 * One intel line per indicator the event has, and the first indicator type missing before any
 * present one (IntelMQ logs that one). Description: "apt" when extra.tags holds it, else
 * classification.type; confidence: feed.accuracy as an integer; source: extra.orgc, else feed.provider.
 */
export function broLines(event: Event): { lines: string; missing: string | null } {
  let lines = "";
  let missing: string | null = null;
  for (const [key, type] of INDICATORS) {
    const value = event.get(key);
    if (!value) {
      if (!lines && missing === null) missing = key;
      continue;
    }
    const desc = event.has("extra.tags") && hasApt(event.get("extra.tags")) ? "apt" : text("classification.type", required(event, "classification.type"));
    const accuracy = Math.trunc(Number(required(event, "feed.accuracy")));
    let source = "";
    if (event.has("extra.orgc")) source = text("extra.orgc", event.get("extra.orgc"));
    else if (event.has("feed.provider")) source = text("feed.provider", event.get("feed.provider"));
    lines += `${text(key, value)}\t${type}\t${desc}\t${accuracy}\t${source}\n`;
  }
  return { lines, missing };
}

function create(prm: Params, ctx: BotContext): OutputImpl {
  return appendOutput(ctx, {
    file: prm.file,
    formatFilename: prm.format_filename,
    encodingErrorsMode: prm.encoding_errors_mode,
    // As IntelMQ on every open: the header is appended unless the first line is it.
    header: (fd, size) => (firstLine(fd, size) !== BRO_HEADER ? BRO_HEADER : null),
    render(event) {
      const { lines, missing } = broLines(event);
      if (missing !== null) ctx.log.debug(`${missing}Event did not have Bro indicator types.`);
      return lines;
    },
  });
}

/** The file's first line with its newline (Python's readline()); "" for an empty file. */
function firstLine(fd: number, size: number): string {
  const buf = Buffer.alloc(Math.min(size, BRO_HEADER.length + 1));
  const n = readSync(fd, buf, 0, buf.length, 0);
  const head = buf.subarray(0, n).toString("utf8");
  const nl = head.indexOf("\n");
  return nl < 0 ? head : head.slice(0, nl + 1);
}

export default defineBot({
  kind: "output",
  name: "bro_file",
  intelmq: "intelmq.bots.outputs.bro_file.output",
  description: "Appends event IPs, domains and URLs to a Bro (Zeek) intel file",
  params,
  create,
});
