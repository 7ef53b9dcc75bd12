// SPDX-License-Identifier: AGPL-3.0-only
// An output whose server is away (PeerUnavailableError) keeps its input waiting: never dumped, never a retry of the message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { PeerUnavailableError } from "../errors/index.js";
import { defineBot } from "./index.js";
import { runBot } from "./library.js";

test("a flush failing with PeerUnavailableError is retried until it works, beyond error_max_retries, and nothing is dumped", async () => {
  let flushes = 0;
  const written: string[] = [];
  let pending: string[] = [];
  const bot = defineBot({
    kind: "output", name: "peer-test", intelmq: "peer.test", description: "test", params: z.object({}).strict(),
    create: () => ({
      export(event) { pending.push(String(event.get("source.ip"))); },
      flush() {
        if (++flushes <= 4) throw new PeerUnavailableError("server away for the test");
        written.push(...pending);
        pending = [];
      },
    }),
  });
  const out = await runBot(bot, { params: { error_max_retries: 1, error_retry_delay: 0 }, input: [{ __type: "Event", "source.ip": "192.0.2.1" }] });
  assert.equal(out.dumped, 0);
  assert.equal(flushes, 5);
  assert.deepEqual(written, ["192.0.2.1"]);
});
