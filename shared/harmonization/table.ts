// SPDX-License-Identifier: AGPL-3.0-only
// The field table of harmonization.conf, compiled once per file into per-key validators.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigurationError, InvalidKey, InvalidValue } from "../errors/index.js";
import { pyLen, pyRegex, pyStr } from "./py.js";
import { isFloatType, types, type HarmonizationType } from "./types.js";

/** One field of harmonization.conf. */
export interface FieldSpec {
  readonly type: string;
  readonly description?: string;
  readonly length?: number;
  readonly regex?: string;
  readonly iregex?: string;
}

/** IntelMQ's key syntax (HARMONIZATION_KEY_FORMAT). */
export const KEY_FORMAT = /^[a-z_][a-z_0-9]+(\.[a-z_0-9]+)*$/;

/** A field compiled for fast checks. `subitem` fields are `<jsondict>.<anything>` keys. */
export interface CompiledField {
  readonly key: string;
  readonly spec: FieldSpec;
  readonly type: HarmonizationType;
  readonly typeName: string;
  /** The value is valid unsanitized: type check plus length/regex/iregex. */
  readonly valid: (v: unknown) => boolean;
  /** valid() for a value this field's sanitize() just returned (a shortcut where that is always valid). */
  readonly validSanitized: (v: unknown) => boolean;
  /** Why valid() failed (IntelMQ's reason text). */
  readonly reason: (v: unknown) => string;
  readonly sanitize: (v: unknown) => unknown;
  /** A JSONDict field itself (`extra`): values are split into sub-keys. */
  readonly jsonDict: boolean;
  /** A sub-key of a JSONDict field (`extra.foo`). */
  readonly subitem: boolean;
  /** Values of this field are Python floats. */
  readonly float: boolean;
  /** A message storage's value under this key (see keyAccess()). */
  readonly get: (m: Record<string, unknown>) => unknown;
  /** Sets a message storage's value under this key. */
  readonly set: (m: Record<string, unknown>, v: unknown) => void;
}

type Getter = CompiledField["get"];
type Setter = CompiledField["set"];

/**
 * Reading and writing one key of a message storage (a plain object with a key per item). One
 * function shared by all keys (`m[key]`) sees every key and every shape of storage: V8 gives it up
 * to its megamorphic cache, where a store cost ~170 instructions. A function of its own per field,
 * with the key written in it, reads and writes as a named property with an inline cache of its
 * own: a parser's events pass it with the same shape every time. Counted on the CSV parser: -8 %
 * instructions per event (shared/runtime/README.md). Where code cannot be made from text (node
 * --disallow-code-generation-from-strings), the shared functions serve.
 */
function keyAccess(key: string): { get: Getter; set: Setter } {
  if (!KEY_FORMAT.test(key)) return sharedAccess(key);
  const quoted = JSON.stringify(key); // KEY_FORMAT leaves no character to escape; quoted all the same
  try {
    // eslint-disable-next-line no-new-func -- the text is a JSON-quoted key that KEY_FORMAT admitted (see above)
    const get = new Function("m", `return m[${quoted}];`) as Getter;
    // eslint-disable-next-line no-new-func -- as above
    const set = new Function("m", "v", `m[${quoted}] = v;`) as Setter;
    return { get, set };
  } catch {
    return sharedAccess(key);
  }
}

/** The one pair of functions for any key: sub-keys of JSONDict fields (any number may come, each would stay compiled), and where keyAccess() cannot make its own. */
function sharedAccess(key: string): { get: Getter; set: Setter } {
  return { get: (m) => m[key], set: (m, v) => { m[key] = v; } };
}

