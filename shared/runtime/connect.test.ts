// SPDX-License-Identifier: AGPL-3.0-only
// connectWithRetry: refused credentials end the wait with a configuration error; a server not up yet is waited for.
import { test } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { ErrorCode, hasCode } from "../errors/index.js";
import { freePort, startNatsServer } from "../../test/helpers/nats-server.js";
import { connectWithRetry } from "./control.js";

const log = pino({ level: "silent" });

test("a NATS server refusing the credentials ends the retries with a ConfigurationError naming them", async () => {
  const nats = await startNatsServer({ auth: { user: "bot", pass: "right" } });
  try {
    const started = Date.now();
    await assert.rejects(connectWithRetry({ servers: [nats.url], user: "bot", pass: "wrong", limits: {} }, "t", log, () => Date.now() - started > 20_000),
      (err: unknown) => hasCode(err, ErrorCode.ConfigurationError) && /NATS credentials.*refused/i.test(String(err)));
    const b = await connectWithRetry({ servers: [nats.url], user: "bot", pass: "right", limits: {} }, "t", log, () => false);
    assert.ok(b);
    await b.close();
  } finally {
    await nats.stop();
  }
});

test("a server that is not up is waited for until cancelled", async () => {
  const port = await freePort();
  let calls = 0;
  const b = await connectWithRetry({ servers: [`nats://127.0.0.1:${port}`], limits: {} }, "t", log, () => ++calls > 3);
  assert.equal(b, null);
});
