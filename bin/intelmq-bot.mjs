#!/usr/bin/env node
// SPDX-License-Identifier: AGPL-3.0-only
// intelmq-bot <bot-id>: runs one bot of runtime.yaml (see cli/intelmq-bot.ts).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const entry = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli", "intelmq-bot.js");
if (!existsSync(entry)) {
  process.stderr.write("intelmq-bot: dist/ is missing, run `npm run build` first\n");
  process.exit(1);
}
// The bot's V8 settings where it was started without them, before its modules load (this one
// file of dist/ first: loading the rest grows the young generation).
const { holdBotHeapFor } = await import(pathToFileURL(join(dirname(entry), "..", "shared", "config", "heap.js")).href);
holdBotHeapFor(process.argv[2]);
await import(pathToFileURL(entry).href);
