// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_NATS_URL, envParams, natsOptions, natsUrlFile, parseRuntimeConfig } from "./index.js";

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
