// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Jinja expert: sets fields to the rendering of a template that sees the message as `msg`
 * (IntelMQ's experts.jinja). Templates are rendered by nunjucks, the JavaScript port of Jinja2.
 */
import { accessSync, constants, readFileSync } from "node:fs";
import nunjucks from "nunjucks";
import { z } from "zod";
import { ConfigurationError, defineBot, p, type Event } from "../../../shared/sdk/index.js";

const fieldsSchema = z.preprocess((v) => (typeof v === "string" && v.trim().startsWith("{") ? JSON.parse(v) : v), z.record(z.string(), z.string()));

export const params = z.object({
  fields: fieldsSchema.default({})
    .describe("Field -> template, e.g. {\"extra.note\": \"Seen {{ msg['source.ip'] }}\"}; a value file:///path reads the template from that file"),
  overwrite: p.bool().default(false).describe("Replace a field that is set already (else it is kept)"),
}).strict();

/** The message as templates see it: its fields by name (msg['source.ip']), and msg.get(key, default). */
function view(event: Event): Record<string, unknown> {
  const o: Record<string, unknown> = Object.fromEntries(event.entries());
  Object.defineProperty(o, "get", { enumerable: false, value: (k: string, d: unknown = null) => (k in o ? o[k] : d) });
  return o;
}

export default defineBot({
  kind: "expert",
  name: "jinja",
  intelmq: "intelmq.bots.experts.jinja.expert",
  description: "Sets fields to the rendering of Jinja templates (nunjucks) over the message",
  params,
  create: (prm) => {
    // Jinja2's Template does not escape HTML and renders undefined values as ""
    const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false });
    const templates: [string, nunjucks.Template][] = [];
    for (const [field, source] of Object.entries(prm.fields)) {
      let text = source;
      if (source.startsWith("file:///")) {
        const path = source.slice(7);
        try {
          accessSync(path, constants.R_OK);
          text = readFileSync(path, "utf8");
        } catch {
          throw new ConfigurationError("fields", `Jinja Template ${path} does not exist or is not readable.`);
        }
      }
      try {
        templates.push([field, new nunjucks.Template(text, env, undefined, true)]);
      } catch (err) {
        throw new ConfigurationError("fields", `Error parsing Jinja Template for '${field}': ${(err as Error).message}`);
      }
    }
    return {
      process(event) {
        const msg = view(event);
        for (const [field, tpl] of templates) event.add(field, tpl.render({ msg }), { overwrite: prm.overwrite });
        return event;
      },
    };
  },
});
