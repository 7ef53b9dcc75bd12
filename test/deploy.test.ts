// SPDX-License-Identifier: AGPL-3.0-only
/**
 * deploy/: the compose files validate against the Compose specification's JSON schema (Debian's
 * docker-compose checks a file against it in `config`, no Docker engine needed), alone and with
 * their overrides; every service is NATS, its setup, or a bot of etc/runtime.yaml, and every
 * bot has its service.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { BOT_NODE_FLAGS, botNodeFlags, loadRuntimeConfig } from "../shared/config/index.js";
import { composeFile } from "../cli/ctl-compose.js";
import { writeNatsConfig } from "../cli/ctl-nats-config.js";
import { natsServerBinary } from "./helpers/nats-server.js";
import { src } from "./helpers/paths.js";

const DEPLOY = src("deploy");

function composeConfig(files: string[]): { status: number | null; out: string } {
  const r = spawnSync("docker-compose", [...files.flatMap((f) => ["-f", f]), "config", "-q"], { cwd: DEPLOY, encoding: "utf8", timeout: 60_000 });
  if (r.error) throw new Error(`docker-compose is needed to validate the compose files (apt-get install docker-compose): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test("the compose files validate against the Compose specification, alone and with the cluster and TLS overrides", () => {
  for (const files of [["docker-compose.yml"], ["docker-compose.yml", "docker-compose.cluster.yml"]]) {
    const r = composeConfig(files);
    assert.equal(r.status, 0, `${files.join(" + ")}: ${r.out}`);
  }
  // The TLS override is made per installation: generated here for a credentials folder.
  const config = loadRuntimeConfig(src("etc", "runtime.yaml"));
  const dir = mkdtempSync(join(tmpdir(), "compose-secure-"));
  const secure = join(dir, "docker-compose.secure.yml");
  writeFileSync(secure, composeFile(config, { dir: DEPLOY, root: src(), configDir: src("etc"), secure: join(dir, "nats-auth") }));
  const r = composeConfig(["docker-compose.yml", secure]);
  assert.equal(r.status, 0, r.out);
});

test("the validation can fail: an unknown key and a wrong condition are refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "compose-bad-"));
  const bad = join(dir, "bad.yml");
  writeFileSync(bad, readFileSync(join(DEPLOY, "docker-compose.yml"), "utf8").replace("restart: unless-stopped", "restartt: unless-stopped"));
  assert.notEqual(composeConfig([bad]).status, 0);
  writeFileSync(bad, readFileSync(join(DEPLOY, "docker-compose.yml"), "utf8").replace("service_completed_successfully", "service_done"));
  assert.match(composeConfig([bad]).out, /condition/);
});

test("the NATS configurations the compose files run are valid with the credentials nats-config makes (nats-server -t)", () => {
  const config = loadRuntimeConfig(src("etc", "runtime.yaml"));
  // The containers' layout: /etc/nats/cluster-n*.conf and the nats-auth volume at /run/intelmq-auth.
  const fs = mkdtempSync(join(tmpdir(), "compose-nats-"));
  mkdirSync(join(fs, "etc", "nats"), { recursive: true });
  writeNatsConfig(config, join(fs, "run", "intelmq-auth"), { storeDir: join(fs, "data") });
  const check = (conf: string) => spawnSync(natsServerBinary(), ["-c", conf, "-t"], { encoding: "utf8", timeout: 30_000 });
  const main = check(join(fs, "run", "intelmq-auth", "nats-server.conf"));
  assert.equal(main.status, 0, main.stderr + main.stdout);
  for (const n of [1, 2, 3]) {
    const conf = join(fs, "etc", "nats", `cluster-n${n}.conf`);
    copyFileSync(join(DEPLOY, "nats", `cluster-n${n}.conf`), conf);
    assert.match(readFileSync(conf, "utf8"), /^include \.\.\/\.\.\/run\/intelmq-auth\/authorization\.conf$/m, "the node admits only nats-config's credentials");
    const r = check(conf);
    assert.equal(r.status, 0, r.stderr + r.stdout);
  }
});

test("every compose service is NATS, its credentials' setup or a bot of runtime.yaml; every bot has one", () => {
  const config = loadRuntimeConfig(src("etc", "runtime.yaml"));
  const bots = new Set(Object.keys(config.bots));
  for (const file of ["docker-compose.yml", "docker-compose.cluster.yml"]) {
    const doc = parse(readFileSync(join(DEPLOY, file), "utf8"), { merge: true }) as { services: Record<string, { command?: string[] }> };
    const services = Object.keys(doc.services);
    const infra = services.filter((s) => /^nats(-\d+|-auth)?$/.test(s));
    assert.deepEqual(services.filter((s) => !infra.includes(s) && !bots.has(s)), [], `${file}: services that are no bot`);
    assert.deepEqual([...bots].filter((b) => !services.includes(b)), [], `${file}: bots without a service`);
    if (file === "docker-compose.yml") {
      for (const b of bots) assert.deepEqual(doc.services[b]!.command, [b], `${b} runs itself`);
      assert.deepEqual(infra.sort(), ["nats", "nats-auth"]);
    }
  }
});

test("the image starts a bot with BOT_NODE_FLAGS, and a module with flags of its own gets them in compose and Kubernetes", () => {
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(DEPLOY, "Dockerfile"), "utf8"));
  assert.ok(entry, "deploy/Dockerfile has an ENTRYPOINT");
  assert.deepEqual(JSON.parse(entry[1]!), ["node", ...BOT_NODE_FLAGS, "/opt/intelmq/bin/intelmq-bot.mjs"]);
  const config = loadRuntimeConfig(src("etc", "runtime.yaml"));
  const dedup = Object.entries(config.bots).find(([, b]) => b.module === "intelmq.bots.experts.deduplicator.expert");
  assert.ok(dedup, "etc/runtime.yaml has a deduplicator");
  const own = ["node", ...botNodeFlags(dedup[1].module), "/opt/intelmq/bin/intelmq-bot.mjs"];
  assert.ok(own.includes("--max-semi-space-size=2"));
  const services = (parse(readFileSync(join(DEPLOY, "docker-compose.yml"), "utf8")) as { services: Record<string, { entrypoint?: string[] }> }).services;
  for (const id of Object.keys(config.bots)) assert.deepEqual(services[id]!.entrypoint, id === dedup[0] ? own : undefined, id);
  const k8s = readFileSync(join(DEPLOY, "k8s", "bots.yaml"), "utf8");
  assert.ok(k8s.includes(`command: ${JSON.stringify(own).replaceAll(",", ", ")}`), "the deduplicator's Deployment runs with its flags");
});
