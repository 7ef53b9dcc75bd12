// SPDX-License-Identifier: AGPL-3.0-only
// Fault injection at the broker: nats-server SIGKILLed mid-run and back after 30 s; each event once, nothing dumped, no ghosts.
import { describe, it } from "node:test";
import { join } from "node:path";
import { countLines, sleep, waitFor } from "../helpers/pipeline.js";
import { OUT, QUEUES, injectGradually, run } from "../helpers/faults.js";

describe("broker crash", { timeout: 600_000 }, () => {
  it("nats-server SIGKILLed and back after 30 s: each event once, nothing dumped, queues hold no acknowledged messages", async () => {
    await run(async (p, nats) => {
      const out = join(p.root, OUT);
      const injecting = injectGradually(p, 300);
      await waitFor(() => countLines(out) > 1_000, 60_000, "the first lines");
      await nats.kill();
      await sleep(30_000);
      await nats.restart();
      await injecting;
    }, {}, async (p) => {
      // Acknowledged messages a crash leaves in a stream are purged without restarting the bots.
      const b = await p.broker();
      await waitFor(async () => {
        for (const q of QUEUES) if ((await b.queues.info(q)).stored !== 0) return false;
        return true;
      }, 30_000, "no messages left in the queue streams");
    });
  });
});

