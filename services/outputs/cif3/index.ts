// SPDX-License-Identifier: AGPL-3.0-only
/**
 * CIFv3 output: submits events as indicators to a CIFv3 instance (IntelMQ's
 * intelmq.bots.outputs.cif3.output) through its HTTP API (POST /indicators), `fireball`
 * indicators per request. IntelMQ buffers indicators across events and acknowledges before they are
 * sent; here an input is acknowledged only after all its indicators were accepted.
 */
import { isIP } from "node:net";
import { Agent, request } from "undici";
import { ConfigurationError, defineBot, p, z, type BotContext, type Event, type OutputImpl } from "../../../shared/sdk/index.js";

export const params = z.object({
  cif3_url: z.string().nullable().default(null).describe("URL of the CIFv3 instance (required)"),
  cif3_token: p.secret(z.string().nullable().default(null).describe("API token with write access (required)")),
  add_feed_provider_as_tag: p.bool().default(false).describe("Tag the indicators with feed.provider"),
  cif3_additional_tags: p.list().default([]).describe("Tags added to every indicator"),
  cif3_feed_confidence: p.number().default(5).describe("Confidence when feed.accuracy is missing or cif3_static_confidence is set"),
  cif3_static_confidence: p.bool().default(false).describe("Always use cif3_feed_confidence instead of feed.accuracy / 10"),
  fireball: p.int().default(500).describe("Indicators per request (0: one request per indicator)"),
  http_verify_cert: p.bool().default(true).describe("Verify the instance's TLS certificate"),
}).strict();

export type Params = z.infer<typeof params>;

const FIELDS: Record<string, string> = {
  "source.ip": "indicator", "source.fqdn": "indicator", "source.url": "indicator", "source.network": "indicator", "source.port": "port",
  "feed.url": "reference", "time.source": "lasttime", "time.observation": "reporttime", "event_description.text": "description",
  "event_description.url": "reference", "malware.hash.md5": "indicator", "malware.hash.sha1": "indicator", "malware.hash.sha256": "indicator",
  "malware.name": "description", "protocol.application": "application", "protocol.transport": "protocol", tlp: "tlp",
};
const CLASSIFICATION_TAGS: Record<string, string[]> = { "c2-server": ["botnet", "c2"], undetermined: ["suspicious"], "brute-force": ["bruteforce"], other: ["suspicious"] };

/** The indicator's type, as CIF's indicator library guesses it. */
function itype(v: string): string | undefined {
  const ip = v.includes("/") ? isIP(v.split("/")[0]!) : isIP(v);
  if (ip) return ip === 4 ? "ipv4" : "ipv6";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return "url";
  if (/^[0-9a-f]{32}$/i.test(v)) return "md5";
  if (/^[0-9a-f]{40}$/i.test(v)) return "sha1";
  if (/^[0-9a-f]{64}$/i.test(v)) return "sha256";
  if (/^[a-z0-9.-]+\.[a-z0-9-]+$/i.test(v)) return "fqdn";
  return undefined;
}

export function indicatorOf(e: Record<string, unknown>, prm: Params): Record<string, unknown> {
  const tags: string[] = [];
  const out: Record<string, unknown> = { tags, provider: e["feed.provider"] ?? "IntelMQ" };
  if (prm.add_feed_provider_as_tag && "feed.provider" in e) tags.push(String(e["feed.provider"]));
  if (typeof e["classification.type"] === "string") {
    const type = e["classification.type"];
    const matched = Object.keys(CLASSIFICATION_TAGS).filter((c) => type.includes(c));
    for (const c of matched) tags.push(...CLASSIFICATION_TAGS[c]!);
    if (!matched.length) tags.push(type);
  }
  tags.push(...prm.cif3_additional_tags);
  if (typeof e["feed.accuracy"] === "number" && !prm.cif3_static_confidence) out.confidence = e["feed.accuracy"] / 10;
  if (!out.confidence) out.confidence = prm.cif3_feed_confidence;
  // later fields of the map win, as in IntelMQ's loop over it
  for (const [field, cif] of Object.entries(FIELDS)) if (field in e) out[cif] = e[field];
  const t = typeof out.indicator === "string" ? itype(out.indicator) : undefined;
  if (t) out.itype = t;
  return out;
}

async function create(prm: Params, ctx: BotContext): Promise<OutputImpl> {
  if (!prm.cif3_url) throw new ConfigurationError("cif3_url", "is not set");
  if (!prm.cif3_token) throw new ConfigurationError("cif3_token", "is not set");
  const base = prm.cif3_url.replace(/\/+$/, "");
  const dispatcher = new Agent({ connect: { rejectUnauthorized: prm.http_verify_cert } });
  const headers = { authorization: `Token token=${prm.cif3_token}`, "content-type": "application/json", accept: "application/vnd.cif.v3+json" };
  const ping = await request(`${base}/ping?write=1`, { headers, dispatcher }).catch(async (err: unknown) => { await dispatcher.close(); throw err; });
  const pingText = await ping.body.text();
  if (ping.statusCode !== 200) {
    await dispatcher.close();
    throw new ConfigurationError("cif3_url/cif3_token", `Error connecting to CIFv3 instance: ${ping.statusCode} ${pingText.slice(0, 200)}`);
  }
  ctx.log.info("Connected to CIFv3 instance.");
  let pending: Record<string, unknown>[] = [];
  return {
    export(event: Event) {
      pending.push(indicatorOf(event.toDict({ jsondictAsString: true }), prm));
    },
    async flush() {
      const size = prm.fireball > 0 ? prm.fireball : 1;
      while (pending.length) {
        const batch = pending.slice(0, size);
        const res = await request(`${base}/indicators`, { method: "POST", headers, body: JSON.stringify(batch), dispatcher });
        const text = await res.body.text();
        if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`Error submitting indicator(s): ${res.statusCode} ${text.slice(0, 300)}`);
        ctx.log.debug(`CIFv3 instance inserted ${text.slice(0, 100)} new indicator(s).`);
        pending = pending.slice(batch.length); // accepted: not sent again
      }
    },
    discard() { pending = []; },
    async shutdown() { await dispatcher.close(); },
  };
}

export default defineBot({
  kind: "output",
  name: "cif3",
  intelmq: "intelmq.bots.outputs.cif3.output",
  description: "Submit events as indicators to a CIFv3 instance",
  params,
  create,
});
