// SPDX-License-Identifier: AGPL-3.0-only
/** Message's helpers: IntelMQ's value rules of add(), and hash() and to_dict()/to_json() of its storage. */
import * as nodeCrypto from "node:crypto";
import { InvalidArgument } from "../errors/index.js";
import { PyFloat, pyCompare, pyEquals, pyJsonDumps, pyJsonStr, pyRepr, type CompiledField } from "../harmonization/index.js";
import type { HashOptions, MessageKind } from "./types.js";

type Store = Readonly<Record<string, unknown>>;
type Lookup = (key: string) => CompiledField | undefined;

/** The storage's own entry naming the kind (see Message): on the wire, never an item. */
export const TYPE = "__type";

/** The item keys of a storage, in the order added: not __type, not the removed (undefined) ones. */
export function itemKeys(m: Store): string[] {
  const keys: string[] = [];
  for (const k in m) if (k !== TYPE && m[k] !== undefined) keys.push(k);
  return keys;
}

/**
 * A storage's copy, built key by key from a fresh { __type } as Message's #load() builds one: a
 * spread copy takes another hidden class, on which the keys added afterwards were several times
 * slower to store and read (a parser's events are copies of the report's first event).
 */
export function storageCopy(kind: MessageKind, src: Record<string, unknown>): Record<string, unknown> {
  const m: Record<string, unknown> = { [TYPE]: kind };
  for (const k in src) if (k !== TYPE) m[k] = src[k];
  return m;
}

/** IntelMQ's separator byte between hashed keys and values. */
const SEP_BYTE = 0xc0;
/** The bytes hashed are written here, one message at a time: the buffer is reused, not made per hash. */
let scratch = Buffer.allocUnsafe(16 * 1024);

/** IntelMQ's _IGNORED_VALUES plus None. */
export function isIgnored(v: unknown): boolean {
  return v === null || v === undefined || v === "" || v === "-" || v === "N/A";
}

/** Python's len(), null for values without one. */
export function hasLength(v: unknown): number | null {
  if (typeof v === "string" || Array.isArray(v)) return v.length;
  if (v instanceof Uint8Array) return v.length;
  if (v && typeof v === "object") return Object.keys(v).length;
  return null;
}

/** add()'s `ignore`: whether the value is in it (a list or tuple; a text is searched as Python's `in`). */
export function inIgnore(value: unknown, ignore: unknown): boolean {
  if (typeof ignore === "string") {
    // Python's `value in "text"` is a substring test, and a TypeError for non-strings
    if (typeof value !== "string") throw new InvalidArgument("ignore", "str", "list or tuple");
    return ignore.includes(value);
  }
  if (typeof ignore !== "object" || typeof (ignore as Iterable<unknown>)[Symbol.iterator] !== "function") {
    throw new InvalidArgument("ignore", typeof ignore, "list or tuple");
  }
  for (const x of ignore as Iterable<unknown>) if (pyEquals(value, x)) return true;
  return false;
}

/**
 * crypto.hash() (Node 20.12 and later; not in our type declarations yet) hashes without a Hash
 * object: half the cost of createHash() for an event's few hundred bytes.
 */
const oneShotHash = (nodeCrypto as unknown as { hash?: (algorithm: string, data: Uint8Array, encoding: "hex") => string }).hash;

/** IntelMQ's hash(): SHA-256 hex over the sorted items (but time.observation), values as Python repr. */
export function messageHash(m: Store, lookup: Lookup, opts?: HashOptions): string {
  const filterType = opts?.filterType ?? "blacklist";
  if (filterType !== "blacklist" && filterType !== "whitelist") {
    throw new InvalidArgument("filter_type", filterType, ["whitelist", "blacklist"]);
  }
  const filter = opts?.filterKeys ? (opts.filterKeys instanceof Set ? opts.filterKeys as Set<string> : new Set(opts.filterKeys)) : new Set<string>();
  const white = filterType === "whitelist";
  // IntelMQ's bytes: key and repr, each followed by 0xc0 (no UTF-8 text holds it), in one
  // reused buffer hashed at once. A key and its separator are copied from bytes kept with the
  // sorted keys; ASCII values byte by byte, a plain string's repr as its quotes around it: a
  // native write per value, or a repr string per value, cost more than the hash.
  const plan = hashPlan(m, filter, white);
  let at = 0;
  for (let i = 0; i < plan.keys.length; i++) {
    const key = plan.keys[i]!;
    const kb = plan.bytes[i]!;
    ensureScratch(at + kb.length, at);
    scratch.set(kb, at);
    at += kb.length;
    const v = m[key];
    const quoted = typeof v === "string" ? putQuoted(v, at) : -1;
    if (quoted >= 0) at = quoted;
    else {
      const f = lookup(key);
      const float = f !== undefined && f.float;
      // an int's repr is its digits: written as such, no string (ports, ASNs)
      at = !float && Number.isSafeInteger(v) ? putInt(v as number, at) : putText(pyRepr(v, float), at);
    }
    // each writer above left room for it
    scratch[at++] = SEP_BYTE;
  }
  const data = scratch.subarray(0, at);
  return oneShotHash ? oneShotHash("sha256", data, "hex") : nodeCrypto.createHash("sha256").update(data).digest("hex");
}

