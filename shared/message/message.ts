// SPDX-License-Identifier: AGPL-3.0-only
// IntelMQ's Message (intelmq/lib/message.py): a flat map of dotted keys validated against the
// harmonization, with IntelMQ's add/overwrite/ignore rules and `extra` handling. Event and Report
// are in kinds.ts, the options in types.ts.
import { createHash } from "node:crypto";
import { InvalidArgument, InvalidKey, InvalidValue, KeyExists, KeyNotExists, PythonError } from "../errors/index.js";
import {
  generateDatetimeNow, loadHarmonization, PyFloat, pyEquals, pyJsonDumps, pyRepr,
  type CompiledField, type Harmonization,
} from "../harmonization/index.js";
import type { Report } from "./kinds.js";
import { eventTemplate } from "./template.js";
import type { AddOptions, HashOptions, MessageKind, MessageOptions, ToDictOptions } from "./types.js";

let defaultHarmonization: Harmonization | undefined;
/** The default harmonization, loaded once. */
export function getDefaultHarmonization(): Harmonization {
  return (defaultHarmonization ??= loadHarmonization());
}

/** IntelMQ's _IGNORED_VALUES plus None. */
function isIgnored(v: unknown): boolean {
  return v === null || v === undefined || v === "" || v === "-" || v === "N/A";
}

function hasLength(v: unknown): number | null {
  if (typeof v === "string" || Array.isArray(v)) return v.length;
  if (v instanceof Uint8Array) return v.length;
  if (v && typeof v === "object") return Object.keys(v).length;
  return null;
}

/** IntelMQ's separator byte between hashed keys and values. */
const SEP_BYTE = 0xc0;
/** Harmonizations already known to define a kind (checked once, not per message). */
const checked = new WeakMap<Harmonization, Set<MessageKind>>();

/** A flat IntelMQ message: dotted keys, `extra.*` sub-keys holding any JSON value. */
export class Message {
  readonly kind: MessageKind;
  readonly harmonization: Harmonization;
  readonly #m = new Map<string, unknown>();
  /** The dict the message was built from (IntelMQ's `iterable`): InvalidValue.object. */
  #source: Record<string, unknown> = {};
  #defaultSet = false;
  #defaultValue: unknown = undefined;
  readonly #lookup: (key: string) => CompiledField | undefined;

  /** Build from a flat dict without validation of types beyond IntelMQ's constructor rules. */
  constructor(init?: Record<string, unknown> | Message | null, opts?: MessageOptions) {
    const kind = (this.constructor as { KIND?: MessageKind }).KIND;
    if (kind !== "Event" && kind !== "Report") {
      throw new InvalidArgument("__type", "message", ["Event", "Message", "Report"]);
    }
    this.kind = kind;
    const h = (this.harmonization = opts?.harmonization ?? getDefaultHarmonization());
    this.#lookup = h.lookup(kind);
    if (!checked.has(h) || !checked.get(h)!.has(kind)) {
      if (h.fields(kind).size === 0) throw new InvalidArgument("__type", kind.toLowerCase(), ["Event", "Message", "Report"]);
      if (!checked.has(h)) checked.set(h, new Set());
      checked.get(h)!.add(kind);
    }
    if (init instanceof Message) {
      if (kind === "Report" && init.kind === "Event") {
        // IntelMQ's Report(event): the keys a report may hold, unsanitized
        for (const [k, v] of init.#m) if (this.harmonization.field("Report", k)) this.add(k, v, { sanitize: false });
      } else if (kind === "Event" && init.kind === "Report") {
        this.#load(eventTemplate(init as Report, []));
      } else {
        for (const [k, v] of init.#m) this.#m.set(k, v);
      }
    } else if (init) {
      this.#load(init);
    }
    if (kind === "Report" && opts?.autoObservation !== false && !this.#m.has("time.observation")) {
      this.add("time.observation", generateDatetimeNow(), { sanitize: false });
    }
  }

  /** IntelMQ's construction: every key added unsanitized, retried sanitized. */
  #load(dict: Record<string, unknown>): void {
    this.#source = dict;
    const lookup = this.#lookup, m = this.#m;
    for (const key in dict) {
      if (key === "__type") continue;
      const value = dict[key];
      if (m.has(key)) throw new KeyExists(key);
      if (isIgnored(value)) continue;
      const f = lookup(key);
      if (!f) throw new InvalidKey(key);
      if (f.jsonDict) {
        if (this.add(key, value, { sanitize: false, raiseFailure: false }) === false) this.add(key, value);
        continue;
      }
      if (f.valid(value)) { m.set(key, value); continue; }
      const s = f.sanitize(value);
      if (s === null || s === undefined) throw new InvalidValue(key, value, undefined, { object: dict });
      if (!f.valid(s)) throw new InvalidValue(key, s, f.reason(s), { object: dict });
      m.set(key, s);
    }
  }

  /** @internal deserialisation entry used by messageFromDict. */
  static _fromDict<T extends Message>(this: new (i?: null, o?: MessageOptions) => T, dict: Record<string, unknown>, h: Harmonization, trusted = false): T {
    const msg = new this(null, { harmonization: h, autoObservation: false });
    if (trusted) msg.#loadTrusted(dict);
    else msg.#load(dict);
    return msg;
  }

  /**
   * A dict one of our own bots serialized from a Message: every value passed the harmonization
   * then, so it is taken as it is (only the keys are looked at). Validating it again was a third
   * of a hop's work per event.
   */
  #loadTrusted(dict: Record<string, unknown>): void {
    this.#source = dict;
    const m = this.#m;
    for (const key in dict) {
      if (key === "__type") continue;
      const value = dict[key];
      if (value === null || value === undefined) continue;
      m.set(key, value);
    }
  }

