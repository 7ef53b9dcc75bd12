// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_NATS_URL, envParams, maskUrl, natsOptions, natsUrlFile, parseRuntimeConfig } from "./index.js";

test("natsOptions: var/run/nats.url after NATS_URL and nats_servers, before the default", () => {
  const root = mkdtempSync(join(tmpdir(), "intelmq-natsurl-"));
  try {
    const env = { INTELMQ_ROOT_DIR: root };
    assert.equal(natsUrlFile(env), join(root, "var", "run", "nats.url"));
    assert.deepEqual(natsOptions(null, env).servers, [DEFAULT_NATS_URL], "no file: the default");
    mkdirSync(join(root, "var", "run"), { recursive: true });
    writeFileSync(natsUrlFile(env), "nats://127.0.0.1:4223\n");
    assert.deepEqual(natsOptions(null, env).servers, ["nats://127.0.0.1:4223"]);
    const cfg = parseRuntimeConfig("global:\n  nats_servers: nats://10.0.0.1:4222\n");
    assert.deepEqual(natsOptions(cfg, env).servers, ["nats://10.0.0.1:4222"], "nats_servers wins over the file");
    assert.deepEqual(natsOptions(cfg, { ...env, NATS_URL: "nats://127.0.0.1:5000" }).servers, ["nats://127.0.0.1:5000"], "NATS_URL wins");
    writeFileSync(natsUrlFile(env), "  \n");
    assert.deepEqual(natsOptions(null, env).servers, [DEFAULT_NATS_URL], "an empty file is ignored");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("the control plane's INTELMQ_HOST and INTELMQ_PARENT_PID are not bot parameters", () => {
  const params = envParams({ INTELMQ_HOST: "node-1", INTELMQ_PARENT_PID: "42", INTELMQ_RATE_LIMIT: "5" });
  assert.deepEqual(params, { rate_limit: 5 });
});

test("credentials written into NATS_URL are given to the client, and the URLs it is given (and logs) hold none", () => {
  const o = natsOptions(null, { NATS_URL: "nats://alice:p%40ss@127.0.0.1:4222,nats://127.0.0.1:4223" });
  assert.deepEqual(o.servers, ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"]);
  assert.equal(o.user, "alice");
  assert.equal(o.pass, "p@ss");
  const t = natsOptions(null, { NATS_URL: "tls://s3cr3ttoken@nats.example:4222" });
  assert.deepEqual(t.servers, ["tls://nats.example:4222"]);
  assert.equal(t.token, "s3cr3ttoken");
  // explicit settings win over the URL's
  const both = natsOptions(null, { NATS_URL: "nats://alice:pw@127.0.0.1:4222", NATS_USER: "bob", NATS_PASSWORD: "other" });
  assert.equal(both.user, "bob");
  assert.equal(both.pass, "other");
  assert.ok(!JSON.stringify(o.servers).includes("p%40ss") && !JSON.stringify(t.servers).includes("s3cr3t"));
});

test("maskUrl hides what stands before @ in a server URL", () => {
  assert.equal(maskUrl("nats://alice:pw@127.0.0.1:4222"), "nats://***@127.0.0.1:4222");
  assert.equal(maskUrl("token@127.0.0.1"), "***@127.0.0.1");
  assert.equal(maskUrl("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
});
