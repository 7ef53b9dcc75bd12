// SPDX-License-Identifier: AGPL-3.0-only
/**
 * What is generated from the code and the configuration stays generated: the README's pipeline
 * picture and list of modules not implemented yet, the docker-compose files of
 * etc/runtime.yaml, the Dockerfile's view of the source tree, and the table of /opt/intelmq paths.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { registry } from "../services/registry.gen.js";
import { INTELMQ_OPT_ROOT, OPT_PATH_PARAMETERS, loadRuntimeConfig } from "../shared/config/index.js";
import { parameterDefaults } from "../cli/ctl-config.js";
import { src } from "./helpers/paths.js";

const MODULE_RE = /^intelmq\.bots\.(collectors|parsers|experts|outputs)\.[a-z0-9_]+\.[a-z0-9_]+$/;

function node(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawnSync(process.execPath, args, { encoding: "utf8", cwd: opts.cwd ?? src(), env: opts.env ?? process.env, timeout: 60_000 });
}

test("README.md's generated sections are current (npm run gen:readme)", { timeout: 60_000 }, () => {
  const r = node([src("scripts", "gen-readme.mjs"), "--check"]);
  assert.equal(r.status, 0, r.stderr);
  const readme = readFileSync(src("README.md"), "utf8");
  // The picture is of the shipped pipeline: every bot of etc/runtime.yaml is in it.
  for (const id of Object.keys(loadRuntimeConfig(src("etc", "runtime.yaml")).bots)) assert.match(readme, new RegExp(`\\["${id}<br/>`), id);
});

test("etc/intelmq-modules.txt holds IntelMQ's 141 module names, among them every module implemented here", () => {
  const names = readFileSync(src("etc", "intelmq-modules.txt"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  assert.equal(names.length, 141);
  assert.equal(new Set(names).size, names.length, "no repeats");
  assert.deepEqual(names.filter((n) => !MODULE_RE.test(n)), []);
  // names IntelMQ 3.4 gave to modules of the list, which keep their old name as an alias
  const renamed = new Map([["intelmq.bots.parsers.ioc_extractor.parser", "intelmq.bots.parsers.twitter.parser"]]);
  for (const [now, before] of renamed) assert.ok(names.includes(before), `${before} (now ${now}) is in the list`);
  // Our own modules (intelmq_nats.bots.*, the MQTT output) and the renamed ones are the only ones IntelMQ lacks.
  assert.deepEqual(Object.keys(registry).filter((m) => !names.includes(m) && !renamed.has(m) && !m.startsWith("intelmq_nats.bots.")), [], "implemented modules that IntelMQ does not have");
});

/**
 * Every IntelMQ module of etc/intelmq-modules.txt is registered, or a folder of services/ without
 * a bot (a README.md, no index.ts) names it and says why it cannot be here. The message names what is missing.
 */
