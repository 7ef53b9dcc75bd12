// SPDX-License-Identifier: AGPL-3.0-only
/**
 * MongoDB output: inserts each event as a document (IntelMQ's intelmq.bots.outputs.mongodb.output).
 * An input's documents go in one unordered insertMany, each with an _id made from the input's key
 * and its position: documents sent again (a retry, a redelivery) are refused as duplicate keys and
 * that refusal is taken as success, so each event is stored once.
 */
import { createHash } from "node:crypto";
import { MongoBulkWriteError, MongoClient, type Collection, type Document } from "mongodb";
import { ConfigurationError, defineBot, p, z, type BotContext, type Event, type InputRef, type OutputImpl } from "../../../shared/sdk/index.js";

export const params = z.object({
  host: z.string().default("localhost").describe("Host of the MongoDB server"),
  port: p.int().default(27017).describe("Port"),
  database: z.string().nullable().default(null).describe("Database (required)"),
  collection: z.string().nullable().default(null).describe("Collection (required)"),
  db_user: z.string().nullable().default(null).describe("User (used with db_pass)"),
  db_pass: p.secret(z.string().nullable().default(null).describe("Password")),
  hierarchical_output: p.bool().default(false).describe("Nested documents; time.source and time.observation as dates"),
  replacement_char: z.string().default("_").describe("Replaces the dots of keys in flat documents"),
}).strict();

export type Params = z.infer<typeof params>;

const DUPLICATE_KEY = 11000;

function toDate(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const d = new Date(v); // harmonized times are ISO 8601 with their offset
  return Number.isNaN(d.getTime()) ? v : d;
}

export function documentOf(event: Event, prm: Params): Document {
  if (prm.hierarchical_output) {
    const d = event.toDict({ hierarchical: true });
    const time = d.time as Record<string, unknown> | undefined;
    if (time && typeof time === "object") {
      if ("observation" in time) time.observation = toDate(time.observation);
      if ("source" in time) time.source = toDate(time.source);
    }
    return d;
  }
  const d: Document = {};
  for (const [k, v] of Object.entries(event.toDict())) d[k.replaceAll(".", prm.replacement_char)] = v;
  const obs = `time${prm.replacement_char}observation`;
  if (obs in d) d[obs] = toDate(d[obs]);
  // IntelMQ's flat branch never converts time.source (its key is misspelt there): it stays text.
  return d;
}

async function create(prm: Params, ctx: BotContext): Promise<OutputImpl> {
  if (prm.replacement_char === ".") throw new ConfigurationError("replacement_char", "should be different than .");
  if (!prm.database) throw new ConfigurationError("database", "is not set");
  if (!prm.collection) throw new ConfigurationError("collection", "is not set");
  const auth = prm.db_user && prm.db_pass ? { username: prm.db_user, password: prm.db_pass } : undefined;
  const client = new MongoClient(`mongodb://${prm.host.includes(":") ? `[${prm.host}]` : prm.host}:${prm.port}/`, {
    auth, authSource: auth ? prm.database : undefined, serverSelectionTimeoutMS: 10_000, directConnection: true,
  });
  try {
    await client.connect();
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
  ctx.log.info("Successfully connected to MongoDB server.");
  const coll: Collection = client.db(prm.database).collection(prm.collection);
  let pending: Document[] = [];
  return {
    export(event: Event) { pending.push(documentOf(event, prm)); },
    async flush(input: InputRef) {
      pending.forEach((d, i) => { d._id ??= createHash("sha256").update(`${input.key}\n${i}`).digest("hex").slice(0, 32); });
      try {
        await coll.insertMany(pending, { ordered: false });
      } catch (err) {
        const dupOnly = err instanceof MongoBulkWriteError && Array.isArray(err.writeErrors) && err.writeErrors.length > 0
          && err.writeErrors.every((w) => w.code === DUPLICATE_KEY);
        if (!dupOnly) throw err;
        ctx.log.info(`${(err.writeErrors as unknown[]).length} document(s) of ${input.key} were stored before; not stored again.`);
      }
      pending = [];
    },
    discard() { pending = []; },
    async shutdown() { await client.close(); },
  };
}

export default defineBot({
  kind: "output",
  name: "mongodb",
  intelmq: "intelmq.bots.outputs.mongodb.output",
  description: "Insert events into a MongoDB collection, once per event",
  params,
  create,
});
