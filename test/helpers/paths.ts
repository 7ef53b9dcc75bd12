// SPDX-License-Identifier: AGPL-3.0-only
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project's root, from a compiled file under dist/ or a source file. */
export const ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!d.endsWith("/dist") && d !== "/") d = dirname(d);
  return d === "/" ? join(dirname(fileURLToPath(import.meta.url)), "..", "..") : dirname(d);
})();

/** A path under the project's root (sources and fixtures, not dist/). */
export function src(...parts: string[]): string {
  return join(ROOT, ...parts);
}
