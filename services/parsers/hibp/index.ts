// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Have I Been Pwned callback parser: the JSON object HIBP's enterprise callback sends about a
 * breach or a paste of a domain's addresses, one event per affected e-mail address
 * (IntelMQ's intelmq.bots.parsers.hibp.parser_callback).
 */
import { z } from "zod";
import {
  LineError, defineParser, isJsonObject, jsonKind, jsonReport, parserParams, pyJsonDumps, skipLine, type BotContext, type Event, type Report,
} from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

const rawOf = (v: unknown) => pyJsonDumps(v, { sortKeys: true });

function create(_prm: unknown, ctx: BotContext) {
  return {
    // the whole report is one callback
    parse: (report: Report) => [jsonReport(report, "hibp")],

    parseLine(request: unknown, report: Report): Event[] | ReturnType<typeof skipLine> {
      if (!isJsonObject(request)) throw new LineError(`the callback is not a JSON object but ${jsonKind(request)}`);
      for (const key of ["Domain", "DomainEmails"]) if (!(key in request)) throw new LineError(`the callback has no ${key}`);
      const event = ctx.newEvent(report);
      event.add("raw", rawOf(request), { overwrite: true });
      event.add("source.fqdn", request["Domain"], { overwrite: true });
      event.add("extra.domain_emails", request["DomainEmails"], { overwrite: true });
      if ("Breach" in request) {
        const breach = request["Breach"];
        event.add("extra.breach", breach, { overwrite: true });
        event.add("classification.identifier", "breach", { overwrite: true });
        // a real callback has one breach (with its time); the callback test a list of them
        if (isJsonObject(breach) && "AddedDate" in breach) event.add("time.source", breach["AddedDate"], { overwrite: true });
      }
      if ("Paste" in request) {
        event.add("extra.paste", request["Paste"], { overwrite: true });
        event.add("classification.identifier", "paste", { overwrite: true });
      }
      event.add("classification.taxonomy", "information-content-security", { overwrite: true });
      event.add("classification.type", "data-leak", { overwrite: true });
      const listed = request["DomainEmails"];
      if (!Array.isArray(listed)) throw new LineError(`DomainEmails is not a list but ${jsonKind(listed)}`);
      const emails = [...new Set([request["Email"], ...listed])].filter((e) => e !== null && e !== undefined && e !== "" && e !== false && e !== 0);
      if (emails.some((e) => typeof e !== "string")) throw new LineError("an e-mail address is not text");
      (emails as string[]).sort();
      if (emails.length === 0) return skipLine(rawOf(request), "the callback names no e-mail address");
      return emails.map((email) => {
        event.add("source.account", email, { overwrite: true });
        return event.copy();
      });
    },

    recoverLine: rawOf,
  };
}

export default defineParser({
  name: "hibp",
  intelmq: "intelmq.bots.parsers.hibp.parser_callback",
  description: "Parse Have I Been Pwned enterprise callbacks (breaches and pastes), one event per e-mail address",
  params,
  create,
});
