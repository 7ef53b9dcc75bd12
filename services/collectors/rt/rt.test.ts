// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import type { ServerResponse } from "node:http";
import { src } from "../../../test/helpers/paths.js";
import { startPeer, testCollector, unb64, type Peer, type PeerRequest } from "../lib/testing.js";
import bot, { buildQuery, params as schema } from "./index.js";

const fixture = (name: string) => readFileSync(src("services/collectors/rt/fixtures", name));
const OK = "RT/4.4.3 200 Ok\n\n";

interface Ticket { id: number; subject: string; status: string; owner: string; attachment?: { id: number; name: string; data: Buffer }; url?: string }

/** A Request Tracker answering REST 1.0 as RT 4.4 does, with faults to inject. */
function rtServer(tickets: Ticket[], faults: { dropContent?: number; dl?: number } = {}) {
  let peer!: Peer;
  const handler = (req: PeerRequest, res: ServerResponse) => {
    const u = new URL(req.url, "http://x");
    const path = u.pathname.replace(/^\/REST\/1\.0\/?/, "");
    const text = (s: string) => { res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }); res.end(s); };
    if (path === "" && req.method === "POST") {
      const form = new URLSearchParams(req.body.toString());
      if (form.get("user") !== "intelmq" || form.get("pass") !== "pw") return text("RT/4.4.3 401 Credentials required\n");
      res.writeHead(200, { "set-cookie": "RT_SID_x=abc; path=/; HttpOnly" });
      return res.end(OK);
    }
    if (u.pathname.startsWith("/dl/")) {
      if (faults.dl) { res.writeHead(faults.dl); return res.end("error"); }
      res.writeHead(200, { "content-disposition": "attachment; filename=\"report.csv.gz\"" });
      return res.end(gzipSync("ip,port\n192.0.2.1,80\n"));
    }
    if (req.headers.cookie !== "RT_SID_x=abc") return text("RT/4.4.3 401 Credentials required\n");
    if (path === "search/ticket") {
      const found = tickets.filter((t) => t.status === "new");
      if (!found.length) return text(OK + "No matching results.\n");
      return text(OK + found.map((t) => `id: ticket/${t.id}\nQueue: Incident Reports\nOwner: ${t.owner}\nSubject: ${t.subject}\nStatus: ${t.status}\nRequestors: a@example.org, b@example.org\nCreated: Mon Jan 01 10:00:00 2024`).join("\n\n--\n\n") + "\n");
    }
    const m = /^ticket\/(\d+)\/(.*)$/.exec(path);
    const t = m ? tickets.find((x) => x.id === Number(m[1])) : undefined;
    if (!m || !t) return text(OK + "# Ticket does not exist.\n");
    const rest = m[2]!;
    if (rest === "attachments") {
      return text(OK + `id: ticket/${t.id}/attachments\nAttachments: 1: (Unnamed) (text/plain / 0b),\n` + (t.attachment ? `             ${t.attachment.id}: ${t.attachment.name} (application/zip / 1k)\n` : ""));
    }
    if (t.attachment && rest === `attachments/${t.attachment.id}`) {
      return text(OK + `id: ${t.attachment.id}\nSubject: \nCreator: 12\nCreated: 2024-01-02 03:04:05\nTransaction: 99\nParent: 1\nFilename: ${t.attachment.name}\nContentType: application/zip\nHeaders: X: y\nContent: binary\n`);
    }
    if (t.attachment && rest === `attachments/${t.attachment.id}/content`) {
      if (faults.dropContent === t.id) { res.writeHead(200, { "content-length": "99999" }); res.write(OK, () => res.destroy()); return; }
      res.writeHead(200);
      return res.end(Buffer.concat([Buffer.from(OK), t.attachment.data]));
    }
    if (rest === "history") {
      return text(OK + `# 2/2 (id/1/total)\n\nid: 1\nTicket: ${t.id}\nType: Create\nCreated: 2024-01-03 04:05:06\nContent: Dear team,\n         your report is at ${t.url ?? "nowhere"} today.\n\nAttachments:\n`);
    }
    if (rest === "take" && req.method === "POST") {
      t.owner = "intelmq";
      return text(OK + `# Owner changed from Nobody to intelmq\n`);
    }
    if (rest === "edit" && req.method === "POST") {
      const content = new URLSearchParams(req.body.toString()).get("content") ?? "";
      t.status = /Status: (\w+)/.exec(content)?.[1] ?? t.status;
      return text(OK + `# Ticket ${t.id} updated.\n`);
    }
    text("RT/4.4.3 400 Bad Request\n");
  };
  return { handler, setPeer: (p: Peer) => { peer = p; }, get peer() { return peer; } };
}