/** The field table of etc/harmonization.conf, compiled for fast validation. */
export interface Harmonization {
  /** The file it came from, if any. */
  readonly path?: string;
  /** The raw table as in the file ({event: {...}, report: {...}}). */
  readonly table: Readonly<Record<string, Readonly<Record<string, FieldSpec>>>>;
  /** The field table of `event` or `report`. */
  fields(kind: "Event" | "Report"): ReadonlyMap<string, FieldSpec>;
  /** The compiled field for a key (sub-keys of JSONDict fields included); undefined for an invalid key. */
  field(kind: "Event" | "Report", key: string): CompiledField | undefined;
  /** field() bound to one kind: the fast path for code that looks up many keys. */
  lookup(kind: "Event" | "Report"): (key: string) => CompiledField | undefined;
  /**
   * Validate (and with sanitize=true, sanitize first) one value for a key of a message kind.
   * Returns the (sanitized) value, or throws InvalidKey / InvalidValue.
   */
  check(kind: "Event" | "Report", key: string, value: unknown, sanitize: boolean): unknown;
}

/**
 * Types whose sanitize() returns a valid value or null (types.test.ts checks it on generated
 * input): Base64 encodes, so what it returns decodes; URL returns only text stripped, without
 * control characters and with a netloc; DateTime only text its ISO formats match.
 */
const SANITIZED_VALID: ReadonlySet<string> = new Set(["Base64", "URL", "DateTime"]);

function compileField(key: string, spec: FieldSpec, subitem: boolean): CompiledField {
  const type = types[spec.type];
  if (!type) throw new ConfigurationError("harmonization", `unknown type ${JSON.stringify(spec.type)} of field ${JSON.stringify(key)}`);
  const float = isFloatType(spec.type);
  // the type's own functions, not closures around them: one call less per item added
  const typeValid: (v: unknown) => boolean = subitem ? () => true : type.valid;
  const length = spec.length;
  const regex = spec.regex !== undefined ? pyRegex(spec.regex) : undefined;
  const iregex = spec.iregex !== undefined ? pyRegex(spec.iregex, true) : undefined;
  const constrained = length !== undefined || regex !== undefined || iregex !== undefined;
  const digitsUnder = length !== undefined ? 10 ** length : Infinity;
  const extraOk = (v: unknown): boolean => {
    // an int's str() is its digits: its length is known without making it (ports)
    if (!float && regex === undefined && iregex === undefined && typeof v === "number" && Number.isSafeInteger(v)) {
      return v >= 0 ? v < digitsUnder : -v * 10 < digitsUnder;
    }
    const s = pyStr(v, float);
    if (length !== undefined && s.length > length && pyLen(s) > length) return false;
    if (regex && !regex.test(s)) return false;
    if (iregex && !iregex.test(s)) return false;
    return true;
  };
  const valid = constrained ? (v: unknown) => typeValid(v) && extraOk(v) : typeValid;
  const reason = (v: unknown): string => {
    if (!typeValid(v)) return "is_valid returned False.";
    const s = pyStr(v, float);
    if (length !== undefined && pyLen(s) > length) return `too long: ${pyLen(s)} > ${length}.`;
    if (regex && !regex.test(s)) return "regex did not match.";
    if (iregex && !iregex.test(s)) return "regex (case insensitive) did not match.";
    return "";
  };
  // Where sanitize() returns only valid values, only emptiness is left to check after it: spares
  // the parsers a scan of every event's raw, URL split and time format.
  const validSanitized = !constrained && !subitem && SANITIZED_VALID.has(spec.type) ? (v: unknown) => typeof v === "string" && v.length > 0 : valid;
  const { get, set } = subitem ? sharedAccess(key) : keyAccess(key);
  return {
    key, spec, type, typeName: spec.type, valid, validSanitized, reason,
    sanitize: subitem ? (v) => v : type.sanitize,
    jsonDict: !subitem && spec.type === "JSONDict", subitem, float, get, set,
  };
}

class Table implements Harmonization {
  readonly #fields = new Map<string, Map<string, FieldSpec>>();
  readonly #compiled = new Map<string, Map<string, CompiledField | null>>();

