// SPDX-License-Identifier: AGPL-3.0-only
/**
 * McAfee ESM IP output: adds a field of each event (source.ip) to an IP watchlist of McAfee
 * Enterprise Security Manager (IntelMQ's intelmq.bots.outputs.mcafee.output_esm_ip), through the
 * ESM's REST API (rs/esm/v2). An input's values are added with one call; a watchlist is a set,
 * so adding a value again changes nothing.
 */
import { Agent, request } from "undici";
import { ConfigurationError, InvalidValue, defineBot, p, pyStr, z, type BotContext, type Event, type OutputImpl } from "../../../shared/sdk/index.js";

export const params = z.object({
  esm_ip: z.string().default("1.2.3.4").describe("Address of the ESM"),
  esm_user: z.string().default("NGCP").describe("User"),
  esm_password: p.secret(z.string().nullable().default(null).describe("Password")),
  esm_watchlist: z.string().nullable().default(null).describe("Name of the watchlist to add to (required)"),
  field: z.string().default("source.ip").describe("Event field whose value is added"),
  esm_url: z.string().nullable().default(null).describe("Base URL of the ESM's API instead of https://<esm_ip>/rs/esm/v2 (our addition)"),
  http_verify_cert: p.bool().default(false).describe("Verify the ESM's TLS certificate (ESMs usually have self-signed ones; our addition)"),
}).strict();

export type Params = z.infer<typeof params>;

async function create(prm: Params, ctx: BotContext): Promise<OutputImpl> {
  if (!prm.esm_watchlist) throw new ConfigurationError("esm_watchlist", "is not set");
  const base = (prm.esm_url ?? `https://${prm.esm_ip}/rs/esm/v2`).replace(/\/+$/, "");
  const dispatcher = new Agent({ connect: { rejectUnauthorized: prm.http_verify_cert } });
  let session: Record<string, string> | null = null;

  const login = async () => {
    const body = JSON.stringify({ username: Buffer.from(prm.esm_user).toString("base64"), password: Buffer.from(prm.esm_password ?? "").toString("base64"), locale: "en_US" });
    const res = await request(`${base}/login`, { method: "POST", body, headers: { "content-type": "application/json" }, dispatcher });
    await res.body.text();
    if (res.statusCode !== 200 && res.statusCode !== 201) throw new Error(`Could not Login to ESM (${res.statusCode}).`);
    const cookie = ([] as string[]).concat(res.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]).join("; ");
    session = { cookie, "x-xsrf-token": String(res.headers["xsrf-token"] ?? "") };
  };
  const post = async (method: string, data: unknown): Promise<string> => {
    for (let attempt = 0; ; attempt++) {
      if (!session) await login();
      const res = await request(`${base}/${method}`, { method: "POST", body: JSON.stringify(data), headers: { "content-type": "application/json", ...session }, dispatcher });
      const text = await res.body.text();
      if (res.statusCode === 401 && attempt === 0) { session = null; continue; } // the session expired: log in again once
      if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`ESM ${method} failed: ${res.statusCode} ${text.slice(0, 300)}`);
      return text;
    }
  };

  let watchlist: unknown;
  try {
    const lists = JSON.parse(await post("sysGetWatchlists?hidden=false&dynamic=false&writeOnly=false&indexedOnly=false", { filters: [{ name: "IPAddress", id: 0 }] })) as { name: string; id: unknown }[];
    watchlist = lists.find((w) => w.name === prm.esm_watchlist)?.id;
  } catch (err) {
    await dispatcher.close();
    throw err;
  }
  if (watchlist === undefined) {
    await dispatcher.close();
    throw new ConfigurationError("esm_watchlist", `watchlist ${JSON.stringify(prm.esm_watchlist)} not found. Please verify name of the watchlist.`);
  }
  let pending: string[] = [];
  return {
    export(event: Event) {
      const v = event.get(prm.field);
      if (v === undefined || v === null) throw new InvalidValue(prm.field, v, "the event lacks the field to add to the watchlist");
      pending.push(pyStr(v));
    },
    async flush() {
      await post("sysAddWatchlistValues", { watchlist: { value: watchlist }, values: JSON.stringify(pending) });
      ctx.log.info(`ESM Watchlist updated with ${pending.length} value(s).`);
      pending = [];
    },
    discard() { pending = []; },
    async shutdown() { await dispatcher.close(); },
  };
}

export default defineBot({
  kind: "output",
  name: "mcafee",
  intelmq: "intelmq.bots.outputs.mcafee.output_esm_ip",
  description: "Add IP addresses of events to a McAfee ESM watchlist",
  params,
  create,
});
