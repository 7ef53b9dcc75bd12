// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Elasticsearch output (IntelMQ's intelmq.bots.outputs.elasticsearch.output): an input's events are
 * indexed with one bulk request, each under an _id derived from the input's key and its position,
 * so a retried or redelivered input overwrites its own documents instead of adding copies. Items
 * the bulk answer reports as failed are sent again on the next try; the others are done.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Agent, request } from "undici";
import { ConfigurationError, PyDateTime, defineBot, p, strftime, z, type BotContext, type Event, type InputRef, type OutputImpl } from "../../../shared/sdk/index.js";

const ROTATE: Record<string, string | null> = { never: null, none: null, daily: "%Y-%m-%d", weekly: "%Y-%W", monthly: "%Y-%m", yearly: "%Y" };

export const params = z.object({
  elastic_host: z.string().default("127.0.0.1").describe("Host of Elasticsearch"),
  elastic_port: p.int().default(9200).describe("Port"),
  elastic_index: z.string().default("intelmq").describe("Index, or with rotate_index the prefix of the indices (and the name of their template)"),
  flatten_fields: p.list().default(["extra"]).describe("Fields holding a JSON dict whose keys become fields <field>_<key>"),
  http_username: z.string().nullable().default(null).describe("Basic auth user"),
  http_password: p.secret(z.string().nullable().default(null).describe("Basic auth password")),
  http_verify_cert: p.bool().default(false).describe("Verify the server's TLS certificate"),
  replacement_char: z.string().nullable().default(null).describe("Replace the dots in keys by this (Elasticsearch 2.x)"),
  rotate_index: z.enum(["never", "none", "daily", "weekly", "monthly", "yearly"]).nullable().default("never")
    .describe("Index per day/week/month/year of time.source (else time.observation, else today): <elastic_index>-<date>"),
  ssl_ca_certificate: z.string().nullable().default(null).describe("CA bundle (PEM file) to verify the server"),
  ssl_show_warnings: p.bool().default(true).describe("Unused (IntelMQ passes it to its client)"),
  use_ssl: p.bool().default(false).describe("Connect with HTTPS"),
}).strict();

export type Params = z.infer<typeof params>;

/** IntelMQ's replace_keys: dots of keys replaced, recursively. */
function replaceKeys(v: unknown, by: string): unknown {
  if (!v || typeof v !== "object" || Array.isArray(v)) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replaceAll(".", by), replaceKeys(x, by)]));
}

/** The date of time.source, else time.observation, when written exactly as YYYY-MM-DDTHH:MM:SS+00:00 (IntelMQ's strptime). */
function eventDate(d: Record<string, unknown>): Date | null {
  for (const t of [d["time.source"], d["time.observation"]]) {
    if (typeof t === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/.test(t)) return new Date(t);
  }
  return null;
}

export function indexOf(prm: Pick<Params, "elastic_index" | "rotate_index">, doc: Record<string, unknown>, today = new Date()): string {
  const fmt = prm.rotate_index ? ROTATE[prm.rotate_index] : null;
  if (!fmt) return prm.elastic_index;
  return `${prm.elastic_index}-${strftime(new PyDateTime(eventDate(doc) ?? today), fmt)}`;
}

export function documentOf(event: Event, prm: Pick<Params, "flatten_fields" | "replacement_char">): Record<string, unknown> {
  let doc = event.toDict();
  for (const field of prm.flatten_fields) {
    if (!(field in doc)) continue;
    let val = doc[field];
    if (typeof val === "string") { try { val = JSON.parse(val); } catch { /* kept as it is */ } }
    if (val && typeof val === "object" && !Array.isArray(val)) {
      for (const [k, v] of Object.entries(val)) doc[`${field}_${k}`] = v;
      delete doc[field];
    }
  }
  if (prm.replacement_char && prm.replacement_char !== ".") doc = replaceKeys(doc, prm.replacement_char) as Record<string, unknown>;
  return doc;
}

type Call = (method: "HEAD" | "PUT", path: string) => Promise<{ status: number; text: string }>;

