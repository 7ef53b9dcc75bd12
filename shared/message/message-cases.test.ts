// SPDX-License-Identifier: AGPL-3.0-only
// Replays IntelMQ's own message tests (recorded as operations with their results) against our Message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { src } from "../../test/helpers/paths.js";
import { createHarmonization, fromPyData, type Harmonization } from "../harmonization/index.js";
import { Event, Message, Report, messageFromDict } from "./index.js";

interface Op {
  obj: number | null; obj_type: string; op: string; args: Record<string, unknown>;
  result?: unknown; result_state?: Record<string, unknown>; raises?: { type: string; message: string };
  state_after?: Record<string, unknown>; volatile?: Record<string, string[]>;
}
interface Case { test: string; ops: Op[] }

const cases: Case[] = readFileSync(src("shared/message/fixtures/intelmq-message-cases.jsonl"), "utf8")
  .split("\n").filter(Boolean).map((l) => JSON.parse(l));

function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o["__pytype__"] === "float") return Number(o["repr"]);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) out[k] = canon(o[k]);
    return out;
  }
  return v;
}

function strip(v: unknown, vol: Set<string>, prefix: string): unknown {
  if (!v || typeof v !== "object" || Array.isArray(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (!vol.has(`${prefix}.${k}`)) out[k] = x;
  return out;
}

function harm(v: unknown): Harmonization | undefined {
  if (!v || typeof v !== "object") return undefined;
  const o = v as Record<string, unknown>;
  if (o["__pytype__"] === "harmonization") return undefined;
  return createHarmonization(o as never);
}

function run(c: Case): void {
  const objs: Message[] = [];
  const resolve = (v: unknown): unknown => {
    if (v && typeof v === "object" && "__message__" in (v as object)) return objs[(v as { __message__: number }).__message__];
    return fromPyData(v);
  };
  for (const [i, op] of c.ops.entries()) {
    const vol = new Set(Object.values(op.volatile ?? {}).flat());
    const a = op.args;
    const self = op.obj === null ? undefined : objs[op.obj];
    const where = `${c.test} op#${i} ${op.obj_type}.${op.op}(${JSON.stringify(a)})`;
    let result: unknown;
    let made: Message | undefined;
    const exec = (): unknown => {
      switch (op.op) {
        case "__init__": {
          const h = harm(a["harmonization"]);
          let init = resolve(a["message"]);
          if (Array.isArray(init)) init = Object.fromEntries(init as [string, unknown][]);
          const opts = { harmonization: h, autoObservation: !a["auto"] };
          made = op.obj_type === "Event" ? new Event(init as never, opts) : new Report(init as never, opts);
          objs[op.obj!] = made;
          return null;
        }
        case "add": return self!.add(a["key"] as string, resolve(a["value"]), {
          sanitize: a["sanitize"] as boolean | undefined, overwrite: a["overwrite"] as boolean | null | undefined,
          ignore: resolve(a["ignore"]) as unknown[] | undefined, raiseFailure: a["raise_failure"] as boolean | undefined,
        });
        case "__setitem__": self!.add(a["key"] as string, resolve(a["value"])); return null;
        case "__getitem__": return self!.getItem(a["key"] as string);
        case "get": return self!.get(a["key"] as string, null);
        case "__contains__": return self!.has(a["item"] as string);
        case "__delitem__": if (!self!.delete(a["item"] as string)) throw Object.assign(new Error("KeyError"), { intelmqName: "KeyError" }); return null;
        case "change": return self!.change(a["key"] as string, resolve(a["value"]), { sanitize: a["sanitize"] as boolean | undefined });
        case "update": self!.update(resolve(a["other"]) as Record<string, unknown>); return null;
        case "hash": return self!.hash({ filterKeys: resolve(a["filter_keys"]) as string[] | undefined, filterType: a["filter_type"] as "blacklist" | undefined });
        case "is_valid": return self!.isValid(a["key"] as string, resolve(a["value"]), a["sanitize"] as boolean | undefined);
        case "serialize": return (op.obj_type === "MessageFactory" ? (resolve(a["message"]) as Message) : self!).serializeJson();
        case "to_dict": return self!.toDict({ hierarchical: a["hierarchical"] as boolean, jsondictAsString: a["jsondict_as_string"] as boolean });
        case "to_json": return self!.toJson({ hierarchical: a["hierarchical"] as boolean });
        case "finditems": return self!.finditems(a["keyword"] as string);
        case "set_default_value": self!.setDefaultValue(resolve(a["value"])); return null;
        case "__eq__": return self!.equals(resolve(a["other"]));
        case "copy": made = self!.copy(); return made;
        case "deep_copy": made = self!.deepCopy(); return made;
        case "unserialize": made = messageFromDict(JSON.parse(a["raw_message"] as string), { harmonization: harm(a["harmonization"]) }); return made;
        case "from_dict": made = messageFromDict(resolve(a["message"]) as Record<string, unknown>, { harmonization: harm(a["harmonization"]) }); return made;
        default: throw new Error(`unknown op ${op.op}`);
      }
    };
    if (op.raises) {
      assert.throws(exec, (e: { intelmqName?: string }) => {
        assert.equal(e.intelmqName, op.raises!.type, where);
        return true;
      }, where);
    } else {
      result = exec();
      if (made && op.result && typeof op.result === "object" && "__message__" in op.result) {
        objs[(op.result as { __message__: number }).__message__] = made;
        assert.equal(made.kind, (op.result as unknown as { __type: string }).__type, where);
        if (op.result_state) assert.deepEqual(canon(strip(made.serialize(), vol, "result_state")), canon(strip(op.result_state, vol, "result_state")), where);
      } else if (op.op === "finditems") {
        // a generator IntelMQ did not consume: nothing to compare
      } else if (op.op !== "__init__" && op.op !== "__setitem__" && op.op !== "copy" && op.op !== "deep_copy") {
        assert.deepEqual(canon(strip(result, vol, "result")), canon(strip(op.result ?? null, vol, "result")), where);
      }
    }
    const target = op.obj === null ? undefined : objs[op.obj];
    if (op.state_after && target) {
      assert.deepEqual(canon(strip(target.serialize(), vol, "state_after")), canon(strip(op.state_after, vol, "state_after")), where);
    }
  }
}

test("IntelMQ's message cases", async (t) => {
  assert.ok(cases.length >= 90);
  for (const c of cases) await t.test(c.test.split("::").slice(1).join("::"), () => run(c));
});