  #field(key: string): CompiledField | undefined {
    return this.#lookup(key);
  }

  #isJsonDictName(key: string): boolean {
    if (key.includes(".")) return false;
    const f = this.#field(key);
    return f !== undefined && f.jsonDict;
  }

  #hasSubkeys(key: string): boolean {
    const p = key + ".";
    for (const k of this.#m.keys()) if (k.startsWith(p)) return true;
    return false;
  }

  add(key: string, value: unknown, opts?: AddOptions): boolean | null {
    const sanitize = opts?.sanitize ?? true;
    const overwrite = opts?.overwrite ?? null;
    const raiseFailure = opts?.raiseFailure ?? true;
    const present = this.has(key);
    if (overwrite === null && present) throw new KeyExists(key);
    if (overwrite === false && present) return false;
    if (isIgnored(value)) {
      if (overwrite && present) this.delete(key);
      return null;
    }
    if (key === "__type") return true;
    const f = this.#field(key);
    if (!f) throw new InvalidKey(key);
    const ignore = opts?.ignore;
    if (typeof ignore === "string") {
      // Python's `value in "text"` is a substring test, and a TypeError for non-strings
      if (typeof value !== "string") throw new InvalidArgument("ignore", "str", "list or tuple");
      if ((ignore as string).includes(value)) return null;
    } else if (ignore !== undefined && ignore !== null) {
      if (typeof ignore !== "object" || typeof (ignore as Iterable<unknown>)[Symbol.iterator] !== "function") {
        throw new InvalidArgument("ignore", typeof ignore, "list or tuple");
      }
      for (const x of ignore as Iterable<unknown>) if (pyEquals(value, x)) return null;
    }
    let v = value;
    if (sanitize) {
      v = f.sanitize(value);
      if (v === null || v === undefined) {
        if (raiseFailure) throw new InvalidValue(key, value, undefined, { object: this.#source });
        return false;
      }
    }
    if (!(sanitize ? f.validSanitized(v) : f.valid(v))) {
      if (raiseFailure) throw new InvalidValue(key, v, f.reason(v), { object: this.#source });
      return false;
    }
    if (f.jsonDict) {
      if (overwrite && present) this.delete(key);
      const parsed = JSON.parse(v as string) as Record<string, unknown>;
      for (const k of Object.keys(parsed)) {
        const x = parsed[k];
        // for `extra` empty and ignored values are kept (IntelMQ #1335)
        if (key !== "extra" && (hasLength(x) === 0 || isIgnored(x))) continue;
        this.#m.set(`${key}.${k}`, x);
      }
    } else {
      this.#m.set(key, v);
    }
    return true;
  }

  /** add() with overwrite=true for each item (unsanitized first, then sanitized). */
  update(values: Record<string, unknown> | Message): void {
    const items = values instanceof Message ? values.entries() : Object.entries(values);
    for (const [k, v] of items) {
      if (!this.add(k, v, { sanitize: false, raiseFailure: false, overwrite: true })) this.add(k, v, { overwrite: true });
    }
  }

  /** Overwrite an existing key; KeyNotExists if absent. */
  change(key: string, value: unknown, opts?: { sanitize?: boolean }): boolean | null {
    if (!this.has(key)) throw new KeyNotExists(key);
    return this.add(key, value, { overwrite: true, sanitize: opts?.sanitize ?? true });
  }

  /** The value; `extra` returns nested JSON text of all extra.* keys; `fallback` when absent. */
  get(key: string, fallback?: unknown): unknown {
    const m = this.#m;
    const v = m.get(key);
    if (v !== undefined || m.has(key)) return v;
    if (this.#isJsonDictName(key)) {
      if (!this.#hasSubkeys(key)) return fallback;
      return pyJsonDumps(this.toDict({ hierarchical: true })[key]);
    }
    if (this.#defaultSet && this.#field(key)) return this.#defaultValue;
    return fallback;
  }

  /** IntelMQ's msg[key]: the value, or a KeyError (intelmqName "KeyError") when absent. */
  getItem(key: string): unknown {
    const missing = Symbol("missing");
    const v = this.get(key, missing);
    if (v === missing) {
      if (this.#defaultSet) return this.#defaultValue;
      throw new PythonError("KeyError", `'${key}'`);
    }
    return v;
  }

  /** IntelMQ's set_default_value(): getItem/get of absent keys give this value. */
  setDefaultValue(value: unknown = null): void {
    this.#defaultSet = true;
    this.#defaultValue = value;
  }

  has(key: string): boolean {
    if (this.#m.has(key)) return true;
    return this.#isJsonDictName(key) && this.#hasSubkeys(key);
  }

  delete(key: string): boolean {
    if (this.#m.delete(key)) return true;
    if (!this.#isJsonDictName(key)) return false;
    const p = key + ".";
    let any = false;
    for (const k of [...this.#m.keys()]) if (k.startsWith(p)) { this.#m.delete(k); any = true; }
    return any;
  }

  keys(): string[] { return [...this.#m.keys()]; }
  values(): unknown[] { return [...this.#m.values()]; }
  entries(): [string, unknown][] { return [...this.#m.entries()]; }
  [Symbol.iterator](): IterableIterator<[string, unknown]> { return this.#m.entries(); }
  get size(): number { return this.#m.size; }

  /** Whether the value is valid for the key (sanitized first unless sanitize=false); InvalidKey for unknown keys. */
  isValid(key: string, value: unknown, sanitize = true): boolean {
    const f = this.#field(key);
    if (!f && key !== "__type") throw new InvalidKey(key);
    if (isIgnored(value)) return false;
    if (!f) return true;
    const v = sanitize ? f.sanitize(value) : value;
    return f.valid(v);
  }

  finditems(prefix: string): [string, unknown][] {
    const out: [string, unknown][] = [];
    for (const e of this.#m) if (e[0].startsWith(prefix)) out.push(e);
    return out;
  }

  /** A shallow copy of the same class and harmonization. */
  copy(): this {
    const c = new (this.constructor as new (i: null, o: MessageOptions) => this)(null, { harmonization: this.harmonization, autoObservation: false });
    for (const [k, v] of this.#m) c.#m.set(k, v);
    return c;
  }

  /** A copy with nested values copied too (IntelMQ's deep_copy). */
  deepCopy(): this {
    const c = this.copy();
    for (const [k, v] of c.#m) if (v !== null && typeof v === "object") c.#m.set(k, structuredClone(v));
    return c;
  }

  /** IntelMQ's ==: same class, same harmonization, equal items. */
  equals(other: unknown): boolean {
    if (!(other instanceof Message)) {
      if (other && typeof other === "object") return pyEquals(this.toDict(), other);
      return false;
    }
    if (other.kind !== this.kind || other.constructor !== this.constructor) return false;
    if (other.harmonization !== this.harmonization &&
      JSON.stringify(other.harmonization.table[this.kind.toLowerCase()]) !== JSON.stringify(this.harmonization.table[this.kind.toLowerCase()])) return false;
    if (other.#m.size !== this.#m.size) return false;
    for (const [k, v] of this.#m) if (!other.#m.has(k) || !pyEquals(v, other.#m.get(k))) return false;
    return true;
  }

  /** IntelMQ's hash(): SHA-256 hex over sorted items with Python repr of values. */
  hash(opts?: HashOptions): string {
    const filterType = opts?.filterType ?? "blacklist";
    if (filterType !== "blacklist" && filterType !== "whitelist") {
      throw new InvalidArgument("filter_type", filterType, ["whitelist", "blacklist"]);
    }
    const filter = opts?.filterKeys ? (opts.filterKeys instanceof Set ? opts.filterKeys as Set<string> : new Set(opts.filterKeys)) : new Set<string>();
    const white = filterType === "whitelist";
    // Keys are ASCII (KEY_FORMAT), so the default sort is Python's order. The items are written
    // into one buffer and hashed at once: one update per item cost more than the digest.
    const keys = [...this.#m.keys()].sort();
    const parts: string[] = [];
    let size = 0;
    for (const key of keys) {
      if (key === "time.observation") continue;
      if (white ? !filter.has(key) : filter.has(key)) continue;
      const f = this.#field(key);
      const repr = pyRepr(this.#m.get(key), f !== undefined && f.float);
      parts.push(key, repr);
      size += Buffer.byteLength(key, "utf8") + Buffer.byteLength(repr, "utf8") + 2;
    }
    const buf = Buffer.allocUnsafe(size);
    let at = 0;
    for (const part of parts) {
      at += buf.write(part, at, "utf8");
      buf[at++] = SEP_BYTE;
    }
    return createHash("sha256").update(buf).digest("hex");
  }

  #dict(hierarchical: boolean, withType: boolean, jsondictAsString: boolean, floats: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (withType) out["__type"] = this.kind;
    let jsondicts: Map<string, Record<string, unknown>> | undefined;
    for (const [key, raw] of this.#m) {
      let value = raw;
      if (floats && typeof raw === "number") {
        const f = this.#field(key);
        if (f && f.float) value = new PyFloat(raw);
      }
      const dot = key.indexOf(".");
      if (jsondictAsString && dot > 0 && this.#isJsonDictName(key.slice(0, dot))) {
        const top = key.slice(0, dot);
        jsondicts ??= new Map();
        let d = jsondicts.get(top);
        if (!d) jsondicts.set(top, (d = {}));
        d[key.slice(dot + 1)] = value;
        continue;
      }
      if (!hierarchical || dot < 0) { out[key] = value; continue; }
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

  toDict(opts?: ToDictOptions): Record<string, unknown> {
    return this.#dict(opts?.hierarchical ?? false, opts?.withType ?? false, opts?.jsondictAsString ?? false, false);
  }

  /** IntelMQ's to_json(): sorted keys, no ASCII escaping, without __type unless withType (ignores jsondictAsString, as IntelMQ). */
  toJson(opts?: ToDictOptions): string {
    return pyJsonDumps(this.#dict(opts?.hierarchical ?? false, opts?.withType ?? false, false, true), { ensureAscii: false, sortKeys: true });
  }

  /** Flat dict with `__type`: what travels between bots. */
  serialize(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of this.#m) out[k] = v;
    out["__type"] = this.kind;
    return out;
  }

  /** IntelMQ's serialize(): JSON text with `__type` last, ASCII-escaped (dump files, library mode). */
  serializeJson(): string {
    const d = this.#dict(false, false, false, true);
    d["__type"] = this.kind;
    return pyJsonDumps(d);
  }

  toString(): string {
    return this.serializeJson();
  }
}