async function setup(tickets: Ticket[], faults: { dropContent?: number; dl?: number } = {}) {
  const srv = rtServer(tickets, faults);
  const peer = await startPeer(srv.handler);
  for (const t of tickets) if (t.url) t.url = t.url.replace("@PEER@", peer.url);
  const c = await testCollector(bot, {
    name: "RT", uri: `${peer.url}/REST/1.0/`, user: "intelmq", password: "pw",
    url_regex: "http://127\\.0\\.0\\.1:\\d+/dl/[a-z0-9]+", attachment_regex: "\\.csv\\.zip$",
  });
  return { peer, c };
}

const tickets = (): Ticket[] => [
  { id: 7, subject: "Report A", status: "new", owner: "Nobody", attachment: { id: 5, name: "scan.csv.zip", data: fixture("two_files.zip") } },
  { id: 8, subject: "Report B", status: "new", owner: "Nobody", url: "@PEER@/dl/abc123" },
];

test("the query is built as IntelMQ's rt library builds it", () => {
  const prm = schema.parse({});
  assert.equal(buildQuery(prm, null), "(Queue='Incident Reports') AND (Owner='nobody') AND (Status='new') AND (Subject LIKE 'Report')");
  assert.equal(buildQuery(prm, "2024-01-01T00:00:00"), "(Queue='Incident Reports') AND (Created>'2024-01-01T00:00:00') AND (Owner='nobody') AND (Status='new') AND (Subject LIKE 'Report')");
  assert.equal(buildQuery(schema.parse({ search_status: ["new", "open"], search_owner: null }), null),
    "(Queue='Incident Reports') AND ((Status='new') AND (Status='open') AND (Subject LIKE 'Report'))");
});

test("attachments and downloads become reports with the ticket's fields; tickets are taken and opened after", async () => {
  const ts = tickets();
  const { peer, c } = await setup(ts);
  try {
    const r = await c.round();
    assert.equal(r.failures, 0);
    assert.deepEqual(r.reports.map((x) => [x["extra.file_name"], unb64(x.raw), x.rtir_id]), [["bar", "bar text\n", 7], ["foo", "foo text\n", 7], ["report.csv.gz", "ip,port\n192.0.2.1,80\n", 8]]);
    const a = r.reports[0]!;
    assert.equal(a["time.observation"], "2024-01-02T03:04:05+00:00");
    assert.equal(a["extra.ticket_subject"], "Report A");
    assert.equal(a["extra.email_from"], "a@example.org,b@example.org");
    assert.equal(a["extra.ticket_queue"], "Incident Reports");
    assert.equal(r.reports[2]!["time.observation"], "2024-01-03T04:05:06+00:00");
    assert.deepEqual(ts.map((t) => [t.owner, t.status]), [["intelmq", "open"], ["intelmq", "open"]]);
    const search = peer.requests.find((q) => q.url.includes("search/ticket"))!;
    assert.match(decodeURIComponent(search.url.replace(/\+/g, " ")), /orderby=Created&format=l/);
    assert.deepEqual((await c.round()).reports, []);
  } finally {
    await c.shutdown();
    await peer.close();
  }
});

test("the connection dropping in an attachment's download: nothing sent, no ticket taken or opened", async () => {
  const ts = tickets();
  const faults: { dropContent?: number } = { dropContent: 7 };
  const { peer, c } = await setup(ts, faults);
  try {
    const r = await c.round();
    assert.equal(r.failures, 1);
    assert.deepEqual(r.reports, []);
    assert.deepEqual(ts.map((t) => [t.owner, t.status]), [["Nobody", "new"], ["Nobody", "new"]]);
    delete faults.dropContent;
    const r2 = await c.round();
    assert.deepEqual(r2.reports.map((x) => [x.rtir_id, x["extra.file_name"]]), [[7, "bar"], [7, "foo"], [8, "report.csv.gz"]]);
    assert.equal(r2.duplicates, 0);
    assert.deepEqual(ts.map((t) => t.status), ["open", "open"]);
  } finally {
    await c.shutdown();
    await peer.close();
  }
});

test("a download answering 500: that ticket is left as it is and collected later, the others are done", async () => {
  const ts = tickets();
  const faults: { dl?: number } = { dl: 500 };
  const { peer, c } = await setup(ts, faults);
  try {
    const r = await c.round();
    assert.deepEqual(r.reports.map((x) => x.rtir_id), [7, 7]);
    assert.deepEqual(ts.map((t) => [t.owner, t.status]), [["intelmq", "open"], ["Nobody", "new"]]);
    delete faults.dl;
    const r2 = await c.round();
    assert.deepEqual(r2.reports.map((x) => x.rtir_id), [8]);
    assert.deepEqual(ts.map((t) => t.status), ["open", "open"]);
  } finally {
    await c.shutdown();
    await peer.close();
  }
});

test("a wrong password fails the round", async () => {
  const { peer, c } = await setup(tickets());
  try {
    const wrong = await testCollector(bot, { uri: `${peer.url}/REST/1.0/`, user: "intelmq", password: "nope" });
    const r = await wrong.round();
    assert.equal(r.failures, 1);
    await wrong.shutdown();
  } finally {
    await c.shutdown();
    await peer.close();
  }
});
