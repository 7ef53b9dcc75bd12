// SPDX-License-Identifier: AGPL-3.0-only
/** IntelMQ's Message.hash() of a message's storage (see views.ts for the storage). */
import * as nodeCrypto from "node:crypto";
import { InvalidArgument } from "../errors/index.js";
import { pyRepr, type CompiledField } from "../harmonization/index.js";
import type { HashOptions } from "./types.js";
import { sortedKeys } from "./views.js";

type Store = Readonly<Record<string, unknown>>;
type Lookup = (key: string) => CompiledField | undefined;

/** IntelMQ's separator byte between hashed keys and values. */
const SEP_BYTE = 0xc0;
/** The bytes hashed are written here, one message at a time: the buffer is reused, not made per hash. */
let scratch = Buffer.allocUnsafe(16 * 1024);

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
  const plan = hashPlan(m, filter, white, lookup);
  const data = plainHashText(m, plan) ?? hashBytes(m, plan, lookup);
  return oneShotHash ? oneShotHash("sha256", data, "hex") : nodeCrypto.createHash("sha256").update(data).digest("hex");
}

/** Printable ASCII but quotes and backslash: a string of these is its own repr between single quotes. */
const PLAIN_TEXT = /^[\x20\x21\x23-\x26\x28-\x5b\x5d-\x7e]*$/;

/**
 * IntelMQ's bytes where every value is a plain string or an int (most events): the text is built
 * as one string whose characters are its bytes (the separator is U+00C0, byte 0xc0 in Latin-1)
 * and written at once, after one check of all the strings together. Values read from an envelope
 * are slices of its text: a loop over their characters unwrapped the slice at each one. null
 * where another value is met (the bytes are then written one by one).
 */
function plainHashText(m: Store, plan: HashPlan): Uint8Array | null {
  if (!plan.asciiKeys) return null;
  let text = "", strings = "";
  for (let i = 0; i < plan.keys.length; i++) {
    const v = plan.get[i]!(m);
    if (typeof v === "string") {
      text += `${plan.head[i]!}'${v}'\u00c0`;
      strings += v;
    } else if (typeof v === "number" && !plan.float[i] && Number.isSafeInteger(v)) {
      text += `${plan.head[i]!}${v}\u00c0`;
    } else return null;
  }
  if (!PLAIN_TEXT.test(strings)) return null;
  ensureScratch(text.length, 0);
  const n = scratch.write(text, 0, "latin1");
  return scratch.subarray(0, n);
}

/** IntelMQ's bytes, value by value. */
function hashBytes(m: Store, plan: HashPlan, lookup: Lookup): Uint8Array {
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
  return scratch.subarray(0, at);
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

/**
 * The keys hashed, in order, each with its bytes and separator (also as Latin-1 text: `head`),
 * its field's getter (see CompiledField.get) and whether the field's numbers are floats.
 */
interface HashPlan { keys: string[]; bytes: Buffer[]; head: string[]; get: ((m: Store) => unknown)[]; float: boolean[]; asciiKeys: boolean }
let lastPlan: HashPlan = { keys: [], bytes: [], head: [], get: [], float: [], asciiKeys: true };
let planFor: { sorted: readonly string[]; filter: string[]; white: boolean; lookup: Lookup } | null = null;
/** The plan for these keys and filter: made again only when either changed (the filter compared by its keys: a caller's set may change). */
function hashPlan(m: Store, filter: ReadonlySet<string>, white: boolean, lookup: Lookup): HashPlan {
  const sorted = sortedKeys(m);
  if (planFor !== null && planFor.sorted === sorted && planFor.white === white && planFor.lookup === lookup && sameKeys(planFor.filter, filter)) return lastPlan;
  const keys = sorted.filter((k) => k !== "time.observation" && (white ? filter.has(k) : !filter.has(k)));
  lastPlan = {
    keys,
    bytes: keys.map((k) => Buffer.concat([Buffer.from(k, "utf8"), Buffer.from([SEP_BYTE])])),
    head: keys.map((k) => `${k}\u00c0`),
    get: keys.map((k) => lookup(k)?.get ?? ((s: Store) => s[k])),
    float: keys.map((k) => lookup(k)?.float === true),
    asciiKeys: keys.every((k) => /^[\x00-\x7f]*$/.test(k)),
  };
  planFor = { sorted, filter: [...filter], white, lookup };
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
