// SPDX-License-Identifier: AGPL-3.0-only
/**
 * IDEA expert: writes the event converted into CESNET's IDEA format (https://idea.cesnet.cz) as
 * JSON into the field `output` (IntelMQ's experts.idea).
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { defineBot, p, type Event } from "../../../shared/sdk/index.js";

export const params = z.object({
  test_mode: p.bool().default(false).describe("Add the category \"Test\" to every IDEA message"),
}).strict();

/** IntelMQ's classification.type -> IDEA category. */
export const TYPE_TO_CATEGORY: Readonly<Record<string, string>> = {
  "phishing": "Fraud.Phishing", "ddos": "Availability.DDoS", "spam": "Abusive.Spam", "scanner": "Recon.Scanning",
  "infected-system": "Malware", "malware-configuration": "Malware", "c2-server": "Intrusion.Botnet", "exploit": "Attempt.Exploit",
  "brute-force": "Attempt.Login", "ids-alert": "Attempt.Exploit", "system-compromise": "Intrusion.AdminCompromise", "blacklist": "Other",
  "dga-domain": "Anomaly.Behaviour", "proxy": "Vulnerable.Config", "data-leak": "Information", "tor": "Other", "other": "Other",
  "undetermined": "Other", "test": "Test", "violence": "Abusive.Violence", "data-loss": "Information", "burglary": "Intrusion",
  "weak-crypto": "Vulnerable.Config", "unauthorised-information-access": "Information.UnauthorizedAccess",
  "privileged-account-compromise": "Intrusion.AdminCompromise", "potentially-unwanted-accessible": "Vulnerable.Open",
  "application-compromise": "Intrusion.AppCompromise", "unauthorized-use-of-resources": "Fraud.UnauthorizedUsage",
  "masquerade": "Fraud.Scam", "harmful-speech": "Abusive.Harassment", "unprivileged-account-compromise": "Intrusion.UserCompromise",
  "social-engineering": "Recon.SocialEngineering", "dos": "Availability.DoS", "information-disclosure": "Information.UnauthorizedAccess",
  "sniffing": "Recon.Sniffing", "vulnerable-system": "Vulnerable.Config", "unauthorised-information-modification": "Information.UnauthorizedModification",
  "sabotage": "Availability.Sabotage", "malware-distribution": "Malware", "outage": "Availability.Outage", "ddos-amplifier": "Intrusion.Botnet",
  "copyright": "Fraud.Copyright", "misconfiguration": "Availability.Outage", "malware": "Malware",
};

/** classification.type -> IDEA Source.Type (some are IntelMQ's own additions to IDEA). */
const TYPE_TO_SOURCE_TYPE: Readonly<Record<string, string>> = {
  "phishing": "Phishing", "malware-configuration": "MalwareConf", "c2-server": "CC", "dga-domain": "DGA",
  "proxy": "Proxy", "tor": "Tor", "malware-distribution": "Malware",
};

/** A field that is missing: the item it is part of is left out. */
class Missing extends Error {
  override readonly name = "Missing";
}

/** Reads fields of the event; a missing one aborts the item being built. */
class Src {
  constructor(readonly ev: Event) {}
  get(key: string): unknown {
    const v = this.ev.get(key);
    if (v === undefined || v === null) throw new Missing(key);
    return v;
  }
  opt(key: string, fallback: unknown): unknown {
    const v = this.ev.get(key);
    return v === undefined || v === null ? fallback : v;
  }
}

/** Python's quote_plus: everything but letters, digits and _.-~ percent-encoded, spaces as +. */
function quot(s: unknown): string {
  const str = s === null || s === undefined || s === "" ? "" : String(s);
  return encodeURIComponent(str).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, "+");
}
const addr4 = (s: unknown): string | null => (String(s).includes(":") ? null : String(s));
const addr6 = (s: unknown): string | null => (String(s).includes(":") ? String(s) : null);

/** A description: a field name, a function of the event, a list or a mapping of descriptions. */
type Desc = string | ((s: Src) => unknown) | readonly Desc[] | { readonly [k: string]: Desc };

