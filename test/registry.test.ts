// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The registry, the bot READMEs and etc/feeds.yaml agree with the bots' schemas, so none of
 * them can drift (IntelMQ's feeds.yaml names modules that do not exist; its docs disagree with its code).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parse } from "yaml";
import { registry } from "../services/registry.gen.js";
import { BotKind, resolveParams, type BotDefinition } from "../shared/runtime/index.js";
import { effectiveParams, parseRuntimeConfig } from "../shared/config/index.js";
import { src } from "./helpers/paths.js";

const KIND_DIRS: Record<string, BotKind> = { collectors: "collector", parsers: "parser", experts: "expert", outputs: "output" };
/** IntelMQ module names: intelmq.bots.<kind>s.<provider>.<module>. */
const MODULE_RE = /^intelmq\.bots\.(collectors|parsers|experts|outputs)\.[a-z0-9_]+\.[a-z0-9_]+$/;
/** Modules of our own, which IntelMQ does not have (the MQTT output): intelmq_nats.bots.<kind>s.<name>.<module>. */
const OWN_MODULE_RE = /^intelmq_nats\.bots\.(collectors|parsers|experts|outputs)\.[a-z0-9_]+\.[a-z0-9_]+$/;
const START = "<!-- params:start -->";
const END = "<!-- params:end -->";

function modulesOf(def: BotDefinition): string[] {
  return typeof def.intelmq === "string" ? [def.intelmq] : [...def.intelmq];
}

/** services/<kind>/<name>/ folders holding a bot (index.ts). */
function botFolders(): { kindDir: string; name: string; dir: string }[] {
  const out = [];
  for (const kindDir of Object.keys(KIND_DIRS)) {
    const d = src("services", kindDir);
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d).sort()) {
      if (existsSync(join(d, name, "index.ts"))) out.push({ kindDir, name, dir: join(d, name) });
    }
  }
  return out;
}

async function loadFolder(kindDir: string, name: string): Promise<BotDefinition> {
  const m = (await import(`../services/${kindDir}/${name}/index.js`)) as { default: BotDefinition };
  return m.default;
}

function node(script: string, ...args: string[]) {
  return spawnSync(process.execPath, [src(script), ...args], { encoding: "utf8", cwd: src() });
}

test("services/registry.gen.ts is not stale", () => {
  const r = node("scripts/gen-registry.mjs", "--check");
  assert.equal(r.status, 0, r.stderr);
});

test("every registered module loads and declares kind, name, description, params and IntelMQ names", async () => {
  const problems: string[] = [];
  // A registry that lost its entries would pass every check below.
  assert.ok(Object.keys(registry).length >= botFolders().length && botFolders().length > 0, "the registry names a module of every bot folder");
  let loaded = 0;
  for (const [module, load] of Object.entries(registry)) {
    let def: BotDefinition;
    try {
      def = await load();
    } catch (err) {
      problems.push(`${module}: does not load: ${(err as Error).message}`);
      continue;
    }
    if (!def || typeof def !== "object") { problems.push(`${module}: the default export is not a bot`); continue; }
    loaded++;
    if (!Object.values(BotKind).includes(def.kind)) problems.push(`${module}: kind ${String(def.kind)}`);
    if (typeof def.name !== "string" || !/^[a-z0-9_]+$/.test(def.name)) problems.push(`${module}: name ${JSON.stringify(def.name)}`);
    if (typeof def.description !== "string" || def.description.trim() === "") problems.push(`${module}: no description`);
    if (!def.params || typeof (def.params as { safeParse?: unknown }).safeParse !== "function") problems.push(`${module}: params is not a zod schema`);
    if (typeof def.create !== "function") problems.push(`${module}: no create()`);
    const names = modulesOf(def);
    if (!names.includes(module)) problems.push(`${module}: the bot does not name this module`);
    for (const n of names) {
      if (!MODULE_RE.test(n) && !OWN_MODULE_RE.test(n)) problems.push(`${module}: ${JSON.stringify(n)} does not look like an IntelMQ module name`);
      else if (KIND_DIRS[n.split(".")[2]!] !== def.kind) problems.push(`${module}: ${n} is not a ${def.kind} module`);
    }
  }
  assert.deepEqual(problems, []);
  assert.equal(loaded, Object.keys(registry).length, "every module was checked");
});

