#!/usr/bin/env node
// SPDX-License-Identifier: AGPL-3.0-only
// intelmq_psql_initdb: the eventdb's CREATE TABLE from harmonization.conf (see cli/intelmq-psql-initdb.ts).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const entry = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli", "intelmq-psql-initdb.js");
if (!existsSync(entry)) {
  process.stderr.write("intelmq_psql_initdb: dist/ is missing, run `npm run build` first\n");
  process.exit(1);
}
await import(pathToFileURL(entry).href);
