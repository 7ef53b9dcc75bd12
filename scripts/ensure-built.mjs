// SPDX-License-Identifier: AGPL-3.0-only
// Builds dist/ when any TypeScript source is newer than the last build, so `npm test`,
// `npm run process` and `npm run bench` work straight from a fresh clone.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync, utimesSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quiet = process.argv.includes("--quiet");
const stamp = join(root, "dist", ".tsbuildinfo");

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith(".ts") || e.name.endsWith(".json")) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

if (!existsSync(join(root, "node_modules", "typescript"))) {
  const r = spawnSync("npm", ["install", "--no-fund", "--no-audit"], { cwd: root, stdio: quiet ? ["ignore", 2, 2] : "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
const src = Math.max(...["shared", "cli", "services", "test", "scripts"].map((d) => (existsSync(join(root, d)) ? newest(join(root, d)) : 0)), statSync(join(root, "tsconfig.json")).mtimeMs);
if (src > built) {
  const r = spawnSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: quiet ? ["ignore", 2, 2] : "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
  // tsc leaves its build info untouched when nothing it emits changed; mark the build as current.
  if (existsSync(stamp)) utimesSync(stamp, new Date(), new Date());
}
