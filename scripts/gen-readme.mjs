// SPDX-License-Identifier: AGPL-3.0-only
// Writes the generated sections of README.md, so that they follow the code instead of drifting:
//   <!-- pipeline:start --> ... <!-- pipeline:end -->                the bots of etc/runtime.yaml as a picture
//   <!-- not-implemented:start --> ... <!-- not-implemented:end -->  IntelMQ's modules (etc/intelmq-modules.txt)
//                                                                     that services/registry.gen.ts lacks
// Reads the compiled configuration code in dist/ (run `npm run build` first). `--check` exits 1
// when a section is stale.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const README = join(root, "README.md");
const KINDS = ["collectors", "parsers", "experts", "outputs"];

async function dist(path) {
  const f = join(root, "dist", path);
  if (!existsSync(f)) throw new Error(`dist/${path} is missing: run npm run build`);
  return import(pathToFileURL(f).href);
}

/** IntelMQ's module names, from etc/intelmq-modules.txt. */
export function intelmqModules() {
  return readFileSync(join(root, "etc", "intelmq-modules.txt"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}

/** The module names services/registry.gen.ts implements. */
export function implementedModules() {
  const text = readFileSync(join(root, "services", "registry.gen.ts"), "utf8");
  return [...text.matchAll(/^ {2}"(intelmq\.[^"]+)":/gm)].map((m) => m[1]);
}

/** The not-implemented section: IntelMQ's modules we lack, by kind. */
export function notImplementedSection() {
  const have = new Set(implementedModules());
  const all = intelmqModules();
  const missing = all.filter((m) => !have.has(m));
  const lines = [
    `${all.length - missing.length} of IntelMQ's ${all.length} bot modules are implemented (the table above); these ${missing.length} are not yet:`,
    "",
  ];
  for (const kind of KINDS) {
    const list = missing.filter((m) => m.startsWith(`intelmq.bots.${kind}.`));
    if (list.length === 0) continue;
    lines.push(`- ${kind[0].toUpperCase()}${kind.slice(1)} (${list.length}): ${list.map((m) => `\`${m.slice(`intelmq.bots.${kind}.`.length)}\``).join(", ")}`);
  }
  return lines.join("\n");
}

/** The pipeline section: the bots of etc/runtime.yaml and the queues between them, as a mermaid flowchart. */
export async function pipelineSection() {
  const { loadRuntimeConfig, queueSettingsFor } = await dist("shared/config/index.js");
  const { queuesOf } = await dist("cli/ctl-config.js");
  const config = loadRuntimeConfig(join(root, "etc", "runtime.yaml"));
  const ids = Object.keys(config.bots);
  const node = new Map(ids.map((id, i) => [id, `b${i}`]));
  const queues = new Map(ids.map((id) => [id, queuesOf(config, id)]));
  const lines = ["```mermaid", "flowchart LR"];
  for (const id of ids) {
    const module = config.bots[id].module.replace(/^intelmq\.bots\./, "");
    lines.push(`  ${node.get(id)}["${id}<br/>${module}"]`);
  }
  const archived = new Set();
  for (const id of ids) {
    for (const q of queues.get(id).destinations) {
      const readers = ids.filter((r) => queues.get(r).source === q);
      for (const r of readers) lines.push(`  ${node.get(id)} -->|${q}| ${node.get(r)}`);
      if (queueSettingsFor(config, q).archive) archived.add(q);
    }
  }
  if (archived.size) {
    lines.push(`  archive[("archive<br/>raw reports, for replay")]`);
    for (const id of ids) if (queues.get(id).destinations.some((q) => archived.has(q))) lines.push(`  ${node.get(id)} -.-> archive`);
  }
  lines.push("```");
  return lines.join("\n");
}

/** README.md with every generated section replaced; problems for missing markers. */
export async function generate(text) {
  const sections = { pipeline: await pipelineSection(), "not-implemented": notImplementedSection() };
  const problems = [];
  let out = text;
  for (const [name, body] of Object.entries(sections)) {
    const start = `<!-- ${name}:start -->`;
    const end = `<!-- ${name}:end -->`;
    const a = out.indexOf(start);
    const b = out.indexOf(end);
    if (a < 0 || b < a) {
      problems.push(`README.md has no ${start} ... ${end} section`);
      continue;
    }
    out = `${out.slice(0, a + start.length)}\n${body}\n${out.slice(b)}`;
  }
  return { text: out, problems };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const current = readFileSync(README, "utf8");
  const { text, problems } = await generate(current);
  if (process.argv.includes("--check") && text !== current) problems.push("README.md is stale: run npm run gen:readme");
  else if (text !== current) writeFileSync(README, text);
  for (const p of problems) process.stderr.write(`${p}\n`);
  process.exit(problems.length ? 1 : 0);
}
