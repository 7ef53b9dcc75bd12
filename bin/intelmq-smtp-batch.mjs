#!/usr/bin/env node
// SPDX-License-Identifier: AGPL-3.0-only
// intelmq-smtp-batch: send what an smtp_batch bot kept (see cli/intelmq-smtp-batch.ts).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const entry = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli", "intelmq-smtp-batch.js");
if (!existsSync(entry)) {
  process.stderr.write("intelmq-smtp-batch: dist/ is missing, run `npm run build` first\n");
  process.exit(1);
}
await import(pathToFileURL(entry).href);
