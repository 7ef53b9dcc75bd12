// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Request Tracker collector (IntelMQ's intelmq.bots.collectors.rt.collector_rt): tickets found by
 * a search over RT's REST 1.0 API give reports of their matching attachment, or of the file behind
 * the first URL of the ticket matching url_regex. Tickets are taken and their status set in
 * commit() only, once the broker stored their reports.
 */
import { z } from "zod";
import {
  InvalidArgument, collectorParams, defineBot, httpParams, p, pyRegex, type BotContext, type CollectorImpl, type Report,
} from "../../../shared/sdk/index.js";
import { ApiStatusError, apiClient } from "../lib/api-client.js";
import { Ledger } from "../lib/ledger.js";
import { unzip } from "../http/archive.js";
import { RtSession, type RtTicket } from "./rest1.js";

const extract = z.union([z.null(), p.bool(), p.list()]).default(true).transform((v) => v ?? false);
const oneOrMany = z.union([z.string(), z.array(z.string())]).nullable();

export const params = z.object({
  ...collectorParams,
  ...httpParams,
  uri: z.string().default("http://localhost/rt/REST/1.0").describe("URL of RT's REST 1.0 API"),
  user: z.string().default("intelmq").describe("RT user"),
  password: p.secret(z.string().default("password")).describe("Password of the RT user"),
  search_owner: oneOrMany.default("nobody").describe("Owner of the tickets searched (a list: all of them)"),
  search_queue: oneOrMany.default("Incident Reports").describe("Queue searched"),
  search_requestor: oneOrMany.default(null).describe("Requestor of the tickets searched"),
  search_status: oneOrMany.default("new").describe("Status of the tickets searched"),
  search_subject_like: oneOrMany.default("Report").describe("Subject LIKE this"),
  search_subject_not_like: oneOrMany.default(null).describe("Subject NOT LIKE this"),
  search_not_older_than: z.string().nullable().default(null).describe("Only tickets created after this: a date, or relative as \"3 days\""),
  attachment_regex: z.string().nullable().default("\\.csv\\.zip$").describe("An attachment whose name matches is collected (none: attachments are not looked at)"),
  url_regex: z.string().nullable().default("https://dl.shadowserver.org/[a-zA-Z0-9?_-]*").describe("Else the first URL of the ticket's first message matching this is downloaded"),
  extract_attachment: extract.describe("Unpack attachments (zip, tar.gz, gzip): true, or a list of file names"),
  extract_download: extract.describe("Unpack downloads: true, or a list of file names"),
  take_ticket: p.bool().default(true).describe("Take the ticket once collected"),
  set_status: z.string().nullable().default("open").describe("Status the ticket gets once collected (empty: unchanged)"),
}).strict();

export type Params = z.infer<typeof params>;

const MAPPING: [keyof Params, string][] = [
  ["search_owner", "Owner"], ["search_queue", "Queue"], ["search_requestor", "Requestor"],
  ["search_status", "Status"], ["search_subject_like", "Subject__like"], ["search_subject_not_like", "Subject__notlike"],
];
const OPS: Record<string, string> = { "": "=", like: " LIKE ", notlike: " NOT LIKE ", gt: ">" };
const MINUTES: Record<string, number> = { second: 1 / 60, minute: 1, hour: 60, day: 1440, week: 10080, month: 43200, year: 525600 };

/** The ticket query RT is sent, as IntelMQ's rt library builds it. */
export function buildQuery(prm: Params, createdAfter: string | null): string {
  const kw: [string, string | string[]][] = [];
  if (createdAfter) kw.push(["Created__gt", createdAfter]);
  let raw = false;
  for (const [name, field] of MAPPING) {
    const v = prm[name] as string | string[] | null;
    if (v && v.length) {
      kw.push([field, v]);
      if (Array.isArray(v)) raw = true;
    }
  }
  const queue = kw.find(([k]) => k === "Queue")?.[1];
  const parts: string[] = [`Queue='${queue ?? "General"}'`];
  const conds: string[] = [];
  for (const [key, value] of kw) {
    if (key === "Queue") continue;
    const [field, op = ""] = key.split("__");
    for (const one of Array.isArray(value) ? value : [value]) conds.push(raw ? `(${field}${OPS[op]}'${one}')` : `${field}${OPS[op]}'${one}'`);
  }
  if (raw) parts.push(conds.join(" AND "));
  else parts.push(...conds);
  return parts.map((x) => `(${x})`).join(" AND ");
}

function notOlderThan(spec: string | null): (() => string) | null {
  if (spec === null) return null;
  const naive = (d: Date) => d.toISOString().slice(0, 19);
  const rel = /^(\d+)\s+(\w+[^s])s?$/u.exec(spec.trim());
  if (rel && rel[2]! in MINUTES) {
    const ms = Number(rel[1]) * MINUTES[rel[2]!]! * 60_000;
    return () => naive(new Date(Date.now() - ms));
  }
  const abs = new Date(spec);
  if (Number.isNaN(abs.getTime())) throw new InvalidArgument("search_not_older_than", spec, "a date or a relative time such as '3 days'");
  return () => naive(abs);
}

