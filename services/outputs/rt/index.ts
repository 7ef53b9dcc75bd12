// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Request Tracker output: one RT ticket per event in `queue`, custom fields mapped from the event,
 * and in the RTIR flow a linked Investigation ticket (IntelMQ's intelmq.bots.outputs.rt.output),
 * over RT's REST 1.0 API. An event whose ticket was created is not created again after a failure.
 */
import { Agent, request } from "undici";
import { defineBot, p, pyStr, z, type BotContext, type Event, type OutputImpl } from "../../../shared/sdk/index.js";

const CF_MAPPING = {
  "classification.taxonomy": "Classification", "classification.type": "Incident Type", "event_description.text": "Description",
  "extra.incident.importance": "Importance", "extra.incident.severity": "Incident Severity", "extra.organization.name": "Customer", "source.ip": "IP",
};
const INVESTIGATION_FIELDS = "time.source,time.observation,source.ip,source.port,source.fqdn,source.url,classification.taxonomy,classification.type,classification.identifier,event_description.url,event_description.text,malware.name,protocol.application,protocol.transport";

export const params = z.object({
  rt_uri: z.string().default("http://localhost/REST/1.0").describe("RT's REST 1.0 endpoint"),
  rt_user: z.string().default("apiuser").describe("User"),
  rt_password: p.secret(z.string().nullable().default(null).describe("Password")),
  verify_cert: p.bool().default(true).describe("Verify RT's TLS certificate"),
  queue: z.string().default("Incidents").describe("Queue of the tickets"),
  cf_mapping: z.record(z.string(), z.string()).default(CF_MAPPING).describe("Event field -> custom field of the ticket"),
  final_status: z.string().nullable().default("resolved").describe("Status set on the ticket after it was created (empty: none)"),
  create_investigation: p.bool().default(false).describe("With queue Incidents: also an Investigations ticket to source.abuse_contact, linked to the incident"),
  investigation_fields: p.list().default(INVESTIGATION_FIELDS.split(",")).describe("Fields written into the Investigation ticket"),
  description_attr: z.string().default("event_description.text").describe("Field whose text opens the tickets"),
}).strict();

export type Params = z.infer<typeof params>;

/** RT's REST 1.0 form: "Key: value" lines, continuation lines indented. */
function form(fields: [string, string][]): string {
  return fields.map(([k, v]) => `${k}: ${v.replace(/\n/g, "\n ")}`).join("\n") + "\n";
}

export interface Ticket { queue: string; subject: string; text: string; fields: [string, string][] }

export function incidentOf(e: Event, prm: Params): { incident: Ticket; investigation: Ticket | null } {
  let subject = "Incident notification";
  let content = "";
  const ip = e.get("source.ip");
  if (ip) subject += `, ${pyStr(ip)}`;
  const description = e.get(prm.description_attr);
  if (description) content = `${pyStr(description)}\n\n`;
  let text = content;
  const fields: [string, string][] = [];
  for (const [k, v] of e.entries()) {
    text += `${k}: ${pyStr(v)}\n`;
    const cf = prm.cf_mapping[k];
    if (cf) fields.push([`CF.{${cf}}`, pyStr(v)]);
  }
  let investigation: Ticket | null = null;
  const requestor = e.get("source.abuse_contact");
  if (prm.queue === "Incidents" && prm.create_investigation && requestor && description) {
    let itext = content;
    for (const k of prm.investigation_fields) { const v = e.get(k); if (v) itext += `${k}: ${pyStr(v)}\n`; }
    investigation = { queue: "Investigations", subject, text: itext, fields: [["Requestor", pyStr(requestor)]] };
  }
  return { incident: { queue: prm.queue, subject, text, fields }, investigation };
}

function create(prm: Params, ctx: BotContext): OutputImpl {
  const base = prm.rt_uri.replace(/\/*$/, "/");
  const dispatcher = new Agent({ connect: { rejectUnauthorized: prm.verify_cert } });
  let cookie: string | null = null;

  const call = async (selector: string, data: Record<string, string>): Promise<string> => {
    for (let attempt = 0; ; attempt++) {
      if (cookie === null && selector !== "") await login();
      const res = await request(base + selector, {
        method: "POST", body: new URLSearchParams(data).toString(), dispatcher,
        headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
      });
      const text = await res.body.text();
      if (res.statusCode >= 300) throw new Error(`RT answered HTTP ${res.statusCode} to ${selector || "login"}`);
      if (/^RT\/\S+ 401/.test(text) && attempt === 0 && selector !== "") { cookie = null; continue; } // the session expired
      if (!/^RT\/\S+ 200/.test(text)) throw new Error(`RT refused ${selector || "login"}: ${text.split("\n")[0]}`);
      if (selector === "") cookie = ([] as string[]).concat(res.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]).join("; ");
      return text;
    }
  };
  const login = async () => { await call("", { user: prm.rt_user, pass: prm.rt_password ?? "" }); };
  const createTicket = async (t: Ticket): Promise<number> => {
    const text = await call("ticket/new", { content: form([["id", "ticket/new"], ["Queue", t.queue], ["Subject", t.subject], ["Text", t.text], ...t.fields]) });
    const m = /# Ticket (\d+) created/.exec(text);
    if (!m) throw new Error(`Failed to create RT ticket: ${text.split("\n").slice(0, 3).join(" ")}`);
    return Number(m[1]);
  };

  let pending: Event[] = [];
  return {
    export(event: Event) { pending.push(event); },
    async flush() {
      while (pending.length) {
        const e = pending[0]!;
        const { incident, investigation } = incidentOf(e, prm);
        const id = await createTicket(incident);
        pending.shift(); // created: never again, whatever happens to the steps after it (IntelMQ only logs their failures too)
        ctx.log.debug(`RT ticket created: ${id}`);
        try {
          if (investigation) {
            const inv = await createTicket(investigation);
            await call(`ticket/${inv}/links`, { content: form([["MemberOf", String(id)]]) });
          }
          if (prm.final_status) await call(`ticket/${id}/edit`, { content: form([["Status", prm.final_status]]) });
        } catch (err) {
          ctx.log.error({ err }, `Failed to complete RT ticket ${id}`);
        }
      }
    },
    discard() { pending = []; },
    async shutdown() { await dispatcher.close(); },
  };
}

export default defineBot({
  kind: "output",
  name: "rt",
  intelmq: "intelmq.bots.outputs.rt.output",
  description: "Create Request Tracker (RTIR) tickets from events",
  params,
  create,
});