test("each of IntelMQ's modules is in the registry, or a README of services/ says why not", () => {
  const names = readFileSync(src("etc", "intelmq-modules.txt"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const explained: string[] = [];
  for (const kind of ["collectors", "parsers", "experts", "outputs"]) {
    const dir = src("services", kind);
    for (const name of readdirSync(dir)) {
      const folder = join(dir, name);
      if (existsSync(join(folder, "README.md")) && !existsSync(join(folder, "index.ts"))) explained.push(readFileSync(join(folder, "README.md"), "utf8"));
    }
  }
  const missing = names.filter((m) => !Object.hasOwn(registry, m));
  const unexplained = missing.filter((m) => !explained.some((text) => text.includes(m)));
  assert.deepEqual(unexplained, [], `IntelMQ modules neither registered nor explained by a README (${missing.length} not registered)`);
  for (const kind of ["parsers", "outputs"]) {
    assert.deepEqual(missing.filter((m) => m.startsWith(`intelmq.bots.${kind}.`)), [], `every ${kind.slice(0, -1)} module is implemented`);
  }
});

test("deploy/docker-compose*.yml are what `intelmqctl compose` makes of etc/runtime.yaml", { timeout: 60_000 }, () => {
  const env = { ...process.env, INTELMQ_ROOT_DIR: src() };
  for (const [file, args] of [["docker-compose.yml", []], ["docker-compose.cluster.yml", ["--cluster"]]] as const) {
    const r = node([src("bin", "intelmqctl.mjs"), "compose", ...args], { cwd: src("deploy"), env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(src("deploy", file), "utf8"), r.stdout,
      `deploy/${file} is stale: run npx intelmqctl compose ${args.join(" ")} --out deploy/${file}`.replace("  ", " "));
  }
  // One service per bot (and NATS with the setup of its credentials), each running its bot id, from the one image.
  const doc = parse(readFileSync(src("deploy", "docker-compose.yml"), "utf8"), { merge: true }) as { services: Record<string, { command?: string[]; image?: string; build?: { dockerfile?: string } }> };
  const bots = loadRuntimeConfig(src("etc", "runtime.yaml")).bots;
  assert.deepEqual(Object.keys(doc.services).sort(), ["nats", "nats-auth", ...Object.keys(bots)].sort());
  for (const id of Object.keys(bots)) {
    assert.deepEqual(doc.services[id]!.command, [id]);
    assert.equal(doc.services[id]!.build?.dockerfile, "deploy/Dockerfile");
  }
});

test("intelmqctl compose: instances are replicas, disabled bots a profile, scheduled bots restart on failure", async () => {
  const { composeFile } = await import("../cli/ctl-compose.js");
  const { parseRuntimeConfig } = await import("../shared/config/index.js");
  const cfg = parseRuntimeConfig([
    "a-collector:\n  module: intelmq.bots.collectors.http.collector_http\n  run_mode: scheduled\n  parameters: {destination_queues: [p-queue]}",
    "p:\n  module: intelmq.bots.parsers.json.parser\n  instances: 3\n  parameters: {destination_queues: [o-queue]}",
    "o:\n  module: intelmq.bots.outputs.file.output\n  enabled: false",
  ].join("\n") + "\n");
  const doc = parse(composeFile(cfg, { dir: "/srv/x/deploy", root: "/srv/x", configDir: "/srv/x/etc" }), { merge: true }) as {
    services: Record<string, { deploy?: { replicas?: number }; restart?: string; profiles?: string[]; volumes?: string[]; command?: string[] }>;
  };
  assert.equal(doc.services.p!.deploy?.replicas, 3);
  assert.equal(doc.services["a-collector"]!.restart, "on-failure");
  assert.equal(doc.services.p!.restart, "unless-stopped");
  assert.deepEqual(doc.services.o!.profiles, ["disabled"]);
  assert.equal(doc.services.p!.profiles, undefined);
  assert.ok(doc.services.o!.volumes!.includes("../etc:/opt/intelmq/etc:ro"));
  assert.throws(() => composeFile(parseRuntimeConfig(""), { dir: "/", root: "/", configDir: "/etc" }), /no bots/);
});

test("deploy/Dockerfile builds on the Node.js LTS from every source folder tsconfig.json compiles", () => {
  const dockerfile = readFileSync(src("deploy", "Dockerfile"), "utf8");
  const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  assert.deepEqual(froms, ["node:24-bookworm-slim", "node:24-bookworm-slim"]);
  const tsconfig = JSON.parse(readFileSync(src("tsconfig.json"), "utf8")) as { include: string[] };
  for (const folder of new Set(tsconfig.include.map((g) => g.split("/")[0]!))) {
    assert.match(dockerfile, new RegExp(`^COPY ${folder} \\./${folder}$`, "m"), `the image copies ${folder}/`);
    assert.ok(existsSync(src(folder)), folder);
  }
});

test("the /opt/intelmq paths table names exactly the path parameters of the bots whose defaults lie there", async () => {
  const found: Record<string, Record<string, string>> = {};
  for (const [module, load] of Object.entries(registry)) {
    for (const [k, v] of Object.entries(parameterDefaults(await load()))) {
      if (typeof v === "string" && (v === INTELMQ_OPT_ROOT || v.startsWith(`${INTELMQ_OPT_ROOT}/`))) (found[module] ??= {})[k] = v;
    }
  }
  assert.deepEqual(found, OPT_PATH_PARAMETERS);
});
