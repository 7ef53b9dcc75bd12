// SPDX-License-Identifier: AGPL-3.0-only
// `npm test`: builds if needed, lints (eslint.config.mjs; an error fails the run), then runs every
// compiled *.test.js with node's test runner. Arguments filter the test files by substring;
// `--no-lint` skips the lint (for quick runs of a few tests while working).
// Files are named explicitly: given a directory, Node 20 would also run helpers and the benchmark.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const built = spawnSync(process.execPath, [join(root, "scripts", "ensure-built.mjs")], { cwd: root, stdio: "inherit" });
if (built.status !== 0) process.exit(built.status ?? 1);

const args = process.argv.slice(2);
const filter = args.filter((a) => a !== "--no-lint");
if (!args.includes("--no-lint")) {
  const lint = spawnSync(process.execPath, [join(root, "node_modules", "eslint", "bin", "eslint.js"), "--max-warnings", "0", "."], { cwd: root, stdio: "inherit" });
  if (lint.status !== 0) {
    process.stderr.write("npm test: the lint failed (npx eslint . shows the same); no tests were run.\n");
    process.exit(lint.status ?? 1);
  }
}
function find(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...find(p));
    // a compiled test whose source was removed or moved is stale, not part of the suite
    else if (e.name.endsWith(".test.js") && existsSync(join(root, relative(join(root, "dist"), p)).replace(/\.js$/, ".ts"))) out.push(relative(root, p));
  }
  return out;
}
// The end-to-end files take the longest (a minute or two each): started first, the short ones
// fill the other slots around them instead of the suite ending on a few of them alone.
const e2e = (f) => f.includes(`${join("test", "e2e")}`) ? 0 : 1;
const files = find(join(root, "dist")).filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort((a, b) => e2e(a) - e2e(b) || (a < b ? -1 : a > b ? 1 : 0));
// A test that hangs (an awaited confirmation that never comes) fails after 5 minutes instead of
// holding the suite; tests that need longer say so themselves.
const r = spawnSync(process.execPath, ["--test", "--test-concurrency=3", "--test-timeout=300000", ...files], { cwd: root, stdio: "inherit" });
process.exit(r.status ?? 1);
