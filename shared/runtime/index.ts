// SPDX-License-Identifier: AGPL-3.0-only
// CONTRACT STUB: public entry of the bot runtime. Implementations to be written.
export { BotKind } from "./types.js";
export type {
  BotContext, BotDefinition, EventMeta, CollectorImpl, Emit, ExpertImpl, ImplByKind, Lifecycle, OutputImpl, ParserImpl, Routed, RuntimeParams,
} from "./types.js";
import type { z } from "zod";
import type { BotDefinition, BotKind } from "./types.js";
export { p, collectorParams, parserParams, httpParams } from "./params.js";

/** Declare a bot. The default export of services/<kind>/<name>/index.ts. */
export function defineBot<K extends BotKind, S extends z.ZodType>(def: BotDefinition<K, S>): BotDefinition<K, S> {
  return def;
}
