// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The API's files: /config (read-only access below allowed_path, as intelmq-api), runtime.yaml
 * (read, and written only after our schemas accept it) and the Manager's positions.conf.
 */
import { existsSync, lstatSync, readFileSync, readdirSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { parseDocument } from "yaml";
import type { IntelmqPaths } from "../../shared/config/index.js";

/** Files below this size are returned with their contents, larger ones by size and path (intelmq-api's limit). */
const INLINE_MAX = 2000;

/** True when `path` is `dir` or inside it. */
function inside(dir: string, path: string): boolean {
  const r = relative(dir, path);
  return r === "" || (!r.startsWith("..") && !isAbsolute(r));
}

/**
 * The real path of `file` if it lies under `allowed` (after following every symbolic link), else
 * null. A `..` component is refused outright, as is anything missing.
 */
export function allowedFile(allowed: string, file: string): string | null {
  if (file.split(/[\\/]+/).includes("..")) return null;
  const abs = resolve(allowed, file);
  let real: string;
  let root: string;
  try {
    real = realpathSync(abs);
    root = realpathSync(allowed);
  } catch {
    return null;
  }
  return inside(root, real) ? real : null;
}

export type ConfigResult =
  | { kind: "json"; value: { files: Record<string, { contents: string } | { size: number; path: string }>; directory?: string } }
  | { kind: "raw"; data: Buffer };

/** intelmq-api's /config: a file or a folder under `allowed`; null for anything outside it. */
export function loadFileOrDirectory(allowed: string, file: string, fetch: boolean): ConfigResult | null {
  const real = allowedFile(allowed, file);
  if (real === null) return null;
  if (fetch) return statSync(real).isFile() ? { kind: "raw", data: readFileSync(real) } : null;
  const out: { files: Record<string, { contents: string } | { size: number; path: string }>; directory?: string } = { files: {} };
  let list: string[];
  if (statSync(real).isDirectory()) {
    out.directory = real;
    list = readdirSync(real).map((n) => join(real, n));
  } else list = [real];
  const root = realpathSync(allowed);
  for (const p of list) {
    const name = p.slice(p.lastIndexOf(sep) + 1);
    // A link in the folder that leads out of it is not shown.
    let target: string;
    try { target = lstatSync(p).isSymbolicLink() ? realpathSync(p) : p; } catch { continue; }
    if (!inside(root, target)) continue;
    const st = statSync(target);
    if (st.isFile() && st.size < INLINE_MAX) out.files[name] = { contents: readFileSync(target, "utf8") };
    else out.files[name] = { size: st.size, path: target };
  }
  return { kind: "json", value: out };
}

/** runtime.yaml as a plain object (IntelMQ's get_runtime); {} when missing. */
export function readRuntime(paths: IntelmqPaths): Record<string, unknown> {
  if (!existsSync(paths.runtimeConfFile)) return {};
  const doc = parseDocument(readFileSync(paths.runtimeConfFile, "utf8"));
  if (doc.errors.length) throw new Error(`${paths.runtimeConfFile}: ${doc.errors[0]!.message}`);
  const v = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  return v && typeof v === "object" ? (v as Record<string, unknown>) : {};
}

/** The Manager's positions file: <config dir>/manager/positions.conf. */
export function positionsFile(paths: IntelmqPaths): string {
  return join(paths.configDir, "manager", "positions.conf");
}
