// SPDX-License-Identifier: AGPL-3.0-only
/**
 * CERT.at national CERT contact expert: country code and national CERT contact of source.ip /
 * destination.ip from CERT.at's contact database (IntelMQ's experts.national_cert_contact_certat).
 */
import { z } from "zod";
import { defineBot, p, httpParams, httpClient, lookupCache, HttpStatusError, MalformedResponse, type Event } from "../../../shared/sdk/index.js";

export const CERTAT_BUCKET = "certat_contact";

export const params = z.object({
  ...httpParams,
  filter: p.bool().default(false).describe("Ask the service to answer only for addresses that geolocate to Austria"),
  overwrite_cc: p.bool().default(false).describe("Replace an existing *.geolocation.cc"),
  url: z.string().default("https://contacts.cert.at/cgi-bin/abuse-nationalcert.pl")
    .describe("Ours: the service's URL (IntelMQ has it built in)"),
  cache_ttl: p.int().pipe(z.number().int().min(0)).default(86400)
    .describe("Ours: seconds an answer is remembered (KV bucket \"certat_contact\"); 0: no cache"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "national_cert_contact_certat",
  intelmq: "intelmq.bots.experts.national_cert_contact_certat.expert",
  description: "Country code and national CERT contact of IP addresses from CERT.at's contact database",
  params,
  create: async (prm, ctx) => {
    const http = httpClient(prm, ctx.log);
    const cache = await lookupCache(ctx, CERTAT_BUCKET, prm.cache_ttl);
    /** The answer's fields (ip;cc;...;contact), or null when the service has nothing. */
    async function ask(ip: string): Promise<string[] | null> {
      const key = `${prm.url} ${prm.filter ? "f" : "a"} ${ip}`;
      const hit = await cache?.get(key);
      if (hit !== undefined) return hit as string[] | null;
      const res = await http.get(prm.url, { query: { ip, bFilter: prm.filter ? "on" : "off", bShowNationalCERT: "on", sep: "semicolon" } });
      if (res.status !== 200) throw new HttpStatusError(res.url, res.status, res.text().slice(0, 200));
      const text = res.text().trim();
      let fields: string[] | null = null;
      if (text !== "") {
        fields = text.split(";");
        if (fields.length < 4) throw new MalformedResponse(res.url, `${JSON.stringify(text.slice(0, 80))} has not the four fields ip;cc;...;contact`);
      }
      await cache?.set(key, fields);
      return fields;
    }
    return {
      async process(event: Event) {
        for (const section of ["source", "destination"]) {
          const ip = event.get(`${section}.ip`);
          if (ip === undefined || ip === null) continue;
          const answer = await ask(String(ip));
          if (answer === null) continue;
          const cc = `${section}.geolocation.cc`;
          if (prm.overwrite_cc || !event.has(cc)) event.add(cc, answer[1], { overwrite: true });
          const abuse = `${section}.abuse_contact`;
          if (event.has(abuse)) event.change(abuse, `${String(event.get(abuse))},${answer[3]}`);
          else event.add(abuse, answer[3]);
        }
        return event;
      },
      async shutdown() { await http.close(); },
    };
  },
});
