// SPDX-License-Identifier: AGPL-3.0-only
// IntelMQ's Message (intelmq/lib/message.py): a flat map of dotted keys validated against the
// harmonization, with IntelMQ's add/overwrite/ignore rules and `extra` handling. Event and Report
// are in kinds.ts, the options in types.ts.
import { InvalidArgument, InvalidKey, InvalidValue, KeyExists, KeyNotExists, PythonError } from "../errors/index.js";
import {
  generateDatetimeNow, loadHarmonization, pyEquals, pyJsonDumps,
  type CompiledField, type Harmonization,
} from "../harmonization/index.js";
import type { Report } from "./kinds.js";
import { eventTemplate } from "./template.js";
import { kindLookup } from "./lookup.js";
import { TYPE, hasLength, inIgnore, isIgnored, itemKeys, storageCopy, messageDict, messageFlatJson, messageFlatJsonInto, messageHash, type ByteSink } from "./views.js";
import type { AddOptions, HashOptions, MessageKind, MessageOptions, ToDictOptions } from "./types.js";

let defaultHarmonization: Harmonization | undefined;
/** The default harmonization, loaded once. */
export function getDefaultHarmonization(): Harmonization {
  return (defaultHarmonization ??= loadHarmonization());
}

const hasOwn = Object.hasOwn;

/**
 * A flat IntelMQ message: dotted keys, `extra.*` sub-keys holding any JSON value.
 *
 * The items live in a plain object shaped as on the wire (`__type` first, then the items in the
 * order added): a message taken from an envelope of our own bots adopts the decoded dict as it is,
 * and is sent on as that same object. A Map and a copy each way were most of an expert's
 * allocations per event, and what the young generation had to carry.
 */
