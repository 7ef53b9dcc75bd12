// SPDX-License-Identifier: AGPL-3.0-only
/** Temporary folders for tests, removed when the test process ends (whatever the tests did). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];
let hooked = false;

/** A fresh folder under the system's temporary directory, removed at the end of the process. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const d of made) {
        try { rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
      }
    });
  }
  return dir;
}