function fileNameOf(url: string, disposition: string | undefined): string {
  const m = disposition ? /filename=["']?([^"';]+)/.exec(disposition) : null;
  return m ? m[1]! : url.split("/").at(-1)!;
}

function create(prm: Params, ctx: BotContext): CollectorImpl {
  const since = notOlderThan(prm.search_not_older_than);
  const attRe = prm.attachment_regex ? pyRegex(prm.attachment_regex) : null;
  const urlRe = prm.url_regex ? pyRegex(prm.url_regex) : null;
  const http = apiClient(prm, ctx.log);
  const ledger = new Ledger<number>();
  let rt: RtSession | null = null;

  function addTicketFields(report: Report, ticket: RtTicket, id: number, created: string): void {
    const requestors = (ticket.Requestors ?? "").split(",").map((s) => s.trim()).filter((s) => s).join(",");
    report.add("rtir_id", id);
    report.add("time.observation", `${created} UTC`, { overwrite: true });
    report.add("extra.email_subject", ticket.Subject ?? "");
    report.add("extra.ticket_subject", ticket.Subject ?? "");
    report.add("extra.email_from", requestors);
    report.add("extra.ticket_requestors", requestors);
    report.add("extra.ticket_queue", ticket.Queue ?? "");
    report.add("extra.ticket_status", ticket.Status ?? "");
    report.add("extra.ticket_owner", ticket.Owner ?? "");
  }

  /** The reports of one ticket, or null when it has nothing to collect now (2: mark it anyway). */
  async function fetchTicket(session: RtSession, ticket: RtTicket, id: number): Promise<{ files: { name: string | null; data: Buffer }[]; base: Report } | "skip" | "mark"> {
    let att: [string, string] | null = null;
    if (attRe) {
      for (const [attId, name] of await session.attachments(id)) {
        if (attRe.test(name)) { att = [attId, name]; break; }
      }
    }
    let files: { name: string | null; data: Buffer }[];
    let created: string;
    let extractOpt: Params["extract_attachment"];
    let fallbackName: string | null = null;
    if (att) {
      ctx.log.debug(`Found attachment ${att[0]}: ${JSON.stringify(att[1])}.`);
      const data = await session.attachmentContent(id, att[0]);
      created = (await session.attachment(id, att[0])).Created ?? "";
      files = [{ name: null, data }];
      extractOpt = prm.extract_attachment;
      if (att[1].endsWith(".gz")) fallbackName = att[1].slice(0, -3);
    } else {
      const first = urlRe ? (await session.history(id))[0] : undefined;
      const match = first && urlRe ? urlRe.exec(first.Content ?? "") : null;
      if (!first || !match) {
        ctx.log.info("No matching attachment or URL found.");
        return "skip";
      }
      created = first.Created ?? "";
      const url = match[0];
      ctx.log.debug(`Matching URL found ${JSON.stringify(url)}.`);
      let res;
      try {
        res = await http.request(url);
      } catch (err) {
        if (!(err instanceof ApiStatusError)) throw err;
        ctx.log.error(`HTTP response status code for ${JSON.stringify(url)} was ${err.status}. Skipping ticket ${id}.`);
        // IntelMQ marks tickets whose URL is gone (4xx) as done; a server error is tried again later
        return Math.floor(err.status / 100) === 4 ? "mark" : "skip";
      }
      ctx.log.info(`Report #${id} downloaded.`);
      files = [{ name: fileNameOf(url, res.header("content-disposition")), data: res.body }];
      extractOpt = prm.extract_download;
    }
    if (extractOpt !== false) {
      try {
        const named = files[0]!.name;
        files = unzip(files[0]!.data, extractOpt, { maxOutput: 256 * 1024 * 1024 }).map((f) => ({ name: f.name ?? named ?? fallbackName, data: f.data }));
      } catch {
        ctx.log.error("Could not uncompress the file. Skipping for now.");
        return "skip";
      }
    }
    const base = ctx.newReport();
    addTicketFields(base, ticket, id, created);
    return { files, base };
  }

  return {
    async *collect(): AsyncIterable<Report> {
      const session = rt ??= new RtSession(http, prm.uri);
      if (!(await session.login(prm.user, prm.password))) { rt = null; throw new Error("Login failed."); }
      const query = buildQuery(prm, since ? since() : null);
      ctx.log.debug(`Searching tickets: ${query}.`);
      const tickets = await session.search(query, "Created");
      ctx.log.info(`${tickets.length} results on search query.`);
      for (const ticket of tickets) {
        const id = Number(ticket.id!.split("/")[1]);
        const key = String(id);
        ledger.begin(key, id);
        if (ledger.stored(`${key}:0`)) {
          // its reports were stored in a round that failed after: only the marking is left
          for (let i = 0; ledger.stored(`${key}:${i}`); i++) ledger.part(key, `${key}:${i}`);
          ledger.end(key);
          continue;
        }
        const got = await fetchTicket(session, ticket, id);
        if (got === "skip") continue;
        if (got !== "mark") {
          const reports = got.files.map(({ name, data }) => {
            const r = got.base.copy();
            r.add("raw", data.toString("base64"), { sanitize: false });
            if (name) r.add("extra.file_name", name, { overwrite: true });
            return r;
          });
          for (const [i, r] of reports.entries()) ledger.part(key, `${key}:${i}`, r);
          ledger.end(key);
          yield* reports;
        } else {
          ledger.end(key);
        }
      }
    },
    queued: (report) => ledger.queued(report),
    async commit() {
      for (const [key, id] of ledger.ready()) {
        if (prm.take_ticket) {
          // as IntelMQ: a ticket that cannot be taken (owned by someone else) is still done
          const taken = await rt!.take(id).catch((err: unknown) => { ctx.log.error({ err }, `Could not take ticket ${id}.`); return true; });
          if (!taken) ctx.log.error(`Could not take ticket ${id}.`);
        }
        if (prm.set_status) await rt!.edit(id, { Status: prm.set_status });
        ledger.done(key);
      }
    },
    shutdown: () => http.close(),
  };
}

export default defineBot({
  kind: "collector",
  name: "rt",
  intelmq: "intelmq.bots.collectors.rt.collector_rt",
  description: "Fetch attachments and linked downloads of Request Tracker tickets; take them and set their status once stored",
  params,
  runtimeDefaults: { rate_limit: 3600 },
  create,
});
