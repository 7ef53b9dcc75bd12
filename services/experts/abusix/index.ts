// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Abusix expert (IntelMQ's intelmq.bots.experts.abusix.expert): the abuse contact of
 * source/destination.ip from Abusix' abuse contact DB over DNS (TXT records of
 * <reversed address>.abuse-contacts.abusix.zone).
 */
import { z } from "zod";
import { DnsClient, DnsCache, defineBot, dnsParams, p, reverseLabels } from "../../../shared/sdk/index.js";

export const CACHE_BUCKET = "abusix";
const EMAIL = /^[^@]+@[^@]+\.[^@]+/;

export const params = z.object({
  overwrite: p.bool().default(false).describe("Replace an abuse_contact the event already has"),
  zone: z.string().default("abuse-contacts.abusix.zone").describe("Ours: the zone asked (<reversed address>.<zone>)"),
  cache_ttl: p.int().pipe(z.number().int().min(0)).default(86400)
    .describe("Ours: seconds an answer (also \"no contact\") is remembered in the NATS KV bucket \"abusix\" (0: no cache)"),
  ...dnsParams,
}).strict();

export default defineBot({
  kind: "expert",
  name: "abusix",
  intelmq: "intelmq.bots.experts.abusix.expert",
  description: "Adds source/destination.abuse_contact from Abusix' abuse contact DB (DNS TXT lookups)",
  params,
  create: async (prm, ctx) => {
    const dns = new DnsClient(prm);
    const cache = new DnsCache(prm.cache_ttl > 0 ? await ctx.cache(CACHE_BUCKET, prm.cache_ttl) : null, prm.cache_ttl);

    /** The contacts, comma-separated as querycontacts gives them; "" for none. */
    function lookup(ip: string): Promise<string> {
      return cache.through(`${prm.zone}|${ip}`, async () => {
        const name = `${reverseLabels(ip)}.${prm.zone}`;
        const answers = ((await dns.txt(name)) ?? []).map((a) => a.replaceAll('"', "").trim());
        const contacts = answers.filter((a) => EMAIL.test(a));
        if (contacts.length < answers.length) {
          ctx.log.warn(`Ignored answers to ${name} that are no e-mail address: ${JSON.stringify(answers.filter((a) => !EMAIL.test(a)))}`);
        }
        return { value: contacts.join(", ") };
      });
    }

    return {
      async process(event) {
        for (const key of ["source.", "destination."]) {
          const contactKey = `${key}abuse_contact`;
          if (event.has(contactKey) && !prm.overwrite) continue;
          const ip = event.get(`${key}ip`);
          if (ip === undefined) continue;
          const email = await lookup(String(ip));
          if (email) event.add(contactKey, email, { overwrite: true });
        }
        return event;
      },
    };
  },
});
