// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Microsoft CTIP parser: infected-host data of Microsoft's Cyber Threat Intelligence Program, in
 * either of its formats: Interflow (a JSON list of indicators) or Azure (a JSON object per line,
 * with a payload that is JSON, base64 of JSON or base64 of text)
 * (IntelMQ's intelmq.bots.parsers.microsoft.parser_ctip).
 */
import { z } from "zod";
import {
  DecodingError, LineError, emptyList, defineParser, fromTimestamp, fromWindowsNt, isJsonObject, jsonKind, jsonLine, jsonList, jsonStreamLines,
  p, parserParams, pyJsonDumps, pyRepr, reportText, types, type BotContext, type Event, type Report, type SkippedLine,
} from "../../../shared/sdk/index.js";
import { AZURE, CONFIDENCE, INTERFLOW } from "./mapping.js";

export const params = z.object({
  ...parserParams,
  overwrite: p.bool().default(true).describe("Azure format: the data's values replace fields the report gave (feed.name); feed.accuracy is always recomputed"),
}).strict();

export type Params = z.infer<typeof params>;

type Row = { interflow: unknown } | { azure: string };

const EMPTY_METADATA = (v: unknown) => Array.isArray(v) && (v.length === 0 || (v.length === 1 && (v[0] === "" || v[0] === "null" || v[0] === null)));
/** Python's truthiness of a JSON value. */
const falsy = (v: unknown) => v === null || v === false || v === 0 || v === "" || (Array.isArray(v) && v.length === 0) || (isJsonObject(v) && Object.keys(v).length === 0);
const fqdnValid = (v: unknown) => types.FQDN.isValid(v, false);

function create(prm: Params, ctx: BotContext) {
  function interflow(item: Record<string, unknown>, report: Report): Event {
    if (item["indicatorthreattype"] !== "Botnet") {
      throw new LineError(`unknown indicatorthreattype ${pyRepr(item["indicatorthreattype"] ?? null)}, only Botnet is supported`);
    }
    const event = ctx.newEvent(report);
    for (const [key, raw] of Object.entries(item)) {
      let value = raw;
      if (key === "version" || key === "indicatorthreattype" || key === "confidence" || key === "indicatorexpirationdatetime") continue;
      if (key === "additionalmetadata" && EMPTY_METADATA(value)) continue;
      if (key === "firstreporteddatetime") {
        if (typeof value !== "string") throw new LineError(`firstreporteddatetime is not text: ${pyRepr(value)}`);
        value += " UTC";
      }
      // the IP address in the host name field, or names with odd characters
      if (key === "hostname" && (value === item["networkdestinationipv4"] || !event.isValid("source.fqdn", value))) continue;
      if (key === "networkdestinationipv4" && value === "0.0.0.0") continue;
      // "192.0.2.1, 192.0.2.1": the same address twice
      if (key === "networkdestinationipv4" && typeof value === "string" && value.includes(",")) value = value.slice(0, value.indexOf(","));
      const field = INTERFLOW[key];
      if (!field) throw new LineError(`unknown key ${JSON.stringify(key)} in the Interflow indicator`);
      event.add(field, value, { overwrite: true });
    }
    const confidence = item["confidence"];
    if (typeof confidence !== "number") throw new LineError(`confidence is not a number: ${pyRepr(confidence ?? null)}`);
    event.add("feed.accuracy", Number(event.get("feed.accuracy", 100)) * confidence / 100, { overwrite: true });
    event.add("classification.type", "infected-system");
    event.add("raw", pyJsonDumps([item]));
    return event;
  }

  /** The line's keys, nested objects flattened one level ("Outer.Inner"), the payload unpacked. */
  function flatten(line: Record<string, unknown>, event: Event): Map<string, unknown> {
    const out = new Map<string, unknown>(Object.entries(line));
    for (const [key, original] of Object.entries(line)) {
      let value = original;
      if (key === "Payload") {
        if (typeof value !== "string") throw new LineError(`Payload is not text: ${jsonKind(value)}`);
        if (value === "AA==") { out.delete(key); continue; } // NUL: no payload
        if (value.startsWith("{")) {
          // a JSON object of numbered keys
          let payload: unknown;
          try { payload = JSON.parse(value); } catch (err) { throw new LineError(`Payload is no JSON: ${(err as Error).message}`); }
          if (!isJsonObject(payload)) throw new LineError(`Payload is not a JSON object but ${jsonKind(payload)}`);
          for (const [k, v] of Object.entries(payload)) event.add(`extra.payload.${k}`, v, { overwrite: true });
          out.delete(key);
        } else {
          const text = Buffer.from(value, "base64").toString("utf8");
          try {
            value = JSON.parse(text);
          } catch {
            out.set(key, text);
          }
        }
      } else if (key === "TLP" && typeof value === "string" && value.toLowerCase() === "unknown") {
        out.delete(key);
      }
      if (isJsonObject(value)) {
        for (const [sub, v] of Object.entries(value)) out.set(`${key}.${sub}`, v);
        out.delete(key);
      }
    }
    return out;
  }

  function azure(text: string, report: Report): Event {
    const event = ctx.newEvent(report);
    const line = flatten(jsonLine(text), event);
    for (const [key, got] of line) {
      let value = got;
      if (key === "ThreatConfidence") {
        if (value === "None") continue;
        const pct = CONFIDENCE[String(value)];
        if (pct === undefined) throw new LineError(`unknown ThreatConfidence ${pyRepr(value)}`);
        value = Number(event.get("feed.accuracy", 100)) * pct / 100;
      } else if (key === "DateTimeReceivedUtc") {
        value = fromWindowsNt(value);
      } else if (key === "Payload.ts") {
        value = fromTimestamp(value);
      } else if (key === "Payload.Protocol") {
        // "HTTP/1.1": the protocol before the slash replaces Payload.type's (as Python's s[:s.find("/")])
        const s = String(value);
        const slash = s.indexOf("/");
        const proto = slash === -1 ? s.slice(0, -1) : s.slice(0, slash);
        if (proto) event.add("protocol.application", proto, { overwrite: true });
      } else if (key === "Payload.domain") {
        // the destination address given as domain too: already in destination.ip
        if (!fqdnValid(value) && value === line.get("Payload.serverIp")) continue;
      } else if (falsy(value)) {
        continue;
      }
      const field = AZURE[key];
      if (!field) throw new LineError(`unknown key ${JSON.stringify(key)} in the Azure data`);
      if (field === "__IGNORE__") continue;
      // feed.accuracy is computed anew, always replaced
      event.add(field, value, { overwrite: prm.overwrite || field === "feed.accuracy" });
    }
    event.add("classification.type", "infected-system");
    event.add("raw", text);
    return event;
  }

  return {
    *parse(report: Report): Iterable<Row | SkippedLine> {
      const head = reportText(report).slice(0, 1);
      if (head === "[") {
        const list = jsonList(report, "microsoft_ctip");
        if (list.length === 0) yield emptyList(report);
        for (const item of list) yield { interflow: item };
      }
      else if (head === "{") for (const line of jsonStreamLines(report)) yield { azure: line };
      else throw new DecodingError("microsoft_ctip: the report is neither a JSON list (Interflow) nor JSON objects (Azure)", { object: head });
    },

    parseLine(row: Row, report: Report): Event {
      if ("azure" in row) {
        return azure(row.azure, report);
      }
      const item = row.interflow;
      if (!isJsonObject(item)) throw new LineError(`an indicator is not a JSON object but ${jsonKind(item)}`);
      if (item["version"] !== 1.5) throw new LineError(`unknown Interflow version ${pyRepr(item["version"] ?? null)}, only 1.5 is supported`);
      return interflow(item, report);
    },

    recoverLine: (row: Row) => ("azure" in row ? row.azure : pyJsonDumps([row.interflow])),
  };
}

export default defineParser({
  name: "microsoft_ctip",
  intelmq: "intelmq.bots.parsers.microsoft.parser_ctip",
  description: "Parse Microsoft's CTIP infected-host data (Interflow JSON list or Azure JSON lines)",
  params,
  create,
});
