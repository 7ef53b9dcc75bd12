// SPDX-License-Identifier: AGPL-3.0-only
// A loopback HTTP server speaking RT's REST 1.0 (login, ticket/new, edit, links).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { startHttpPeer, type PeerRequest } from "../../../test/helpers/http-peer.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };

/** RT's form: "Key: value" lines, indented continuation lines. */
function parseForm(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let last = "";
  for (const line of text.split("\n")) {
    if (line.startsWith(" ") && last) out[last] += "\n" + line.slice(1);
    else if (line.includes(": ")) { last = line.slice(0, line.indexOf(": ")); out[last] = line.slice(line.indexOf(": ") + 2); }
  }
  return out;
}

async function rt(opts: { refuseCreate?: number } = {}) {
  const tickets = new Map<number, Record<string, string>>();
  const links: string[] = [];
  let next = 100;
  let refuse = opts.refuseCreate ?? 0;
  const peer = await startHttpPeer((r: PeerRequest) => {
    const data = new URLSearchParams(r.body);
    if (r.path === "/REST/1.0/") {
      if (data.get("user") !== "apiuser" || data.get("pass") !== "pw") return { body: "RT/4.4.3 401 Credentials required\n" };
      return { body: "RT/4.4.3 200 Ok\n\n", headers: { "set-cookie": "RT_SID=s1; path=/" } };
    }
    if (r.headers.cookie !== "RT_SID=s1") return { body: "RT/4.4.3 401 Credentials required\n" };
    const form = parseForm(data.get("content") ?? "");
    if (r.path === "/REST/1.0/ticket/new") {
      if (refuse > 0) { refuse--; return { body: "RT/4.4.3 200 Ok\n\n# Could not create ticket.\n" }; }
      tickets.set(++next, form);
      return { body: `RT/4.4.3 200 Ok\n\n# Ticket ${next} created.\n` };
    }
    const edit = /^\/REST\/1\.0\/ticket\/(\d+)\/edit$/.exec(r.path);
    if (edit) { Object.assign(tickets.get(Number(edit[1]))!, form); return { body: `RT/4.4.3 200 Ok\n\n# Ticket ${edit[1]} updated.\n` }; }
    const link = /^\/REST\/1\.0\/ticket\/(\d+)\/links$/.exec(r.path);
    if (link) { links.push(`${link[1]} MemberOf ${form.MemberOf}`); return { body: `RT/4.4.3 200 Ok\n\n# Links for ticket ${link[1]} updated.\n` }; }
    return { status: 404 };
  });
  return { peer, tickets, links, params: { rt_uri: `${peer.url}/REST/1.0`, rt_password: "pw" } };
}

const ev = { __type: "Event", "source.ip": "192.0.2.1", "classification.type": "scanner", "event_description.text": "Open port\nseen twice", "source.abuse_contact": "abuse@example.org", "extra.n": 1.5 };

test("a ticket per event: subject, description then every field as text, mapped custom fields, final status", async () => {
  const s = await rt();
  const out = await runBot(bot, { params: { ...HARNESS, ...s.params }, input: [ev] });
  assert.equal(out.dumped, 0);
  const t = s.tickets.get(101)!;
  assert.equal(t.Queue, "Incidents");
  assert.equal(t.Subject, "Incident notification, 192.0.2.1");
  assert.equal(t.Text, "Open port\nseen twice\n\nsource.ip: 192.0.2.1\nclassification.type: scanner\nevent_description.text: Open port\nseen twice\nsource.abuse_contact: abuse@example.org\nextra.n: 1.5\n");
  assert.equal(t["CF.{IP}"], "192.0.2.1");
  assert.equal(t["CF.{Incident Type}"], "scanner");
  assert.equal(t.Status, "resolved");
  assert.equal(s.tickets.size, 1);
  await s.peer.close();
});

test("create_investigation: an Investigations ticket to the abuse contact, linked to the incident", async () => {
  const s = await rt();
  await runBot(bot, { params: { ...HARNESS, ...s.params, create_investigation: true, final_status: "" }, input: [ev] });
  const inv = s.tickets.get(102)!;
  assert.equal(inv.Queue, "Investigations");
  assert.equal(inv.Requestor, "abuse@example.org");
  assert.equal(inv.Text, "Open port\nseen twice\n\nsource.ip: 192.0.2.1\nclassification.type: scanner\nevent_description.text: Open port\nseen twice\n");
  assert.deepEqual(s.links, ["102 MemberOf 101"]);
  assert.equal(s.tickets.get(101)!.Status, undefined);
  await s.peer.close();
});

test("a ticket RT did not create fails the flush and is tried again; a wrong password dumps the event", async () => {
  const s = await rt({ refuseCreate: 1 });
  const out = await runBot(bot, { params: { ...HARNESS, ...s.params, error_max_retries: 1 }, input: [ev] });
  assert.equal(out.dumped, 0);
  assert.equal(s.tickets.size, 1);
  assert.equal((await runBot(bot, { params: { ...HARNESS, ...s.params, rt_password: "bad" }, input: [ev] })).dumped, 1);
  await s.peer.close();
});
