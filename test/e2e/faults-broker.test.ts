// SPDX-License-Identifier: AGPL-3.0-only
// Fault injection at the broker: nats-server stopped for 60 s mid-run; each event once, nothing dumped.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { countLines, sleep, waitFor } from "../helpers/pipeline.js";
import { BOTS, OUT, injectGradually, run } from "../helpers/faults.js";

describe("broker faults", { timeout: 600_000 }, () => {
  it("nats-server stopped for 60 s mid-run: each event once, nothing dumped, no ghosts", async () => {
    await run(async (p, nats) => {
      const out = join(p.root, OUT);
      const injecting = injectGradually(p, 300);
      await waitFor(() => countLines(out) > 1_000, 60_000, "the first lines");
      await nats.stop({ keepStore: true });
      await sleep(60_000);
      await nats.restart();
      await injecting;
      for (const id of BOTS) assert.equal(p.procs.get(id)?.child.exitCode, null, `${id} kept running through the outage`);
    });
  });
});
