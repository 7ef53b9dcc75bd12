// SPDX-License-Identifier: AGPL-3.0-only
// Fault injection at the file output: killed while it writes, its file made unwritable; each event once.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { countLines, sleep, waitFor } from "../helpers/pipeline.js";
import { OUT, UNIQUE, injectGradually, run } from "../helpers/faults.js";

describe("output faults", { timeout: 600_000 }, () => {
  it("the file output SIGKILLed 5 times while it writes: each event once", async () => {
    await run(async (p) => {
      const out = join(p.root, OUT);
      // Reports come for ~6 s, longer than five restarts of the output take, so that each kill
      // lands while events still flow however fast the bots upstream are.
      const injecting = injectGradually(p, 600);
      let kills = 0;
      for (let k = 0; k < 5; k++) {
        const before = countLines(out);
        // an output that already wrote everything has nothing more to write: not counted as a kill below
        await waitFor(() => countLines(out) > before || before >= UNIQUE, 60_000, "the output writing");
        await p.kill("bench-output", "SIGKILL");
        if (countLines(out) < UNIQUE) kills++;
        p.start("bench-output");
      }
      await injecting;
      assert.ok(kills >= 4, `killed ${kills} times while events were still coming`);
    });
  });

  it("the output file unwritable for 10 s: retried, then written once", async () => {
    await run(async (p) => {
      const out = join(p.root, OUT);
      const injecting = injectGradually(p, 300);
      await waitFor(() => countLines(out) > 2_000, 60_000, "the first lines");
      // A directory where the file was: every write fails until it is gone again.
      renameSync(out, `${out}.1`);
      mkdirSync(out);
      await sleep(10_000);
      rmSync(out, { recursive: true });
      await injecting;
      return [`${OUT}.1`];
    }, { error_retry_delay: 5 });
  });
});
