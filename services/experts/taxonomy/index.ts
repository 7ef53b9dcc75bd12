// SPDX-License-Identifier: AGPL-3.0-only
import { z } from "zod";
import { defineBot } from "../../../shared/sdk/index.js";

/**
 * classification.type -> classification.taxonomy, after the Reference Security Incident
 * Taxonomy (RSIT) with IntelMQ's extensions. Types not listed here map to "other".
 */
export const TAXONOMY: ReadonlyMap<string, string> = new Map(Object.entries({
  "spam": "abusive-content",
  "harmful-speech": "abusive-content",
  "violence": "abusive-content",
  "ddos": "availability",
  "dos": "availability",
  "outage": "availability",
  "sabotage": "availability",
  "misconfiguration": "availability",
  "copyright": "fraud",
  "masquerade": "fraud",
  "phishing": "fraud",
  "unauthorized-use-of-resources": "fraud",
  "unauthorised-information-access": "information-content-security",
  "unauthorised-information-modification": "information-content-security",
  "data-loss": "information-content-security",
  "data-leak": "information-content-security",
  "scanner": "information-gathering",
  "sniffing": "information-gathering",
  "social-engineering": "information-gathering",
  "brute-force": "intrusion-attempts",
  "exploit": "intrusion-attempts",
  "ids-alert": "intrusion-attempts",
  "application-compromise": "intrusions",
  "burglary": "intrusions",
  "privileged-account-compromise": "intrusions",
  "system-compromise": "intrusions",
  "unprivileged-account-compromise": "intrusions",
  "c2-server": "malicious-code",
  "infected-system": "malicious-code",
  "malware-configuration": "malicious-code",
  "malware-distribution": "malicious-code",
  // Deliberately outside RSIT in IntelMQ (certtools/intelmq#1409, #1613).
  "dga-domain": "other",
  "blacklist": "other",
  "malware": "other",
  "proxy": "other",
  "tor": "other",
  "other": "other",
  "undetermined": "other",
  "test": "test",
  "ddos-amplifier": "vulnerable",
  "information-disclosure": "vulnerable",
  "potentially-unwanted-accessible": "vulnerable",
  "vulnerable-system": "vulnerable",
  "weak-crypto": "vulnerable",
}));

/** The taxonomy expert has no parameters of its own (IntelMQ's has none either: it never overwrites). */
export const params = z.object({}).strict();

export default defineBot({
  kind: "expert",
  name: "taxonomy",
  intelmq: "intelmq.bots.experts.taxonomy.expert",
  description: "Sets classification.taxonomy from classification.type (RSIT); a missing type becomes \"undetermined\"",
  params,
  create: () => ({
    process(event) {
      const hasTaxonomy = event.has("classification.taxonomy");
      const hasType = event.has("classification.type");
      if (!hasTaxonomy) {
        // Values come from the table above, all valid: no sanitising needed.
        const type = hasType ? (event.get("classification.type") as string) : "undetermined";
        event.add("classification.taxonomy", TAXONOMY.get(type) ?? "other", { sanitize: false });
        if (!hasType) event.add("classification.type", "undetermined", { sanitize: false });
      } else if (!hasType) {
        event.add("classification.type", "undetermined", { sanitize: false });
      }
      return event;
    },
  }),
});