  constructor(readonly table: Record<string, Record<string, FieldSpec>>, readonly path?: string) {
    for (const [kind, fields] of Object.entries(table)) {
      if (typeof fields !== "object" || fields === null) continue;
      const m = new Map<string, FieldSpec>();
      const c = new Map<string, CompiledField | null>();
      for (const [key, spec] of Object.entries(fields)) {
        if (!KEY_FORMAT.test(key) && key !== "__type") {
          throw new InvalidKey(`Harmonization key '${key}' is invalid.`);
        }
        // IntelMQ's compatibility rule: an `extra` of type JSON is a JSONDict
        const s = kind === "event" && key === "extra" && spec.type === "JSON" ? { ...spec, type: "JSONDict" } : spec;
        m.set(key, s);
        c.set(key, compileField(key, s, false));
      }
      this.#fields.set(kind, m);
      this.#compiled.set(kind, c);
    }
  }

  fields(kind: "Event" | "Report"): ReadonlyMap<string, FieldSpec> {
    return this.#fields.get(kind.toLowerCase()) ?? new Map();
  }

  field(kind: "Event" | "Report", key: string): CompiledField | undefined {
    return this.lookup(kind)(key);
  }

  readonly #lookups = new Map<string, (key: string) => CompiledField | undefined>();
  lookup(kind: "Event" | "Report"): (key: string) => CompiledField | undefined {
    let l = this.#lookups.get(kind);
    if (l) return l;
    const c = this.#compiled.get(String(kind).toLowerCase());
    l = c ? (key: string) => {
      const f = c.get(key);
      return f === undefined ? this.#subitem(c, key) : f ?? undefined;
    } : () => undefined;
    this.#lookups.set(kind, l);
    return l;
  }

  #subitem(c: Map<string, CompiledField | null>, key: string): CompiledField | undefined {
    // sub-keys of JSONDict fields, remembered (also the misses) so repeated keys cost one lookup
    let r: CompiledField | null = null;
    const dot = key.indexOf(".");
    if (dot > 0 && c.size < 100000) {
      const parent = c.get(key.slice(0, dot));
      if (parent && parent.jsonDict && KEY_FORMAT.test(key)) r = compileField(key, parent.spec, true);
    }
    if (c.size < 100000) c.set(key, r);
    return r ?? undefined;
  }

  check(kind: "Event" | "Report", key: string, value: unknown, sanitize: boolean): unknown {
    const f = this.field(kind, key);
    if (!f) throw new InvalidKey(key);
    let v = value;
    if (sanitize) {
      v = f.sanitize(value);
      if (v === null || v === undefined) throw new InvalidValue(key, value);
    }
    if (!(sanitize ? f.validSanitized(v) : f.valid(v))) throw new InvalidValue(key, v, f.reason(v));
    return v;
  }
}

/** A harmonization from an in-memory table ({event: {...}, report: {...}}). */
export function createHarmonization(table: Record<string, Record<string, FieldSpec>>, path?: string): Harmonization {
  return new Table(table, path);
}

const cache = new Map<string, Harmonization>();

/** The default harmonization.conf: $INTELMQ_ROOT_DIR/etc/, else the project's etc/. */
export function defaultHarmonizationPath(): string {
  const root = process.env["INTELMQ_ROOT_DIR"];
  if (root) {
    const p = join(root, "etc", "harmonization.conf");
    if (existsSync(p)) return p;
  }
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const p = join(d, "etc", "harmonization.conf");
    if (existsSync(p) && existsSync(join(d, "package.json"))) return p;
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  throw new ConfigurationError("harmonization", "etc/harmonization.conf not found (set INTELMQ_ROOT_DIR)");
}

/** Load a harmonization.conf (default: $INTELMQ_ROOT_DIR/etc/harmonization.conf, else the project's etc/). Cached per path. */
export function loadHarmonization(file?: string): Harmonization {
  const path = resolve(file ?? defaultHarmonizationPath());
  let h = cache.get(path);
  if (h) return h;
  let table: Record<string, Record<string, FieldSpec>>;
  try {
    table = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ConfigurationError("harmonization", `cannot load ${path}: ${(err as Error).message}`, { cause: err });
  }
  h = new Table(table, path);
  cache.set(path, h);
  return h;
}