/** Rotating indices are made by Elasticsearch from a template of the same name, which must exist; a single index is created when missing. */
async function prepareIndex(prm: Params, call: Call): Promise<void> {
  if (prm.rotate_index && ROTATE[prm.rotate_index]) {
    if ((await call("HEAD", `/_template/${encodeURIComponent(prm.elastic_index)}`)).status !== 200) {
      throw new ConfigurationError("rotate_index", `no template with the name '${prm.elastic_index}' exists on the Elasticsearch host, but 'rotate_index' is set. Have you created the template?`);
    }
  } else if ((await call("HEAD", `/${encodeURIComponent(prm.elastic_index)}`)).status === 404) {
    const r = await call("PUT", `/${encodeURIComponent(prm.elastic_index)}`);
    if (r.status >= 300 && r.status !== 400) throw new Error(`creating index ${prm.elastic_index} failed: ${r.status} ${r.text.slice(0, 300)}`);
  }
}

interface BulkItem { index?: { status: number; error?: unknown } }

async function create(prm: Params, ctx: BotContext): Promise<OutputImpl> {
  const base = `${prm.use_ssl ? "https" : "http"}://${prm.elastic_host}:${prm.elastic_port}`;
  const dispatcher = new Agent({ connect: { rejectUnauthorized: prm.http_verify_cert, ca: prm.ssl_ca_certificate ? readFileSync(prm.ssl_ca_certificate) : undefined } });
  const headers: Record<string, string> = {};
  if (prm.http_username !== null) headers.authorization = `Basic ${Buffer.from(`${prm.http_username}:${prm.http_password ?? ""}`).toString("base64")}`;
  const call = async (method: "GET" | "HEAD" | "PUT" | "POST", path: string, body?: string, type = "application/json") => {
    const res = await request(`${base}${path}`, { method, body, dispatcher, headers: body === undefined ? headers : { ...headers, "content-type": type } });
    return { status: res.statusCode, text: await res.body.text() };
  };
  try {
    await prepareIndex(prm, call);
  } catch (err) {
    await dispatcher.close();
    throw err;
  }

  let pending: { index: string; doc: string; id?: string }[] = [];
  return {
    export(event: Event) {
      const d = documentOf(event, prm);
      pending.push({ index: indexOf(prm, d), doc: JSON.stringify(d) });
    },
    async flush(input: InputRef) {
      pending.forEach((m, i) => { m.id ??= createHash("sha256").update(`${input.key}\n${i}`).digest("hex").slice(0, 40); });
      const body = pending.map((m) => `${JSON.stringify({ index: { _index: m.index, _id: m.id } })}\n${m.doc}\n`).join("");
      const r = await call("POST", "/_bulk", body, "application/x-ndjson");
      if (r.status < 200 || r.status >= 300) throw new Error(`Elasticsearch bulk request failed: ${r.status} ${r.text.slice(0, 500)}`);
      const answer = JSON.parse(r.text) as { errors?: boolean; items?: BulkItem[] };
      const items = answer.items ?? [];
      if (items.length !== pending.length) throw new Error(`Elasticsearch answered ${items.length} bulk items for ${pending.length} documents`);
      const failed = pending.filter((_, i) => { const s = items[i]!.index?.status ?? 0; return s < 200 || s >= 300; });
      if (failed.length) {
        const first = items.find((it) => (it.index?.status ?? 0) >= 300)?.index;
        pending = failed; // the indexed ones are done; the failed are sent again (same _id) on the next try
        throw new Error(`Elasticsearch refused ${failed.length} of ${items.length} documents: ${first?.status} ${JSON.stringify(first?.error).slice(0, 500)}`);
      }
      ctx.log.debug(`Indexed ${items.length} documents.`);
      pending = [];
    },
    discard() { pending = []; },
    async shutdown() { await dispatcher.close(); },
  };
}

export default defineBot({
  kind: "output",
  name: "elasticsearch",
  intelmq: "intelmq.bots.outputs.elasticsearch.output",
  description: "Index events in Elasticsearch with the bulk API, idempotent per input",
  params,
  create,
});
