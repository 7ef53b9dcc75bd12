#!/usr/bin/env node
// SPDX-License-Identifier: AGPL-3.0-only
// intelmq-control: the control service of one host (see services/control/main.ts).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const entry = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "services", "control", "main.js");
if (!existsSync(entry)) {
  process.stderr.write("intelmq-control: dist/ is missing, run `npm run build` first\n");
  process.exit(1);
}
await import(pathToFileURL(entry).href);
