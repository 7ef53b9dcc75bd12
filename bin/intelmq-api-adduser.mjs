#!/usr/bin/env node
// SPDX-License-Identifier: AGPL-3.0-only
// intelmq-api-adduser: see services/api/adduser.ts.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const entry = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "services", "api", "adduser.js");
if (!existsSync(entry)) {
  process.stderr.write("intelmq-api-adduser: dist/ is missing, run `npm run build` first\n");
  process.exit(1);
}
await import(pathToFileURL(entry).href);