/** `s` as UTF-8 at `at` (room for a separator after it made); the end. */
function putText(s: string, at: number): number {
  ensureScratch(at + s.length * 3 + 1, at);
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return at - i + scratch.write(s, at - i, "utf8");
    scratch[at++] = c;
  }
  return at;
}

/** A safe integer's decimal digits at `at` (-0 as 0, as Python has no negative zero); the end. */
function putInt(v: number, at: number): number {
  ensureScratch(at + 18, at);
  if (v < 0) {
    scratch[at++] = 0x2d;
    v = -v;
  }
  let digits = 1;
  for (let n = v; n >= 10; n = Math.floor(n / 10)) digits++;
  for (let i = at + digits - 1; i >= at; i--) {
    scratch[i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  return at + digits;
}

/**
 * Python's repr of a string of printable ASCII without quotes or backslashes (`'text'`) at
 * `at`; -1 for any other string (its repr is pyReprStr's).
 */
function putQuoted(s: string, at: number): number {
  ensureScratch(at + s.length + 3, at);
  scratch[at++] = 0x27;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x27 || c === 0x22 || c === 0x5c) return -1;
    scratch[at++] = c;
  }
  scratch[at++] = 0x27;
  return at;
}

let lastKeys: readonly string[] = [];
let lastSorted: readonly string[] = [];
/**
 * The item keys in Python's order (keys are ASCII, KEY_FORMAT, so the default sort is it). The
 * events of an envelope mostly have the same keys in the same order: the last sort is reused.
 */
function sortedKeys(m: Store): readonly string[] {
  // compared in place: no array of keys is made when they are the last ones again
  let i = 0;
  let same = true;
  for (const k in m) {
    if (k === TYPE || m[k] === undefined) continue;
    if (i >= lastKeys.length || lastKeys[i] !== k) { same = false; break; }
    i++;
  }
  if (same && i === lastKeys.length) return lastSorted;
  const keys = itemKeys(m);
  lastKeys = keys;
  lastSorted = [...keys].sort();
  return lastSorted;
}

/** The keys hashed, in order, each with its bytes and separator. */
interface HashPlan { keys: string[]; bytes: Buffer[] }
let lastPlan: HashPlan = { keys: [], bytes: [] };
let planFor: { sorted: readonly string[]; filter: string[]; white: boolean } | null = null;
/** The plan for these keys and filter: made again only when either changed (the filter compared by its keys: a caller's set may change). */
function hashPlan(m: Store, filter: ReadonlySet<string>, white: boolean): HashPlan {
  const sorted = sortedKeys(m);
  if (planFor !== null && planFor.sorted === sorted && planFor.white === white && sameKeys(planFor.filter, filter)) return lastPlan;
  const keys = sorted.filter((k) => k !== "time.observation" && (white ? filter.has(k) : !filter.has(k)));
  lastPlan = { keys, bytes: keys.map((k) => Buffer.concat([Buffer.from(k, "utf8"), Buffer.from([SEP_BYTE])])) };
  planFor = { sorted, filter: [...filter], white };
  return lastPlan;
}

function sameKeys(keys: readonly string[], set: ReadonlySet<string>): boolean {
  if (keys.length !== set.size) return false;
  for (const k of keys) if (!set.has(k)) return false;
  return true;
}

/** Room for `need` bytes, the first `keep` of them kept. */
function ensureScratch(need: number, keep: number): void {
  if (need <= scratch.length) return;
  const grown = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
  scratch.copy(grown, 0, 0, keep);
  scratch = grown;
}

/**
 * The items as a dict: flat or nested at the dots (hierarchical), with __type, with each JSON-dict
 * field (extra) as its JSON text, with float fields as PyFloat (for Python's JSON of them).
 */
