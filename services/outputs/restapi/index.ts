// SPDX-License-Identifier: AGPL-3.0-only
/**
 * REST API output: POSTs each event to a URL (IntelMQ's intelmq.bots.outputs.restapi.output).
 * The flush posts the input's events one after the other; an event is done when the server answered
 * 2xx, and only the ones not yet done are posted again after a failure.
 */
import { readFileSync } from "node:fs";
import { Agent, request } from "undici";
import { ConfigurationError, defineBot, httpParams, p, pyStr, z, type BotContext, type Event, type OutputImpl } from "../../../shared/sdk/index.js";

export const params = z.object({
  host: z.string().nullable().default(null).describe("URL to POST the events to (required)"),
  use_json: p.bool().default(true).describe("Send JSON; false: a form (application/x-www-form-urlencoded) of the fields"),
  hierarchical_output: p.bool().default(false).describe("Nest fields at their dots"),
  auth_type: z.enum(["http_header", "http_basic_auth"]).nullable().default(null).describe("How auth_token is sent"),
  auth_token_name: z.string().nullable().default(null).describe("Header name (http_header) or user (http_basic_auth)"),
  auth_token: p.secret(z.string().nullable().default(null).describe("Header value (http_header) or password (http_basic_auth)")),
  ...httpParams,
  http_header: p.secret(z.record(z.string(), z.string()).nullable().default(null).describe("Extra request headers")),
}).strict();

export type Params = z.infer<typeof params>;

function timeoutMs(t: number | [number, number]): { connect: number; read: number } {
  return Array.isArray(t) ? { connect: t[0] * 1000, read: t[1] * 1000 } : { connect: t * 1000, read: t * 1000 };
}

function create(prm: Params, ctx: BotContext): OutputImpl {
  if (!prm.host) throw new ConfigurationError("host", "is not set");
  const url = prm.host;
  const t = timeoutMs(prm.http_timeout_sec);
  const ca = typeof prm.http_verify_cert === "string" ? prm.http_verify_cert : prm.ssl_ca_certificate;
  const dispatcher = new Agent({ connect: { timeout: t.connect, rejectUnauthorized: prm.http_verify_cert !== false, ca: ca ? readFileSync(ca) : undefined }, headersTimeout: t.read, bodyTimeout: t.read });
  const headers: Record<string, string> = { "user-agent": prm.http_user_agent, ...(prm.http_header ?? {}) };
  if (prm.http_username !== null) headers.authorization = `Basic ${Buffer.from(`${prm.http_username}:${prm.http_password ?? ""}`).toString("base64")}`;
  if (prm.auth_token_name && prm.auth_token) {
    if (prm.auth_type === "http_header") headers[prm.auth_token_name] = prm.auth_token;
    else if (prm.auth_type === "http_basic_auth") headers.authorization = `Basic ${Buffer.from(`${prm.auth_token_name}:${prm.auth_token}`).toString("base64")}`;
  }
  headers["content-type"] = prm.use_json ? "application/json; charset=utf-8" : "application/x-www-form-urlencoded";
  let pending: string[] = [];

  const post = async (body: string) => {
    for (let tries = 1; ; tries++) {
      try {
        return await request(url, { method: "POST", body, headers, dispatcher });
      } catch (err) {
        const timedOut = (err as { code?: string }).code?.startsWith("UND_ERR_") && /Timeout/.test((err as Error).name);
        if (!timedOut) throw err;
        if (tries >= prm.http_timeout_max_tries) throw new Error(`Request timed out ${tries} times in a row.`, { cause: err });
      }
    }
  };

  return {
    export(event: Event) {
      const d = event.toDict({ hierarchical: prm.hierarchical_output });
      pending.push(prm.use_json ? JSON.stringify(d) : new URLSearchParams(Object.entries(d).map(([k, v]): [string, string] => [k, pyStr(v)])).toString());
    },
    async flush() {
      while (pending.length) {
        const res = await post(pending[0]!);
        const text = await res.body.text();
        if (res.statusCode < 200 || res.statusCode >= 300) {
          ctx.log.debug(`Error during message sending, response body: ${JSON.stringify(text.slice(0, 1000))}.`);
          throw new Error(`${res.statusCode} error for url: ${url}`);
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
  name: "restapi",
  intelmq: "intelmq.bots.outputs.restapi.output",
  description: "POST events to a REST API",
  params,
  create,
});
