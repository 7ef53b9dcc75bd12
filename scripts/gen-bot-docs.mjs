// SPDX-License-Identifier: AGPL-3.0-only
// Fills the parameters table of every bot README (services/<kind>/<name>/README.md) from the
// bot's zod schema: between `<!-- params:start -->` and `<!-- params:end -->`.
// Reads the compiled bots in dist/ (run `npm run build` first). `--check` exits 1 when a
// table is stale or a README lacks the markers; `--init` writes a skeleton README where none exists.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const KINDS = ["collectors", "parsers", "experts", "outputs"];
export const START = "<!-- params:start -->";
export const END = "<!-- params:end -->";

/** Every bot folder: { kind, name, dir, readme, compiled }. */
export function botFolders() {
  const out = [];
  for (const kind of KINDS) {
    const dir = join(root, "services", kind);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const d = join(dir, name);
      if (!existsSync(join(d, "index.ts"))) continue;
      out.push({ kind, name, dir: d, readme: join(d, "README.md"), compiled: join(root, "dist", "services", kind, name, "index.js") });
    }
  }
  return out;
}

function typeOf(s) {
  if (!s || typeof s !== "object" || Object.keys(s).filter((k) => k !== "default" && k !== "description").length === 0) return "any";
  if (s.enum) return s.enum.map((v) => `\`${typeof v === "string" ? v : JSON.stringify(v)}\``).join(" | ");
  if (s.const !== undefined) return JSON.stringify(s.const);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return [...new Set(alts.map(typeOf))].join(" | ");
  if (Array.isArray(s.type)) return s.type.map((t) => typeOf({ ...s, type: t })).join(" | ");
  switch (s.type) {
    case "array":
      if (s.prefixItems) return `[${s.prefixItems.map(typeOf).join(", ")}]`;
      return `list of ${plural(typeOf(s.items))}`;
    case "object":
      if (s.properties) return "object";
      return s.additionalProperties && typeOf(s.additionalProperties) !== "any" ? `map of ${typeOf(s.additionalProperties)}` : "object";
    case "integer": return "integer";
    case "number": return "number";
    case "string": return "string";
    case "boolean": return "boolean";
    case "null": return "null";
    default: return "any";
  }
}

/** The default of a field that JSON Schema does not show (a default before a transform). */
function zodDefault(schema) {
  let z = schema;
  for (let i = 0; i < 10 && z?.def; i++) {
    const d = z.def;
    if (d.type === "default") {
      try {
        return { value: typeof d.defaultValue === "function" ? d.defaultValue() : d.defaultValue };
      } catch {
        return null;
      }
    }
    z = d.type === "pipe" ? d.in : d.innerType;
  }
  return null;
}

function plural(t) {
  return /^(string|integer|number|boolean|object)$/.test(t) ? `${t}s` : t;
}

function cell(text) {
  return String(text).replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/** The parameters table (markdown) of a bot definition. */
export async function paramsTable(def) {
  const { z } = await import("zod");
  const opts = { unrepresentable: "any" };
  const out = z.toJSONSchema(def.params, { ...opts, io: "output" });
  const inp = z.toJSONSchema(def.params, { ...opts, io: "input" });
  const props = out.properties ?? {};
  const required = new Set(inp.required ?? []);
  const names = Object.keys(props);
  if (names.length === 0) return "This bot has no parameters of its own.";
  const rows = ["| name | type | default | description |", "|---|---|---|---|"];
  for (const name of names) {
    // A trailing transform has no output type: describe what the parameter accepts instead.
    const s = typeOf(props[name]) === "any" && inp.properties?.[name] ? { ...props[name], ...inp.properties[name] } : props[name];
    const type = typeOf(s);
    const hidden = "default" in s ? { value: s.default } : zodDefault(def.params.shape?.[name]);
    const dflt = hidden ? `\`${JSON.stringify(hidden.value)}\`` : required.has(name) ? "required" : "";
    rows.push(`| \`${name}\` | ${cell(type)} | ${cell(dflt)} | ${cell(s.description ?? "")} |`);
  }
  return rows.join("\n");
}

async function loadDef(f) {
  if (!existsSync(f.compiled)) throw new Error(`${relative(root, f.compiled)} is missing: run npm run build`);
  const m = await import(pathToFileURL(f.compiled).href);
  if (!m.default || !m.default.params) throw new Error(`${relative(root, f.compiled)}: the default export is not a bot definition`);
  return m.default;
}

function skeleton(f, def, table) {
  const module = Array.isArray(def.intelmq) ? def.intelmq[0] : def.intelmq;
  const group = { collector: "Collector", parser: "Parser", expert: "Expert", output: "Output" }[def.kind];
  return `# ${def.name} (${def.kind})

${def.description}

IntelMQ module: \`${module}\`

## Parameters

${START}
${table}
${END}

## Example runtime.yaml entry

\`\`\`yaml
${f.name.replace(/_/g, "-")}-${def.kind}:
  name: ${def.name}
  group: ${group}
  module: ${module}
  enabled: true
  parameters:
    destination_queues:
      _default: [next-queue]
\`\`\`
`;
}

/** Rewrite (or with check, compare) every README's table. Returns the problems found. */
export async function run({ check = false, init = false } = {}) {
  const problems = [];
  for (const f of botFolders()) {
    let def;
    try {
      def = await loadDef(f);
    } catch (err) {
      problems.push(`${relative(root, f.dir)}: ${err.message}`);
      continue;
    }
    const table = await paramsTable(def);
    const rel = relative(root, f.readme);
    if (!existsSync(f.readme)) {
      if (init && !check) writeFileSync(f.readme, skeleton(f, def, table));
      else problems.push(`${rel} is missing (node scripts/gen-bot-docs.mjs --init writes a skeleton)`);
      continue;
    }
    const text = readFileSync(f.readme, "utf8");
    const a = text.indexOf(START);
    const b = text.indexOf(END);
    if (a < 0 || b < a) {
      problems.push(`${rel} has no parameters table between ${START} and ${END}`);
      continue;
    }
    const next = `${text.slice(0, a + START.length)}\n${table}\n${text.slice(b)}`;
    if (next === text) continue;
    if (check) problems.push(`${rel}: the parameters table is stale (run node scripts/gen-bot-docs.mjs)`);
    else writeFileSync(f.readme, next);
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes("--check");
  const problems = await run({ check, init: process.argv.includes("--init") });
  for (const p of problems) process.stderr.write(`${p}\n`);
  process.exit(problems.length ? 1 : 0);
}
