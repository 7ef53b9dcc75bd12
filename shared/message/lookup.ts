// SPDX-License-Identifier: AGPL-3.0-only
/** A harmonization's field lookup for a message kind, with the check that it defines the kind. */
import { InvalidArgument } from "../errors/index.js";
import type { CompiledField, Harmonization } from "../harmonization/index.js";
import type { MessageKind } from "./types.js";

type Lookup = (key: string) => CompiledField | undefined;

/** Harmonizations known to define a kind (checked once, not per message), with its lookup. */
const checked = new WeakMap<Harmonization, Map<MessageKind, Lookup>>();
/** The last answer: most messages are made with the harmonization and kind of the one before. */
let last: { h: Harmonization; kind: MessageKind; lookup: Lookup } | null = null;

/** h.lookup(kind); InvalidArgument (IntelMQ's __type error) where the harmonization has no such kind. */
export function kindLookup(h: Harmonization, kind: MessageKind): Lookup {
  if (last !== null && last.h === h && last.kind === kind) return last.lookup;
  let kinds = checked.get(h);
  let lookup = kinds?.get(kind);
  if (lookup === undefined) {
    if (h.fields(kind).size === 0) throw new InvalidArgument("__type", kind.toLowerCase(), ["Event", "Message", "Report"]);
    lookup = h.lookup(kind);
    if (!kinds) checked.set(h, (kinds = new Map()));
    kinds.set(kind, lookup);
  }
  last = { h, kind, lookup };
  return lookup;
}