export class Message {
  readonly kind: MessageKind;
  readonly harmonization: Harmonization;
  #m: Record<string, unknown>;
  /** Items removed are set undefined, not deleted (a delete turns the object into a slow dictionary): _wire() compacts. */
  #holes = false;
  /** Counts changes after construction: a template made from this message is still valid while it holds. */
  #version = 0;
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
    this.#m = { [TYPE]: kind };
    const h = (this.harmonization = opts?.harmonization ?? getDefaultHarmonization());
    this.#lookup = kindLookup(h, kind);
    if (init instanceof Message) {
      if (kind === "Report" && init.kind === "Event") {
        // IntelMQ's Report(event): the keys a report may hold, unsanitized
        for (const [k, v] of init) if (this.harmonization.field("Report", k)) this.add(k, v, { sanitize: false });
      } else if (kind === "Event" && init.kind === "Report") {
        this.#load(eventTemplate(init as Report, []));
      } else {
        this.#m = storageCopy(kind, init.#m);
      }
    } else if (init) {
      this.#load(init);
    }
    if (kind === "Report" && opts?.autoObservation !== false && this.#own("time.observation") === undefined) {
      this.add("time.observation", generateDatetimeNow(), { sanitize: false });
    }
  }

  /** IntelMQ's construction: every key added unsanitized, retried sanitized. */
  #load(dict: Record<string, unknown>): void {
    this.#source = dict;
    const lookup = this.#lookup, m = this.#m;
    for (const key in dict) {
      if (key === TYPE || !hasOwn(dict, key)) continue;
      const value = dict[key];
      if (hasOwn(m, key)) throw new KeyExists(key);
      if (isIgnored(value)) continue;
      const f = lookup(key);
      if (!f) throw new InvalidKey(key);
      if (f.jsonDict) {
        if (this.add(key, value, { sanitize: false, raiseFailure: false }) === false) this.add(key, value);
        continue;
      }
      if (f.valid(value)) { m[key] = value; continue; }
      const s = f.sanitize(value);
      if (s === null || s === undefined) throw new InvalidValue(key, value, undefined, { object: dict });
      if (!f.valid(s)) throw new InvalidValue(key, s, f.reason(s), { object: dict });
      m[key] = s;
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
    // The decoded dict becomes the storage when it is shaped as one: its own __type first (our
    // encoder's order), no empty values, no key that an object cannot hold as its own.
    let first = true, plain = true;
    for (const key in dict) {
      const v = dict[key];
      if (first ? key !== TYPE || v !== this.kind : key === TYPE || v === null || v === undefined) { plain = false; break; }
      first = false;
    }
    if (plain && !first && !hasOwn(dict, "__proto__")) { this.#m = dict; return; }
    const m = this.#m;
    for (const key in dict) {
      if (key === TYPE || key === "__proto__" || !hasOwn(dict, key)) continue;
      const value = dict[key];
      if (value === null || value === undefined) continue;
      m[key] = value;
    }
  }

  /** The value stored under `key`, undefined when absent (never __type, nothing inherited). */
  #own(key: string): unknown {
    return key === TYPE ? undefined : this.#ownValue(key, this.#m[key]);
  }

  /** #own() of a field's key (not __type), by the field's accessor. */
  #ownBy(f: CompiledField): unknown {
    return this.#ownValue(f.key, f.get(this.#m));
  }

  /** What Object.prototype lends is a function, or the prototype under __proto__: only then ask. */
  #ownValue(key: string, v: unknown): unknown {
    return v === undefined || ((typeof v === "function" || key === "__proto__") && !hasOwn(this.#m, key)) ? undefined : v;
  }

  /** The item keys, in the order added. */
  #keys(): string[] { return itemKeys(this.#m); }

  /** Sets an item: by the field's accessor where it is given (see add()). */
  #set(key: string, value: unknown, f?: CompiledField): void {
    if (f) f.set(this.#m, value);
    else this.#m[key] = value;
    this.#version++;
  }

  #remove(key: string): boolean {
    if (this.#own(key) === undefined) return false;
    this.#m[key] = undefined;
    this.#holes = true;
    this.#version++;
    return true;
  }

  /** @internal Changes since construction (see #version). */
  get _version(): number { return this.#version; }

  #isJsonDictName(key: string): boolean {
    return !key.includes(".") && this.#lookup(key)?.jsonDict === true;
  }

  #hasSubkeys(key: string): boolean {
    const p = key + ".";
    for (const k in this.#m) if (k.startsWith(p) && this.#m[k] !== undefined) return true;
    return false;
  }

  add(key: string, value: unknown, opts?: AddOptions): boolean | null {
    const sanitize = opts?.sanitize ?? true;
    const overwrite = opts?.overwrite ?? null;
    const raiseFailure = opts?.raiseFailure ?? true;
    const f = this.#lookup(key);
    // a field's own accessor where the key is one item (not a JSONDict's sub-keys, not __type)
    const own = f !== undefined && !f.jsonDict && key !== TYPE;
    const present = own ? this.#ownBy(f) !== undefined : this.has(key);
    if (overwrite === null && present) throw new KeyExists(key);
    if (overwrite === false && present) return false;
    if (isIgnored(value)) {
      if (overwrite && present) this.delete(key);
      return null;
    }
    if (key === "__type") return true;
    if (!f) throw new InvalidKey(key);
    if (opts?.ignore !== undefined && opts.ignore !== null && inIgnore(value, opts.ignore)) return null;
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
        this.#set(`${key}.${k}`, x);
      }
    } else {
      this.#set(key, v, own ? f : undefined);
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
    const v = this.#own(key);
    if (v !== undefined) return v;
    if (this.#isJsonDictName(key)) {
      if (!this.#hasSubkeys(key)) return fallback;
      return pyJsonDumps(this.toDict({ hierarchical: true })[key]);
    }
    if (this.#defaultSet && this.#lookup(key)) return this.#defaultValue;
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
    if (this.#own(key) !== undefined) return true;
    return this.#isJsonDictName(key) && this.#hasSubkeys(key);
  }

  delete(key: string): boolean {
    if (this.#remove(key)) return true;
    if (!this.#isJsonDictName(key)) return false;
    const p = key + ".";
    let any = false;
    for (const k of this.#keys()) if (k.startsWith(p) && this.#remove(k)) any = true;
    return any;
  }

  keys(): string[] { return this.#keys(); }
  /** Whether some item passes `test`, in the order added; no array or pair is made. */
  some(test: (key: string, value: unknown) => boolean): boolean {
    const m = this.#m;
    for (const k in m) { const v = m[k]; if (k !== TYPE && v !== undefined && test(k, v)) return true; }
    return false;
  }
  values(): unknown[] { return this.#keys().map((k) => this.#m[k]); }
  entries(): [string, unknown][] { return this.#keys().map((k) => [k, this.#m[k]]); }
  *[Symbol.iterator](): IterableIterator<[string, unknown]> {
    // lazily: a caller that stops at the first item it looks for makes no pair for the others
    const m = this.#m;
    for (const k in m) { const v = m[k]; if (k !== TYPE && v !== undefined) yield [k, v]; }
  }
  get size(): number { return this.#keys().length; }

  /** Whether the value is valid for the key (sanitized first unless sanitize=false); InvalidKey for unknown keys. */
  isValid(key: string, value: unknown, sanitize = true): boolean {
    const f = this.#lookup(key);
    if (!f && key !== "__type") throw new InvalidKey(key);
    if (isIgnored(value)) return false;
    if (!f) return true;
    const v = sanitize ? f.sanitize(value) : value;
    return f.valid(v);
  }

  finditems(prefix: string): [string, unknown][] {
    const out: [string, unknown][] = [];
    for (const k of this.#keys()) if (k.startsWith(prefix)) out.push([k, this.#m[k]]);
    return out;
  }

  /** A shallow copy of the same class and harmonization. */
  copy(): this {
    const c = new (this.constructor as new (i: null, o: MessageOptions) => this)(null, { harmonization: this.harmonization, autoObservation: false });
    c.#m = storageCopy(this.kind, this.#m);
    c.#holes = this.#holes;
    return c;
  }

  /** A copy with nested values copied too (IntelMQ's deep_copy). */
  deepCopy(): this {
    const c = this.copy();
    for (const k of c.#keys()) { const v = c.#m[k]; if (v !== null && typeof v === "object") c.#m[k] = structuredClone(v); }
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
    const keys = this.#keys();
    if (other.#keys().length !== keys.length) return false;
    for (const k of keys) if (other.#own(k) === undefined || !pyEquals(this.#m[k], other.#m[k])) return false;
    return true;
  }

  /** IntelMQ's hash(): SHA-256 hex over sorted items with Python repr of values. */
  hash(opts?: HashOptions): string {
    return messageHash(this.#m, this.#lookup, opts);
  }

  #dict(hierarchical: boolean, withType: boolean, jsondictAsString: boolean, floats: boolean): Record<string, unknown> {
    return messageDict(this.kind, this.#m, this.#lookup, { hierarchical, withType, jsondictAsString, floats });
  }

  toDict(opts?: ToDictOptions): Record<string, unknown> {
    return this.#dict(opts?.hierarchical ?? false, opts?.withType ?? false, opts?.jsondictAsString ?? false, false);
  }

  /** IntelMQ's to_json(): sorted keys, no ASCII escaping, without __type unless withType (ignores jsondictAsString, as IntelMQ). */
  toJson(opts?: ToDictOptions): string {
    if (!opts?.hierarchical) return messageFlatJson(this.kind, this.#m, this.#lookup, opts?.withType ?? false);
    return pyJsonDumps(this.#dict(opts?.hierarchical ?? false, opts?.withType ?? false, false, true), { ensureAscii: false, sortKeys: true });
  }

  /** toJson() (flat, no __type) as bytes into `sink` if it writes as ASCII; else false, nothing written. */
  writeJson(sink: ByteSink): boolean { return messageFlatJsonInto(this.#m, this.#lookup, sink); }

  /** Flat dict with `__type`: what travels between bots. */
  serialize(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const k of this.#keys()) out[k] = this.#m[k];
    out[TYPE] = this.kind;
    return out;
  }

  /**
   * @internal What encodeEnvelope packs: the storage itself (`__type` first), not a copy. The
   * caller only reads it.
   */
  _wire(): Readonly<Record<string, unknown>> {
    if (this.#holes) {
      const m: Record<string, unknown> = { [TYPE]: this.kind };
      for (const k of this.#keys()) m[k] = this.#m[k];
      this.#m = m;
      this.#holes = false;
    }
    return this.#m;
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
