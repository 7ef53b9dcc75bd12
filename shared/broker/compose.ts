// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A broker made of another's parts with some replaced: a dry run that publishes nothing, a
 * queue fed from elsewhere, a test that slows publishing down. Every part not replaced (and the
 * connection: state, close) is the base broker's own.
 */
import type { Archive, Broker, BrokerState, ControlTransport, DumpStore, KvBuckets, LogStore, Queues } from "./types.js";

export interface BrokerParts {
  queues?: Partial<Queues>;
  dumps?: Partial<DumpStore>;
  logs?: Partial<LogStore>;
  archive?: Partial<Archive>;
  kv?: Partial<KvBuckets>;
  control?: Partial<ControlTransport>;
}

/** `base` with the given methods of its parts replaced (the others call through to `base`). */
export function composeBroker(base: Broker, parts: BrokerParts): Broker {
  const part = <T extends object>(own: T, over: Partial<T> | undefined): T => {
    if (!over) return own;
    const out = {} as Record<string, unknown>;
    for (const k of methodNames(own)) out[k] = (...args: unknown[]) => (own as Record<string, (...a: unknown[]) => unknown>)[k]!(...args);
    return Object.assign(out, over) as T;
  };
  return {
    kind: base.kind,
    limits: base.limits,
    queues: part(base.queues, parts.queues),
    dumps: part(base.dumps, parts.dumps),
    logs: part(base.logs, parts.logs),
    archive: part(base.archive, parts.archive),
    kv: part(base.kv, parts.kv),
    control: part(base.control, parts.control),
    get state(): BrokerState { return base.state; },
    onState: (l) => base.onState(l),
    serverInfo: () => base.serverInfo(),
    close: () => base.close(),
  };
}

/** The methods of an object and its prototypes (a class instance's methods live on the prototype). */
function methodNames(o: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = o; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) {
      if (k !== "constructor" && typeof (o as Record<string, unknown>)[k] === "function") names.add(k);
    }
  }
  return [...names];
}
