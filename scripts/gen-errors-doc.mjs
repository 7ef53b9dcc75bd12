// SPDX-License-Identifier: AGPL-3.0-only
// Writes docs/errors.md from the catalogue of error codes (shared/errors/catalogue.ts), so that the
// page follows the code. Reads the compiled catalogue in dist/ (run `npm run build` first).
// `--check` exits 1 when the page is stale.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PAGE = join(root, "docs", "errors.md");

/** A table cell: no line breaks, pipes escaped. */
function cell(text) {
  return String(text).replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|");
}

/** IntelMQ's name(s) of an entry as the page shows them. */
export function intelmqCell(name) {
  if (name === null) return "none";
  return (Array.isArray(name) ? name : [name]).map((n) => `\`${n}\``).join(", ");
}

/** The page for a catalogue. */
export function errorsPage(catalogue) {
  const lines = [
    "# Errors",
    "",
    "<!-- generated from shared/errors/catalogue.ts by scripts/gen-errors-doc.mjs (npm run gen:errors); a test fails when it is stale -->",
    "",
    "Every error of intelmq-nats carries a stable `code`. Match on the code: it survives NATS replies, logs",
    "and dump entries, where `instanceof` does not (`hasCode(err, ErrorCode.BrokerUnavailable)` from",
    "shared/errors). An error's `name` is its class; `intelmqName` is the exception IntelMQ raises for the",
    "same failure. Dumps name that one as IntelMQ's tracebacks do: `intelmq.lib.exceptions.InvalidValue`",
    "for IntelMQ's own exceptions, Python's name (`ValueError`) for the others.",
    "",
    "| code | class | IntelMQ's name | meaning |",
    "|---|---|---|---|",
  ];
  for (const e of catalogue) {
    const cls = e.module ? `\`${e.className}\` (${e.module})` : `\`${e.className}\``;
    lines.push(`| \`${e.code}\` | ${cls} | ${intelmqCell(e.intelmqName)} | ${cell(e.meaning)} |`);
  }
  return lines.join("\n") + "\n";
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = join(root, "dist", "shared", "errors", "index.js");
  if (!existsSync(built)) {
    process.stderr.write("dist/shared/errors/index.js is missing: run npm run build\n");
    process.exit(1);
  }
  const { ERROR_CATALOGUE } = await import(pathToFileURL(built).href);
  const text = errorsPage(ERROR_CATALOGUE);
  const current = existsSync(PAGE) ? readFileSync(PAGE, "utf8") : null;
  if (process.argv.includes("--check")) {
    if (text !== current) {
      process.stderr.write("docs/errors.md is stale: run npm run gen:errors\n");
      process.exit(1);
    }
  } else if (text !== current) {
    mkdirSync(dirname(PAGE), { recursive: true });
    writeFileSync(PAGE, text);
  }
}
