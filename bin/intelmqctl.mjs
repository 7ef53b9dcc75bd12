#!/usr/bin/env node
// SPDX-License-Identifier: AGPL-3.0-only
// intelmqctl: IntelMQ's control tool over NATS (see cli/intelmqctl.ts).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const entry = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli", "intelmqctl.js");
if (!existsSync(entry)) {
  process.stderr.write("intelmqctl: dist/ is missing, run `npm run build` first\n");
  process.exit(1);
}
const { cli } = await import(pathToFileURL(entry).href);
cli();