export function messageDict(
  kind: MessageKind, m: Store, lookup: Lookup,
  o: { hierarchical: boolean; withType: boolean; jsondictAsString: boolean; floats: boolean },
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o.withType) out[TYPE] = kind;
  let jsondicts: Map<string, Record<string, unknown>> | undefined;
  for (const key in m) {
    const raw = m[key];
    if (key === TYPE || raw === undefined) continue;
    let value = raw;
    if (o.floats && typeof raw === "number") {
      const f = lookup(key);
      if (f && f.float) value = new PyFloat(raw);
    }
    const dot = key.indexOf(".");
    if (o.jsondictAsString && dot > 0 && lookup(key.slice(0, dot))?.jsonDict === true) {
      const top = key.slice(0, dot);
      jsondicts ??= new Map();
      let d = jsondicts.get(top);
      if (!d) jsondicts.set(top, (d = {}));
      d[key.slice(dot + 1)] = value;
      continue;
    }
    if (!o.hierarchical || dot < 0) { out[key] = value; continue; }
    const parts = key.split(".");
    let node = out;
    for (let i = 0; i < parts.length - 1; i++) {
      const p = parts[i]!;
      let next = node[p];
      if (next === null || typeof next !== "object" || Array.isArray(next) || next instanceof PyFloat) {
        next = {};
        node[p] = next;
      }
      node = next as Record<string, unknown>;
    }
    node[parts[parts.length - 1]!] = value;
  }
  if (jsondicts) for (const [k, d] of jsondicts) out[k] = pyJsonDumps(d, { ensureAscii: false });
  return out;
}

const SURROGATE = /[\ud800-\udfff]/;

/**
 * to_json() of the flat shape (no hierarchy: what outputs write by default) straight from the
 * storage: sorted keys, Python's separators, floats as Python writes them, no dict in between.
 */
export function messageFlatJson(kind: MessageKind, m: Store, lookup: Lookup, withType: boolean): string {
  const keys = itemKeys(m);
  if (withType) keys.push(TYPE);
  keys.sort(keys.some((k) => SURROGATE.test(k)) ? pyCompare : undefined);
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = k === TYPE ? kind : m[k];
    if (i > 0) out += ", ";
    out += pyJsonStr(k, false) + ": ";
    if (typeof v === "string") out += pyJsonStr(v, false);
    else if (typeof v === "number" && lookup(k)?.float === true) out += pyJsonDumps(new PyFloat(v));
    else out += pyJsonDumps(v, { ensureAscii: false, sortKeys: true });
  }
  return out + "}";
}

/** Bytes appended at the end of one buffer, grown as needed: an output's pending lines. */
export class ByteSink {
  #buf: Buffer;
  #len = 0;
  constructor(size = 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(size);
  }

  get length(): number {
    return this.#len;
  }

  /** Drop what was written after `length` (a write given up on). */
  truncate(length: number): void {
    this.#len = Math.min(length, this.#len);
  }

  /** `s` as UTF-8 (lone surrogates become U+FFFD: callers check first). */
  text(s: string): void {
    this.#room(s.length * 3);
    this.#len += this.#buf.write(s, this.#len, "utf8");
  }

  /**
   * `s` when it is printable ASCII without `"` or `\`, quoted as JSON when `quote`; false (and
   * nothing written) otherwise. Byte by byte: a native write per short piece costs more.
   */
  ascii(s: string, quote: boolean): boolean {
    const n = s.length;
    this.#room(n + 2);
    const b = this.#buf;
    let at = this.#len;
    if (quote) b[at++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
      b[at++] = c;
    }
    if (quote) b[at++] = 0x22;
    this.#len = at;
    return true;
  }

  /** One byte (a newline). */
  byte(c: number): void {
    this.#room(1);
    this.#buf[this.#len++] = c;
  }

  bytes(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#len + n, this.#buf.length * 2));
    this.#buf.copy(grown, 0, 0, this.#len);
    this.#buf = grown;
  }
}

/**
 * messageFlatJson() (without __type) written into `sink` as bytes, for a message whose keys and
 * values write as ASCII: false, with nothing left in the sink, for any other (the caller then
 * takes the text and its encoding rules). No string is made for a plain value.
 */
export function messageFlatJsonInto(m: Store, lookup: Lookup, sink: ByteSink): boolean {
  const start = sink.length;
  const keys = sortedKeys(m);
  let ok = sink.ascii("{", false);
  for (let i = 0; ok && i < keys.length; i++) {
    const k = keys[i]!;
    const v = m[k];
    if (i > 0) sink.ascii(", ", false);
    ok = sink.ascii(k, true) && sink.ascii(": ", false);
    if (!ok) break;
    if (typeof v === "string") ok = sink.ascii(v, true) || asciiText(sink, pyJsonStr(v, false));
    else if (typeof v === "number" && lookup(k)?.float === true) ok = asciiText(sink, pyJsonDumps(new PyFloat(v)));
    else ok = asciiText(sink, pyJsonDumps(v, { ensureAscii: false, sortKeys: true }));
  }
  if (ok) ok = sink.ascii("}", false);
  if (!ok) sink.truncate(start);
  return ok;
}

/** JSON text known to be JSON (escapes done) into the sink when it is ASCII. */
function asciiText(sink: ByteSink, json: string): boolean {
  for (let i = 0; i < json.length; i++) if (json.charCodeAt(i) > 0x7e) return false;
  sink.text(json);
  return true;
}
