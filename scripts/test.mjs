// SPDX-License-Identifier: AGPL-3.0-only
// `npm test`: builds if needed, lints (eslint.config.mjs; an error fails the run), then runs every
// compiled *.test.js with node's test runner. Arguments filter the test files by substring;
// `--no-lint` skips the lint (for quick runs of a few tests while working).
// Files are named explicitly: given a directory, Node 20 would also run helpers and the benchmark.
import { spawnSync } from "node:child_process";
import { run } from "node:test";
import * as reporters from "node:test/reporters";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
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
// The longest files start first (longest first, then the other end-to-end files, then the rest):
// the short ones fill the other slots around them instead of the suite ending on a few long
// ones alone while the machine idles. `node --test` sorts the files it is given by name, so the
// suite runs through run(), which keeps this order. LONGEST: the files that took 35 s or more.
const LONGEST = [
  "test/e2e/intelmqctl", "test/e2e/pipeline", "test/e2e/faults-broker.", "test/e2e/nats-cluster", "test/e2e/sql-output",
  "test/e2e/faults-messages", "test/e2e/faults-output", "services/outputs/redis/", "test/e2e/faults-broker-crash",
  "test/e2e/secrets", "test/e2e/smtp-output", "test/e2e/npm-start",
].map((f) => f.split("/").join(sep));
const rank = (f) => {
  const i = LONGEST.findIndex((l) => f.includes(l));
  return i >= 0 ? i : f.includes(join("test", "e2e")) ? LONGEST.length : LONGEST.length + 1;
};
const files = find(join(root, "dist")).filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
// A renamed file would only lose its place: say so, so that the list is mended.
if (filter.length === 0) {
  for (const l of LONGEST) if (!files.some((f) => f.includes(l))) process.stderr.write(`npm test: ${l} (scripts/test.mjs, LONGEST) names no test file\n`);
}
// Four files at a time on two cores: most of the end-to-end files wait (for a server that is
// down on purpose, a restarted bot, a batch timer), and with three the cores idled a third of
// the run. A file that hangs (an awaited confirmation that never comes) fails after 10 minutes
// instead of holding the suite (run() times whole files; the longest takes about two minutes).
process.chdir(root);
let failed = false;
const stream = run({ files: files.map((f) => join(root, f)), concurrency: 4, timeout: 600_000 });
stream.on("test:fail", () => { failed = true; });
stream.on("end", () => { process.exitCode = failed ? 1 : 0; });
stream.compose(process.stdout.isTTY ? new reporters.spec() : reporters.tap).pipe(process.stdout);
