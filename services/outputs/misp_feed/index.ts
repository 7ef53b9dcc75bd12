// SPDX-License-Identifier: AGPL-3.0-only
/**
 * MISP feed output: writes events as `intelmq_event` objects of a MISP event that is renewed every
 * interval_event, in MISP's feed format (<uuid>.json, manifest.json, hashes.csv) for a MISP
 * instance to pull (IntelMQ's intelmq.bots.outputs.misp.output_feed). Objects are named by their
 * input, so writing an input again replaces its objects; files are replaced atomically.
 */
import { createHash, randomUUID } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { INTELMQ_ROOT, defineBot, outputPath, z, type BotContext, type Event, type InputRef, type OutputImpl } from "../../../shared/sdk/index.js";
import { mispType, mispValue } from "./attributes.js";

export const params = z.object({
  output_dir: z.string().default(`${INTELMQ_ROOT}/var/lib/bots/mispfeed-output`).describe("Directory of the feed; /opt/intelmq/ at its start means the project's root"),
  interval_event: z.string().nullable().default("1 hour").describe("How long one MISP event takes new objects, e.g. \"1 hour\", \"2 days\""),
  misp_org_name: z.string().nullable().default(null).describe("Name of the organisation creating the events"),
  misp_org_uuid: z.string().nullable().default(null).describe("UUID of that organisation"),
}).strict();

export type Params = z.infer<typeof params>;

const MINUTES: [RegExp, number][] = [[/^(m|min|minutes?)$/, 1], [/^(h|hours?)$/, 60], [/^(d|days?)$/, 1440], [/^(w|weeks?)$/, 10080], [/^months?$/, 43200], [/^years?$/, 525600]];

/** IntelMQ's parse_relative: "<n> <unit>" in minutes. */
export function parseRelative(text: string): number {
  const m = /^\s*(\d+)\s*([a-z]+)\s*$/i.exec(text);
  const unit = m && MINUTES.find(([re]) => re.test(m[2]!.toLowerCase()));
  if (!m || !unit) throw new Error(`Could not process given relative time: ${JSON.stringify(text)}`);
  return Number(m[1]) * unit[1];
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");
/** Python's isoformat() of a naive local datetime, microseconds always written (strptime %f reads them back). */
function localIso(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds() * 1000, 6)}`;
}
function parseLocalIso(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(s);
  return m ? new Date(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, Math.floor(Number((m[7] ?? "0").padEnd(6, "0")) / 1000)) : null;
}
/** A UUID made from a text: the same input names the same object. */
function uuidOf(text: string): string {
  const h = createHash("sha256").update(text).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

interface MispObject { name: string; uuid: string; "meta-category": string; timestamp: string; Attribute: Record<string, unknown>[] }
interface MispEvent { uuid: string; info: string; date: string; analysis: string; threat_level_id: string; published: boolean; timestamp: string; Orgc: { name: string | null; uuid: string | null }; Object: MispObject[] }

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

const metaOf = (e: MispEvent) => ({ Orgc: e.Orgc, Tag: [], info: e.info, date: e.date, analysis: e.analysis, threat_level_id: e.threat_level_id, timestamp: e.timestamp });
const hashesOf = (e: MispEvent) => e.Object.flatMap((o) => o.Attribute.map((a) => `${createHash("md5").update(String(a.value)).digest("hex")},${e.uuid}`));

function create(prm: Params, ctx: BotContext): OutputImpl {
  const dir = outputPath(prm.output_dir, ctx.rootDir);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (dir !== prm.output_dir) ctx.log.info(`output_dir ${prm.output_dir} is ${dir}.`);
  const span = (prm.interval_event === null ? 60 : parseRelative(prm.interval_event)) * 60_000;
  // Manifest entries and hashes of every event of the feed, by uuid; the current event's are renewed on each flush.
  const manifest = new Map<string, unknown>();
  const hashes = new Map<string, string[]>();
  for (const f of readdirSync(dir).filter((f) => /^[0-9a-f-]{36}\.json$/.test(f))) {
    try {
      const e = (JSON.parse(readFileSync(join(dir, f), "utf8")) as { Event: MispEvent }).Event;
      manifest.set(e.uuid, metaOf(e));
      hashes.set(e.uuid, hashesOf(e));
    } catch (err) {
      ctx.log.warn({ err }, `Skipping ${f} of the feed: not a MISP event file.`);
    }
  }
  let current: MispEvent | null = null;
  let until = 0;
  const currentFile = join(dir, ".current");
  if (existsSync(currentFile)) {
    try {
      const file = readFileSync(currentFile, "utf8");
      const e = (JSON.parse(readFileSync(file, "utf8")) as { Event: MispEvent }).Event;
      const m = /IntelMQ event (.*) - (.*)/.exec(e.info);
      const end = m ? parseLocalIso(m[2]!) : null;
      if (end && end.getTime() >= Date.now()) { current = e; until = end.getTime(); }
    } catch (err) {
      ctx.log.error({ err }, "Loading current event failed. Skipping it.");
    }
  }
  const fresh = (): MispEvent => {
    const begin = new Date();
    const end = new Date(begin.getTime() + span);
    until = end.getTime();
    return {
      uuid: randomUUID(), info: `IntelMQ event ${localIso(begin)} - ${localIso(end)}`, date: localIso(begin).slice(0, 10), analysis: "0", threat_level_id: "4",
      published: false, timestamp: String(Math.floor(begin.getTime() / 1000)), Orgc: { name: prm.misp_org_name, uuid: prm.misp_org_uuid }, Object: [],
    };
  };

  let pending: Record<string, unknown>[] = [];
  return {
    export(event: Event) { pending.push(event.toDict({ jsondictAsString: true })); },
    flush(input: InputRef) {
      if (!current || Date.now() > until) current = fresh();
      const e = current;
      const now = String(Math.floor(Date.now() / 1000));
      pending.forEach((fields, i) => {
        const uuid = uuidOf(`${input.key}\n${i}`);
        const obj: MispObject = {
          name: "intelmq_event", uuid, "meta-category": "network", timestamp: now,
          Attribute: Object.entries(fields).map(([rel, v]) => ({
            uuid: uuidOf(`${uuid}\n${rel}`), object_relation: rel, type: mispType(rel), category: "Other", value: mispValue(v), to_ids: false, disable_correlation: false, timestamp: now,
          })),
        };
        const at = e.Object.findIndex((o) => o.uuid === uuid);
        if (at >= 0) e.Object[at] = obj; else e.Object.push(obj);
      });
      e.timestamp = now;
      const file = join(dir, `${e.uuid}.json`);
      writeAtomic(file, JSON.stringify({ Event: e }));
      if (!existsSync(currentFile) || readFileSync(currentFile, "utf8") !== file) writeAtomic(currentFile, file);
      manifest.set(e.uuid, metaOf(e));
      hashes.set(e.uuid, hashesOf(e));
      writeAtomic(join(dir, "manifest.json"), JSON.stringify(Object.fromEntries(manifest)));
      writeAtomic(join(dir, "hashes.csv"), [...hashes.values()].flat().map((l) => l + "\n").join(""));
      pending = [];
    },
    discard() { pending = []; },
  };
}

export default defineBot({
  kind: "output",
  name: "misp_feed",
  intelmq: "intelmq.bots.outputs.misp.output_feed",
  description: "Write events as a MISP feed (event files, manifest.json, hashes.csv)",
  params,
  create,
});
