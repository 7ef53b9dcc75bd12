// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Writing runtime.yaml back, as intelmqctl enable/disable and the tools that change the
 * configuration do: what did not change keeps its comments and layout, the previous version is
 * kept as <file>.bak, and nothing is written that would not load again.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { CST, Document, isMap, Parser, parseDocument } from "yaml";
import { intelmqPaths } from "./paths.js";
import {
  documentOf, fail, getBot, parseRuntimeConfig, rememberDocument, runtimeConfigFromObject, runtimeConfigToObject, type RuntimeConfig,
} from "./runtime-config.js";

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

// Apply `want` to the document node at `path`, touching only what changed (comments elsewhere survive).
function mergeInto(doc: Document, path: string[], have: unknown, want: unknown): void {
  if (deepEqual(have, want)) return;
  const node = path.length ? doc.getIn(path, true) : doc.contents;
  if (isPlainObject(have) && isPlainObject(want) && isMap(node)) {
    for (const k of Object.keys(have)) if (!(k in want)) doc.deleteIn([...path, k]);
    for (const [k, v] of Object.entries(want)) mergeInto(doc, [...path, k], have[k], v);
    return;
  }
  if (path.length === 0) doc.contents = doc.createNode(want) as typeof doc.contents;
  else doc.setIn(path, doc.createNode(want));
}

/** Where the previous version of runtime.yaml is kept when a tool changes it (IntelMQ's name). */
export function backupFile(file: string): string {
  return `${file}.bak`;
}

// Options that write a document the way runtime.yaml files are usually laid out: `[a, b]` flow
// lists, long plain strings on one line.
const WRITE_OPTIONS = { lineWidth: 0, flowCollectionPadding: false } as const;

/** Replace `path` with `text` (through a temporary file), keeping the previous version as backupFile(path). */
function writeWithBackup(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path)) copyFileSync(path, backupFile(path));
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/**
 * Write the configuration to its file (or `file`), keeping the previous version as `<file>.bak`.
 * A configuration loaded from a file keeps its comments and layout where nothing changed, and
 * keys it did not write (enabled, run_mode at their defaults) stay unwritten.
 */
export function saveRuntimeConfig(config: RuntimeConfig, file?: string): string {
  const path = file ?? config.file ?? intelmqPaths().runtimeConfFile;
  const want = runtimeConfigToObject(config);
  let doc = documentOf(config);
  if (doc) {
    doc = doc.clone();
    const have = (doc.toJS() ?? {}) as Record<string, unknown>;
    if ("global" in have && !("global" in want)) want.global = {};
    for (const [id, entry] of Object.entries(want)) {
      const before = have[id];
      if (id === "global" || !isPlainObject(before) || !isPlainObject(entry)) continue;
      if (!("enabled" in before) && entry.enabled === true) delete entry.enabled;
      if (!("run_mode" in before) && entry.run_mode === "continuous") delete entry.run_mode;
    }
    mergeInto(doc, [], have, want);
  } else {
    doc = new Document(want);
  }
  const textOut = doc.toString(WRITE_OPTIONS);
  // Refuse to write what we could not read back.
  runtimeConfigFromObject(parseDocument(textOut).toJS(), path);
  writeWithBackup(path, textOut);
  rememberDocument(config, doc);
  return path;
}

/** The entries of a block or flow mapping token, or null for anything else. */
function cstMapItems(token: CST.Token | undefined | null): CST.CollectionItem[] | null {
  if (!token) return null;
  if (token.type === "block-map") return token.items;
  if (token.type === "flow-collection" && token.start.source === "{") return token.items;
  return null;
}

/** The item of a CST mapping whose key is the plain or quoted scalar `key`. */
function cstItem(items: CST.CollectionItem[], key: string): CST.CollectionItem | undefined {
  return items.find((it) => it.key && CST.isScalar(it.key) && CST.resolveAsScalar(it.key)?.value === key);
}

/**
 * runtime.yaml's text with `enabled` of one bot set, changing nothing else: when the entry has
 * an `enabled:` key, only its value is replaced (comments, quoting, folding and indentation
 * stay as they are); otherwise the key is added through the yaml Document API.
 */
export function setBotEnabledText(text: string, botId: string, enabled: boolean, file: string | null = null): string {
  const where = file ?? "runtime configuration";
  let out: string | null = null;
  const tokens = [...new Parser().parse(text)];
  const docs = tokens.filter((t): t is CST.Document => t.type === "document");
  if (docs.length === 1) {
    const bot = cstItem(cstMapItems(docs[0]!.value) ?? [], botId);
    const entry = bot ? cstItem(cstMapItems(bot.value) ?? [], "enabled") : undefined;
    if (entry?.value && CST.isScalar(entry.value)) {
      CST.setScalarValue(entry.value, enabled ? "true" : "false");
      out = tokens.map((t) => CST.stringify(t)).join("");
    }
  }
  if (out === null) {
    const doc = parseDocument(text, { uniqueKeys: true });
    if (doc.errors.length) fail(where, `invalid YAML: ${doc.errors[0]!.message}`, doc.errors[0]);
    const node = doc.get(botId, true);
    if (!isMap(node)) fail(where, `bot ${JSON.stringify(botId)} is not configured (no such bot id)`);
    const start = node.range?.[0];
    if (!node.flow && node.items.length > 0 && start !== undefined) {
      // A block mapping: a line of its own before the first key, at that key's indentation.
      const indent = text.slice(text.lastIndexOf("\n", start - 1) + 1, start);
      if (/^ *$/.test(indent)) out = `${text.slice(0, start)}enabled: ${enabled}\n${indent}${text.slice(start)}`;
    }
    if (out === null) {
      doc.setIn([botId, "enabled"], enabled);
      out = doc.toString(WRITE_OPTIONS);
    }
  }
  // The result must load and say what was asked.
  const check = parseRuntimeConfig(out, file);
  if (check.bots[botId]?.enabled !== enabled) fail(where, `bot ${JSON.stringify(botId)}: could not set enabled`);
  return out;
}

/**
 * Set `enabled` of one bot in the configuration's file (IntelMQ's enable/disable), keeping the
 * previous version as `<file>.bak` and everything else of the file as it was; the loaded
 * configuration follows.
 */
export function setBotEnabled(config: RuntimeConfig, botId: string, enabled: boolean): string {
  const bot = getBot(config, botId);
  const path = config.file ?? intelmqPaths().runtimeConfFile;
  const text = existsSync(path) ? readFileSync(path, "utf8") : "";
  const out = setBotEnabledText(text, botId, enabled, path);
  writeWithBackup(path, out);
  bot.enabled = enabled;
  rememberDocument(config, parseDocument(out, { uniqueKeys: true }));
  return path;
}
