// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRuntimeConfig, natsOptions } from "../shared/config/index.js";
import { botPermissions, writeNatsConfig } from "./ctl-nats-config.js";

const YAML = `
global: {}
col:
  module: intelmq.bots.collectors.file.collector_file
  parameters: { path: /tmp/x, destination_queues: [par-queue] }
par:
  module: intelmq.bots.parsers.generic.parser_csv
  parameters: { destination_queues: { _default: [ded-queue], _on_error: [err-queue] } }
ded:
  module: intelmq.bots.experts.deduplicator.expert
  parameters: { destination_queues: [out-queue] }
`;

test("a bot may pull only its own queue, publish only to its destinations, its dumps, logs and status key", () => {
  const config = parseRuntimeConfig(YAML);
  const par = botPermissions(config, "par");
  assert.ok(par.publish.includes("$JS.API.CONSUMER.MSG.NEXT.Q_par-queue.intelmq"));
  assert.ok(par.publish.includes("$JS.ACK.Q_par-queue.intelmq.>"));
  assert.ok(par.publish.includes("intelmq.queue.ded-queue") && par.publish.includes("intelmq.queue.err-queue"));
  assert.ok(!par.publish.includes("intelmq.queue.par-queue"), "not into its own source queue");
  assert.ok(!par.publish.some((s) => s.includes("out-queue")), "nothing of a queue it has nothing to do with");
  assert.ok(!par.publish.some((s) => s.startsWith("$JS.API.CONSUMER.MSG.NEXT.Q_ded")), "no pulling from its destination");
  assert.ok(!par.publish.some((s) => s.startsWith("$JS.API.STREAM.PURGE.Q_ded") || s.includes("STREAM.DELETE")), "no purging or deleting others' queues");
  assert.ok(par.publish.includes("intelmq.dump.par") && par.publish.includes("intelmq.log.par") && par.publish.includes("$KV.status.par.*"));
  assert.ok(!par.publish.some((s) => s.startsWith("intelmq.claims.")), "the parser has no cache");
  assert.deepEqual(par.subscribe, ["_INBOX_par.>", "intelmq.control.bot.par.*"]);
  assert.ok(!par.publish.some((s) => s === ">" || s.startsWith("intelmq.control")));
  const ded = botPermissions(config, "ded");
  assert.ok(ded.publish.includes("intelmq.claims.dedup"));
  assert.ok(ded.publish.includes("$JS.API.CONSUMER.MSG.NEXT.CLAIMS_dedup.>"), "it follows the claim set");
  const col = botPermissions(config, "col");
  assert.ok(!col.publish.some((s) => s.includes("MSG.NEXT.Q_") || s.startsWith("$JS.ACK")), "a collector reads no queue");
  assert.ok(col.publish.includes("$JS.API.STREAM.CREATE.archive"), "a collector's queue is archived");
});

test("nats-config writes seeds only into the creds files, keeps them on a re-run, and the tools find their own", () => {
  const dir = mkdtempSync(join(tmpdir(), "intelmq-natscfg-"));
  try {
    const config = parseRuntimeConfig(YAML);
    const users = writeNatsConfig(config, dir);
    assert.deepEqual(users.map((u) => u.identity), ["col", "ded", "par", "control", "admin"]);
    const conf = readFileSync(join(dir, "nats-server.conf"), "utf8");
    for (const u of users) {
      assert.ok(conf.includes(`nkey: ${u.publicKey}`));
      assert.ok(!conf.includes(u.seed));
      assert.equal(readFileSync(join(dir, "creds", `${u.identity}.creds`), "utf8"), `${u.seed}\n`);
    }
    // authorization.conf is the configuration's authorization block alone (the Helm chart includes it).
    const auth = readFileSync(join(dir, "authorization.conf"), "utf8");
    assert.match(auth, /^authorization \{\n/);
    assert.ok(conf.endsWith(`\n\n${auth}`), "nats-server.conf ends with the same block");
    assert.ok(!/^(jetstream|tls)\b/m.test(auth), "nothing but the users");
    writeFileSync(join(dir, "creds", "gone.creds"), "x");
    const again = writeNatsConfig(config, dir);
    assert.deepEqual(again.map((u) => u.publicKey), users.map((u) => u.publicKey), "a re-run keeps the keys");
    assert.throws(() => readFileSync(join(dir, "creds", "gone.creds")), "credentials of bots no longer configured go");
    const env = { INTELMQ_NATS_CREDENTIALS_DIR: join(dir, "creds"), NATS_CREDS: "/elsewhere.creds" };
    const o = natsOptions(config, env, "par");
    assert.equal(o.credsFile, join(dir, "creds", "par.creds"));
    assert.equal(o.inboxPrefix, "_INBOX_par");
    assert.equal(natsOptions(config, env, "admin").credsFile, join(dir, "creds", "admin.creds"));
    assert.equal(natsOptions(config, env, "nobody").credsFile, "/elsewhere.creds", "no file of its own: NATS_CREDS");
    assert.equal(natsOptions(config, env).inboxPrefix, undefined);
    assert.throws(() => writeNatsConfig(parseRuntimeConfig(`${YAML}admin:\n  module: intelmq.bots.experts.taxonomy.expert\n`), dir), /admin/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("compose --secure: each bot container gets only its own credentials and the client certificate, NATS over TLS", async () => {
  const { composeFile } = await import("./ctl-compose.js");
  const { parse } = await import("yaml");
  const config = parseRuntimeConfig(YAML);
  const text = composeFile(config, { dir: "/p/deploy", root: "/p", configDir: "/p/etc", secure: "/p/deploy/secure" });
  const doc = parse(text) as { services: Record<string, { environment?: Record<string, string>; volumes?: string[]; command?: string[] }> };
  assert.deepEqual(doc.services["nats"]!.command, ["-c", "/etc/nats-secure/nats-server.conf"]);
  for (const id of ["col", "par", "ded"]) {
    const s = doc.services[id]!;
    assert.equal(s.environment!["NATS_URL"], "tls://nats:4222");
    assert.equal(s.environment!["INTELMQ_NATS_CREDENTIALS_DIR"], "/run/intelmq-creds");
    const creds = s.volumes!.filter((v) => v.includes(".creds"));
    assert.deepEqual(creds, [`./secure/creds/${id}.creds:/run/intelmq-creds/${id}.creds:ro`]);
  }
  assert.ok(!text.includes("ca-key.pem"), "the CA's key is mounted nowhere");
  const mounts = text.split("\n").filter((l) => !l.startsWith("#")).join("\n");
  assert.ok(!mounts.includes("admin.creds") && !mounts.includes("control.creds"), "no bot gets the operators' or the control service's credentials");
});
