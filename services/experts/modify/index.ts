// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Modify expert: changes fields of events by rules from a configuration file (IntelMQ's
 * intelmq.bots.experts.modify.expert). Each rule has conditions (`if`: a Python regular expression
 * searched in the field's text, a literal compared with ==, or "" for "field absent") and actions
 * (`then`: values, strings being Python format strings over `msg` and the `matches` of the rule).
 */
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigurationError, InvalidValue, PyFloat, pyRegex, pyEquals, pyStr, type Message, defineBot, p, pyFormat, type FormatArg } from "../../../shared/sdk/index.js";

/** One condition: a compiled regex, "" (the field must be absent) or a literal compared with ==. */
type Condition = { field: string } & ({ kind: "regex"; re: RegExp } | { kind: "absent" } | { kind: "equals"; value: unknown });

export interface Rule {
  name: string;
  conditions: Condition[];
  actions: [field: string, value: unknown][];
}

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads the rules file: YAML or JSON, as IntelMQ's load_configuration() reads it. */
export function readRulesFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigurationError("configuration_path", `cannot read the rules file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseYaml(text);
  } catch (yamlErr) {
    // Tabs make some JSON files invalid YAML; IntelMQ then reads them as JSON.
    try {
      return JSON.parse(text);
    } catch {
      throw new ConfigurationError("configuration_path", `${path} is neither YAML nor JSON: ${(yamlErr as Error).message}`, { cause: yamlErr });
    }
  }
}

/** Validates the rules and compiles their regular expressions (IGNORECASE unless case sensitive). */
export function compileRules(config: unknown, caseSensitive: boolean, path = "the rules file"): Rule[] {
  const fail = (why: string) => new ConfigurationError("configuration_path", `${path}: ${why}`);
  if (!Array.isArray(config)) throw fail("expected a list of rules");
  return config.map((raw, i) => {
    if (!isMapping(raw)) throw fail(`rule ${i + 1} is not a mapping`);
    if (!("rulename" in raw)) throw fail(`rule ${i + 1} has no "rulename"`);
    const name = pyStr(raw.rulename);
    if (!isMapping(raw.if)) throw fail(`rule ${JSON.stringify(name)}: "if" must be a mapping of fields to conditions`);
    if (!isMapping(raw.then)) throw fail(`rule ${JSON.stringify(name)}: "then" must be a mapping of fields to values`);
    const conditions = Object.entries(raw.if).map(([field, expr]): Condition => {
      if (expr === "") return { field, kind: "absent" };
      if (typeof expr !== "string") return { field, kind: "equals", value: expr };
      try {
        return { field, kind: "regex", re: pyRegex(expr, !caseSensitive) };
      } catch (err) {
        throw new ConfigurationError("configuration_path",
          `${path}: rule ${JSON.stringify(name)}, field ${field}: invalid regular expression ${JSON.stringify(expr)}: ${(err as Error).message}`, { cause: err });
      }
    });
    return { name, conditions, actions: Object.entries(raw.then) };
  });
}

/** The text Python's str() gives for a field's value (Float fields keep their ".0"). */
function valueText(event: Message, field: string, value: unknown): string {
  return pyStr(value, event.harmonization.field(event.kind, field)?.float ?? false);
}

/** The regex matches of a rule whose conditions all hold, or null when one fails. */
export function ruleMatches(event: Message, rule: Rule): Map<string, RegExpExecArray> | null {
  const found = new Map<string, RegExpExecArray>();
  for (const c of rule.conditions) {
    const present = event.has(c.field);
    if (c.kind === "absent") {
      if (present) return null;
      continue;
    }
    if (!present) return null;
    const value = event.get(c.field);
    if (c.kind === "equals") {
      if (!pyEquals(value, c.value)) return null;
      continue;
    }
    // Numbers and booleans are searched in their str() form; lists and objects cannot be (Python: TypeError).
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean" && !(value instanceof PyFloat)) {
      throw new InvalidValue(c.field, value, `cannot be searched by the regular expression of rule ${JSON.stringify(rule.name)}`);
    }
    const m = c.re.exec(typeof value === "string" ? value : valueText(event, c.field, value));
    if (m === null) return null;
    found.set(c.field, m);
  }
  return found;
}

/** Python's match.group(key) behind `{matches[field][key]}`: digits index groups, other keys name them. */
function groupLookup(m: RegExpExecArray): (key: string) => unknown {
  return (key) => {
    if (/^\d+$/.test(key)) {
      const n = Number(key);
      if (n >= m.length) throw new RangeError(`IndexError: no such group ${key}`);
      return m[n] ?? null;
    }
    if (!m.groups || !Object.hasOwn(m.groups, key)) throw new RangeError(`IndexError: no such group ${JSON.stringify(key)}`);
    return m.groups[key] ?? null;
  };
}

/** Applies a rule's actions; strings are formatted, other values (numbers, booleans...) set as they are. */
export function applyActions(event: Message, rule: Rule, found: Map<string, RegExpExecArray>, overwrite: boolean): void {
  const msg = (key: string): unknown => {
    const v = event.getItem(key);
    // str() of a Float field's value shows its ".0", as Python's float does.
    return typeof v === "number" && event.harmonization.field(event.kind, key)?.float ? new PyFloat(v) : v;
  };
  const matches: Record<string, FormatArg> = {};
  for (const [field, m] of found) matches[field] = groupLookup(m);
  for (const [field, template] of rule.actions) {
    const value = typeof template === "string" ? pyFormat(template, { msg, matches }) : template;
    event.add(field, value, { overwrite });
  }
}

export const params = z.object({
  configuration_path: z.string().default("var/lib/bots/modify/modify.conf")
    .describe("The rules file (JSON or YAML, a list of {rulename, if, then}); relative to INTELMQ_ROOT_DIR"),
  case_sensitive: p.bool().default(true).describe("Match the regular expressions of the conditions case-sensitively"),
  maximum_matches: p.int().nullable().default(null).describe("Stop after this many rules applied to an event (null or 0: no limit)"),
  overwrite: p.bool().default(true).describe("Let actions replace fields that are already set (false: keep them)"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "modify",
  intelmq: "intelmq.bots.experts.modify.expert",
  description: "Changes fields of events by rules from a configuration file: regex or literal conditions, format-string actions",
  params,
  create: (prm, ctx) => {
    const file = isAbsolute(prm.configuration_path) ? prm.configuration_path : join(ctx.rootDir, prm.configuration_path);
    const rules = compileRules(readRulesFile(file), prm.case_sensitive, file);
    for (const rule of rules) {
      for (const [field] of rule.actions) {
        // Not fatal (IntelMQ fails only events that reach the rule), but worth knowing before.
        if (!ctx.harmonization.field("Event", field)) ctx.log.warn("Rule %s sets %s, which is no valid event field.", rule.name, field);
      }
    }
    ctx.log.info("Loaded %d rules from %s.", rules.length, file);
    const max = prm.maximum_matches;
    return {
      process(event) {
        let applied = 0;
        for (const rule of rules) {
          const found = ruleMatches(event, rule);
          if (found === null) continue;
          applied++;
          ctx.log.debug("Apply rule %s.", rule.name);
          applyActions(event, rule, found, prm.overwrite);
          if (max && applied >= max) {
            ctx.log.debug("Reached maximum number of matches, breaking.");
            break;
          }
        }
        return event;
      },
    };
  },
});
