// SPDX-License-Identifier: AGPL-3.0-only
/**
 * MISP API output: inserts each event as a MISP event with one `intelmq_event` object, unless MISP
 * already has an event (tagged misp_tag_for_bot) holding all its significant_fields values: then
 * that event's timestamp is renewed when it matches closely (IntelMQ's
 * intelmq.bots.outputs.misp.output_api, over MISP's REST API).
 */
import { Agent, request } from "undici";
import { ConfigurationError, defineBot, p, z, type BotContext, type Event, type OutputImpl } from "../../../shared/sdk/index.js";
import { mispType, mispValue } from "../misp_feed/attributes.js";

export const params = z.object({
  misp_url: z.string().nullable().default(null).describe("URL of the MISP instance (required)"),
  misp_key: p.secret(z.string().nullable().default(null).describe("API key (required)")),
  misp_tag_for_bot: z.string().nullable().default(null).describe("Tag of the MISP events this bot makes, searched for (required)"),
  significant_fields: p.list().default([]).describe("Fields whose values, all found in one MISP event, mean the event is known (required)"),
  misp_additional_correlation_fields: p.list().default([]).describe("Fields correlated besides significant_fields"),
  misp_additional_tags: p.list().default([]).describe("Tags added to new MISP events"),
  misp_to_ids_fields: p.list().default([]).describe("Fields whose attributes get the to_ids flag"),
  misp_publish: p.bool().default(false).describe("Publish new MISP events"),
  add_feed_provider_as_tag: p.bool().default(true).describe("Tag new MISP events IntelMQ:feed.provider=\"...\""),
  add_feed_name_as_tag: p.bool().default(true).describe("Tag new MISP events IntelMQ:feed.name=\"...\""),
  http_verify_cert: p.bool().default(true).describe("Verify MISP's TLS certificate"),
}).strict();

export type Params = z.infer<typeof params>;

type MispEvent = { id?: string; info?: string; timestamp?: string; Object?: { name: string; Attribute?: { object_relation: string; value: string }[] }[]; [k: string]: unknown };

function create(prm: Params, ctx: BotContext): OutputImpl {
  const missing = (["misp_key", "misp_tag_for_bot", "misp_url"] as const).filter((k) => !prm[k]);
  if (!prm.significant_fields.length) missing.push("significant_fields" as never);
  if (missing.length) throw new ConfigurationError(missing.join(", "), "must be set (not null)");
  const base = prm.misp_url!.replace(/\/+$/, "");
  const dispatcher = new Agent({ connect: { rejectUnauthorized: prm.http_verify_cert } });
  const headers = { authorization: prm.misp_key!, accept: "application/json", "content-type": "application/json" };
  const call = async (path: string, body: unknown): Promise<unknown> => {
    const res = await request(`${base}${path}`, { method: "POST", headers, body: JSON.stringify(body), dispatcher });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`MISP ${path} failed: ${res.statusCode} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  };

  const correlate = new Set([...prm.significant_fields, ...prm.misp_additional_correlation_fields]);
  const insert = async (e: Record<string, unknown>) => {
    const tags = [prm.misp_tag_for_bot!];
    if (prm.add_feed_provider_as_tag && "feed.provider" in e) tags.push(`IntelMQ:feed.provider="${mispValue(e["feed.provider"])}"`);
    if (prm.add_feed_name_as_tag && "feed.name" in e) tags.push(`IntelMQ:feed.name="${mispValue(e["feed.name"])}"`);
    tags.push(...prm.misp_additional_tags);
    const attributes = Object.entries(e).map(([rel, v]) => ({
      object_relation: rel, type: mispType(rel), value: mispValue(v), disable_correlation: !correlate.has(rel), to_ids: prm.misp_to_ids_fields.includes(rel),
    }));
    const event = {
      info: "feed.provider" in e ? `from ${mispValue(e["feed.provider"])} via IntelMQ` : "via IntelMQ",
      Tag: tags.map((name) => ({ name })), Object: [{ name: "intelmq_event", "meta-category": "network", Attribute: attributes }],
    };
    const added = (await call("/events/add", { Event: event })) as { Event?: { id?: string } };
    const id = added?.Event?.id;
    if (id === undefined) throw new Error("MISP did not answer the new event's id");
    if (prm.misp_publish) await call(`/events/publish/${id}`, {});
    ctx.log.info(`Inserted new MISP event with id: ${id}`);
  };
  const update = async (found: MispEvent, e: Record<string, unknown>) => {
    const obj = (found.Object ?? []).find((o) => o.name === "intelmq_event");
    const value = (f: string) => obj?.Attribute?.find((a) => a.object_relation === f)?.value;
    const close = ["feed.provider", ...prm.significant_fields].every((f) => value(f) === (e[f] === undefined ? undefined : mispValue(e[f])));
    if (!close) return;
    await call(`/events/edit/${found.id}`, { Event: { ...found, timestamp: String(Math.floor(Date.now() / 1000)) } });
    ctx.log.info(`Updated timestamp of MISP event with id: ${found.id}`);
  };

  let pending: Record<string, unknown>[] = [];
  return {
    export(event: Event) { pending.push(event.toDict({ jsondictAsString: true })); },
    async flush() {
      while (pending.length) {
        const e = pending[0]!;
        const values = prm.significant_fields.filter((f) => e[f]).map((f) => mispValue(e[f]));
        if (!values.length) {
          ctx.log.warn(`All significant_fields empty -> skipping event (raw=${String(e.raw)}).`);
        } else {
          const r = (await call("/events/restSearch", { returnFormat: "json", tags: prm.misp_tag_for_bot, value: { AND: values }, limit: 20 })) as { response?: { Event: MispEvent }[] };
          const found = (r?.response ?? []).map((x) => x.Event);
          if (found.length) {
            ctx.log.info(`Found MISP events matching ${JSON.stringify(values)}: ${JSON.stringify(found.map((f) => f.id))} -> not inserting.`);
            for (const f of found) await update(f, e);
          } else {
            await insert(e);
          }
        }
        pending.shift();
      }
    },
    discard() { pending = []; },
    async shutdown() { await dispatcher.close(); },
  };
}

export default defineBot({
  kind: "output",
  name: "misp_api",
  intelmq: "intelmq.bots.outputs.misp.output_api",
  description: "Insert events into a MISP instance unless already there",
  params,
  create,
});