test("every bot folder is registered and its README has the skeleton with a working example", async () => {
  const problems: string[] = [];
  const registered = new Set(Object.keys(registry));
  const folders = botFolders();
  // Folders not found (a wrong root, a moved services/) must fail here, not check nothing.
  assert.deepEqual([...new Set(folders.map((f) => f.kindDir))].sort(), Object.keys(KIND_DIRS).sort(), "bots of every kind were found");
  const named = new Set<string>();
  let examplesChecked = 0;
  for (const { kindDir, name, dir } of folders) {
    const where = `services/${kindDir}/${name}`;
    let def: BotDefinition;
    try {
      def = await loadFolder(kindDir, name);
    } catch (err) {
      problems.push(`${where}: does not load: ${(err as Error).message}`);
      continue;
    }
    if (def.kind !== KIND_DIRS[kindDir]) problems.push(`${where}: kind ${def.kind} in the ${kindDir} folder`);
    if (def.name !== name) problems.push(`${where}: name ${JSON.stringify(def.name)} is not the folder name`);
    for (const m of modulesOf(def)) {
      named.add(m);
      if (!registered.has(m)) problems.push(`${where}: ${m} is not in services/registry.gen.ts`);
    }
    const readme = join(dir, "README.md");
    if (!existsSync(readme)) { problems.push(`${where}: README.md is missing`); continue; }
    const text = readFileSync(readme, "utf8");
    const a = text.indexOf(START), b = text.indexOf(END);
    if (a < 0 || b < a) problems.push(`${where}/README.md: no parameters table between ${START} and ${END}`);
    const intro = (a < 0 ? text : text.slice(0, a)).split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
    if (!/^# /m.test(text)) problems.push(`${where}/README.md: no title`);
    if (intro.length === 0) problems.push(`${where}/README.md: no summary before the parameters`);
    const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    if (blocks.length === 0) { problems.push(`${where}/README.md: no example runtime.yaml entry (a \`\`\`yaml block)`); continue; }
    let examples = 0;
    for (const block of blocks) {
      let cfg;
      try {
        cfg = parseRuntimeConfig(block, `${where}/README.md`);
      } catch (err) {
        problems.push((err as Error).message);
        continue;
      }
      for (const [id, entry] of Object.entries(cfg.bots)) {
        if (!modulesOf(def).includes(entry.module)) continue;
        examples++;
        try {
          const r = resolveParams(def, id, effectiveParams(cfg, id, {}));
          if (r.unknown.length) problems.push(`${where}/README.md: example ${id}: unknown parameters ${r.unknown.join(", ")}`);
        } catch (err) {
          problems.push(`${where}/README.md: example ${id}: ${(err as Error).message}`);
        }
      }
    }
    if (examples === 0) problems.push(`${where}/README.md: no example entry with module ${modulesOf(def)[0]}`);
    examplesChecked += examples;
  }
  assert.deepEqual(problems, []);
  assert.deepEqual([...registered].filter((m) => !named.has(m)), [], "registered modules that no bot folder declares");
  assert.ok(examplesChecked >= folders.length, `${examplesChecked} README examples resolved for ${folders.length} bots`);
});

test("README parameter tables match the schemas (scripts/gen-bot-docs.mjs --check)", async () => {
  const r = node("scripts/gen-bot-docs.mjs", "--check");
  assert.equal(r.status, 0, r.stderr);
  // The check passes on no folders at all: it must see every bot this test sees.
  const script = (await import(pathToFileURL(src("scripts", "gen-bot-docs.mjs")).href)) as { botFolders(): { dir: string }[] };
  assert.deepEqual(script.botFolders().map((f) => f.dir).sort(), botFolders().map((f) => f.dir).sort());
});

/** Values for feeds.yaml placeholders (__IGNORE__ is a real value: a column to skip). */
function substitute(v: unknown, feed: string, provider: string): unknown {
  if (typeof v === "string") {
    return v.replaceAll("__FEED__", feed).replaceAll("__PROVIDER__", provider).replaceAll("__HOST__", "127.0.0.1")
      .replaceAll("__USERNAME__", "user").replaceAll("__PASSWORD__", "secret").replaceAll("__APIKEY__", "0123456789abcdef")
      .replaceAll("__COUNTRY__", "AT").replaceAll("__REGEX__", ".*");
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, feed, provider));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, feed, provider)]));
  return v;
}

test("every feed of etc/feeds.yaml that we implement validates through its bot's schema", async (t) => {
  const text = readFileSync(src("etc", "feeds.yaml"), "utf8");
  const doc = parse(text) as { providers: Record<string, Record<string, { bots?: Record<string, { module?: string; parameters?: Record<string, unknown> | null }> }>> };
  assert.ok(doc.providers && Object.keys(doc.providers).length > 10, "feeds.yaml has providers");
  const problems: string[] = [];
  let checked = 0;
  const checkedModules = new Set<string>();
  for (const [provider, feeds] of Object.entries(doc.providers)) {
    for (const [feed, spec] of Object.entries(feeds ?? {})) {
      for (const [role, bot] of Object.entries(spec?.bots ?? {})) {
        if (!bot?.module || !MODULE_RE.test(bot.module)) {
          problems.push(`${provider} / ${feed} (${role}): ${JSON.stringify(bot?.module)} is not an IntelMQ module name`);
          continue;
        }
        if (!Object.hasOwn(registry, bot.module)) continue;
        const def = await registry[bot.module]!();
        const params = substitute(bot.parameters ?? {}, feed, provider) as Record<string, unknown>;
        checked++;
        checkedModules.add(bot.module);
        try {
          const r = resolveParams(def, "feed-bot", params);
          if (r.unknown.length) problems.push(`${provider} / ${feed} (${role} ${bot.module}): unknown parameters ${r.unknown.join(", ")}`);
        } catch (err) {
          problems.push(`${provider} / ${feed} (${role} ${bot.module}): ${(err as Error).message}`);
        }
      }
    }
  }
  assert.deepEqual(problems, []);
  // Every entry of the file that names an implemented module was validated, and there are such entries.
  const mentioned = [...text.matchAll(/^\s+module:\s*(\S+)\s*$/gm)].map((m) => m[1]!).filter((m) => Object.hasOwn(registry, m));
  assert.ok(mentioned.length > 0, "feeds.yaml names modules implemented here");
  assert.equal(checked, mentioned.length, "feed bot entries of implemented modules checked");
  assert.deepEqual([...checkedModules].sort(), [...new Set(mentioned)].sort());
  t.diagnostic(`${checked} feed bot entries checked`);
});

test("the shipped etc/runtime.yaml: every bot is installed and its parameters pass its schema", async () => {
  const cfg = parseRuntimeConfig(readFileSync(src("etc", "runtime.yaml"), "utf8"), "etc/runtime.yaml");
  assert.ok(Object.keys(cfg.bots).length >= 5);
  for (const [id, bot] of Object.entries(cfg.bots)) {
    const load = registry[bot.module];
    assert.ok(load, `${id}: module ${bot.module} is not installed`);
    const res = resolveParams(await load(), id, effectiveParams(cfg, id, {}));
    assert.deepEqual(res.unknown, [], `${id}: unknown parameters`);
  }
});