function endpoint(prefix: "source" | "destination", typeDesc: Desc[]): Record<string, Desc> {
  return {
    Proto: ["protocol.transport", "protocol.application"],
    Type: typeDesc,
    Account: [`${prefix}.account`],
    ASN: [`${prefix}.asn`],
    Hostname: [`${prefix}.fqdn`],
    IP4: [(s) => addr4(s.get(`${prefix}.ip`))],
    IP6: [(s) => addr6(s.get(`${prefix}.ip`))],
    LocalHostname: [`${prefix}.local_hostname`],
    LocalIP4: [(s) => addr4(s.get(`${prefix}.local_ip`))],
    LocalIP6: [(s) => addr6(s.get(`${prefix}.local_ip`))],
    Port: [`${prefix}.port`],
    PTR: [`${prefix}.reverse_dns`],
    URL: [`${prefix}.url`],
    Note: "status",
  };
}

function translation(testMode: boolean): Record<string, Desc> {
  return {
    Format: () => "IDEA0",
    Description: (s) => `${String(s.get("feed.name"))}: ${String(s.opt("event_description.text", s.opt("comment", s.opt("classification.type", "undetermined"))))}`,
    Category: [
      (s) => { const c = TYPE_TO_CATEGORY[String(s.opt("classification.type", "undetermined"))]; if (c === undefined) throw new Missing("category"); return c; },
      () => (testMode ? "Test" : null),
    ],
    DetectTime: "time.observation",
    EventTime: "time.source",
    ID: () => randomUUID(),
    RelID: (s) => "hash:" + quot(s.get("event_hash")),
    Confidence: (s) => Math.min(1, Math.max(0, Number(s.get("feed.accuracy")) / 100)),
    Note: "comment",
    Ref: [
      (s) => "malid:" + quot(s.get("classification.identifier")),
      "event_description.url",
      (s) => "intelmq_feed:" + quot(s.get("feed.code")),
      (s) => "misp_attr:" + quot(s.get("misp.attribute_uuid")),
      (s) => "misp_event:" + quot(s.get("misp.event_uuid")),
      (s) => "rtir:" + quot(s.get("rtir_id")),
      "screenshot_url",
    ],
    Attach: [
      {
        Hash: [
          (s) => "crypt:" + quot(s.get("malware.hash")),
          (s) => "md5:" + quot(s.get("malware.hash.md5")),
          (s) => "sha1:" + quot(s.get("malware.hash.sha1")),
        ],
        Ref: [(s) => "malware:" + [quot(s.get("malware.name")), quot(s.opt("malware.version", ""))].join("-")],
      },
      {
        Content: (s) => Buffer.from(String(s.get("raw")), "base64").toString("latin1"),
        Type: [(s) => { const r = s.get("raw"); return r ? "OrigData" : r; }],
        Ref: ["feed.url"],
      },
    ],
    // tor_node false gives false, as IntelMQ's `x and "Tor"` does
    Source: [endpoint("source", [(s) => TYPE_TO_SOURCE_TYPE[String(s.get("classification.type"))] ?? null, (s) => s.get("source.tor_node") && "Tor"])],
    Target: [endpoint("destination", [(s) => s.get("destination.tor_node") && "Tor"])],
  };
}

function value(src: Src, d: Desc): unknown {
  try {
    if (typeof d === "function") return (d as (s: Src) => unknown)(src);
    if (typeof d === "string") return src.get(d);
    if (Array.isArray(d)) {
      const out = (d as readonly Desc[]).map((x) => value(src, x)).filter((v) => v !== null && v !== undefined);
      return out.length ? out : null;
    }
    return dict(src, d as Record<string, Desc>);
  } catch (err) {
    if (err instanceof Missing) return null;
    throw err;
  }
}

function dict(src: Src, d: Record<string, Desc>): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  for (const [k, desc] of Object.entries(d)) {
    const v = value(src, desc);
    if (v !== null && v !== undefined) out[k] = v;
  }
  return Object.keys(out).length ? out : null;
}

/** The IDEA message of an event. */
export function toIdea(event: Event, testMode = false): Record<string, unknown> | null {
  return dict(new Src(event), translation(testMode));
}

export default defineBot({
  kind: "expert",
  name: "idea",
  intelmq: "intelmq.bots.experts.idea.expert",
  description: "Converts the event into the IDEA format (JSON in the field output)",
  params,
  create: (prm) => ({
    process(event) {
      event.add("output", toIdea(event, prm.test_mode));
      return event;
    },
  }),
});
