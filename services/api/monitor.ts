// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The monitor page's own routes under /v1/monitor/ (intelmq-api has none for these): the
 * pipeline with live states, instances, counters and queue depths in one answer, the dumps of a
 * bot with recover and delete (intelmqdump's functions), and replay of an archived queue as a
 * job whose progress can be asked for (intelmqctl replay's function).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { z } from "zod";
import type { Broker, StoredDump } from "../../shared/broker/index.js";
import type { RuntimeConfig } from "../../shared/config/index.js";
import { errorMessage } from "../../shared/errors/index.js";
import { parseWhen } from "../../cli/args.js";
import { configuredQueues, destinationPaths, groupOf, queuesOf } from "../../cli/ctl-config.js";
import type { ControlClient } from "../../cli/ctl-control.js";
import { REPLAY_TIME_HELP, replayQueue } from "../../cli/ctl-replay.js";
import { lastLine, recoverDump, sourceQueues } from "../../cli/dump-recover.js";

export interface MonitorOptions {
  broker: Broker;
  config: () => RuntimeConfig;
  control: () => Promise<ControlClient>;
  log: Logger;
  /** A refused parameter: the API's 422. */
  invalid: (loc: string[], message: string) => Error;
}

/** Entries of a bot a list shows at most (the total is given beside). */
const DUMPS_SHOWN = 200;
/** A dumped message longer than this is cut in lists (intelmqdump -t shows it whole). */
const MESSAGE_SHOWN = 8000;
/** Finished replay jobs kept for their progress to be read. */
const JOBS_KEPT = 20;

/** One replay started from the page. */
interface ReplayJob {
  id: number;
  queue: string;
  target: string;
  since: string | null;
  until: string;
  /** counting: the dry run over the range; replaying; done; failed (error says why). */
  state: "counting" | "replaying" | "done" | "failed";
  /** Messages in the range (known once counted). */
  total: number | null;
  /** Messages handled so far: replayed, dropped as duplicates, or missing. */
  done: number;
  replayed: number;
  duplicates: number;
  missing: number;
  error?: string;
  started: string;
  finished?: string;
}

const Seqs = z.array(z.number().int().positive()).min(1);
const DumpAction = z.object({ id: z.string().regex(/^[A-Za-z0-9-]+$/), seqs: Seqs, queue: z.string().min(1).optional() });
const ReplayStart = z.object({
  queue: z.string().min(1), to: z.string().min(1).optional(), since: z.string().optional(), until: z.string().optional(),
});

export function registerMonitorRoutes(app: FastifyInstance, o: MonitorOptions): void {
  const query = (req: FastifyRequest) => req.query as Record<string, string | undefined>;
  const body = <T>(schema: z.ZodType<T>, req: FastifyRequest): T => {
    const r = schema.safeParse(req.body ?? {});
    if (r.success) return r.data;
    const issue = r.error.issues[0]!;
    throw o.invalid(["body", ...issue.path.map(String)], issue.message);
  };
  /** A bot of runtime.yaml, else 404. */
  const configured = (config: RuntimeConfig, id: string): void => {
    if (!Object.hasOwn(config.bots, id)) throw Object.assign(new Error(`Bot ${JSON.stringify(id)} does not exist in runtime.yaml.`), { statusCode: 404 });
  };

  // Everything the graph shows, in one answer: the page asks every 2 s.
  app.get("/v1/monitor/state", async () => {
    const config = o.config();
    const ids = Object.keys(config.bots);
    const queues = [...configuredQueues(config)];
    const [views, infos, dumps] = await Promise.all([
      (await o.control()).statuses(ids, (id) => config.bots[id]?.enabled, { heartbeats: true }),
      Promise.all(queues.map(async (q) => [q, await o.broker.queues.info(q).catch(() => null)] as const)),
      o.broker.dumps.counts(ids),
    ]);
    const bots: Record<string, unknown> = {};
    for (const id of ids) {
      const v = views.get(id)!;
      bots[id] = {
        group: groupOf(config.bots[id]!),
        module: config.bots[id]!.module,
        enabled: config.bots[id]!.enabled,
        source: queuesOf(config, id).source,
        destinations: destinationPaths(config, id),
        status: v.status,
        managed_by: v.managedBy,
        ...(v.error ? { error: v.error } : {}),
        instances: v.instances.map((i) => ({
          instance: i.instance, host: i.host, pid: i.pid, state: i.state, managed: i.managed,
          ...(i.counters ? { processed: i.counters.success, failed: i.counters.failure, sent: i.counters.paths } : {}),
        })),
        dumps: dumps.get(id) ?? 0,
      };
    }
    return {
      time: new Date().toISOString(),
      bots,
      queues: Object.fromEntries(infos.map(([q, i]) => [q, i ? { depth: i.depth, archived: i.archived } : null])),
    };
  });

  app.get("/v1/monitor/dumps", async (req) => {
    if (query(req).id === undefined) {
      return Object.fromEntries(await o.broker.dumps.counts(Object.keys(o.config().bots)));
    }
    const id = query(req).id!;
    configured(o.config(), id);
    const all = await o.broker.dumps.read(id);
    return {
      bot_id: id,
      total: all.length,
      entries: all.slice(0, DUMPS_SHOWN).map((d) => ({
        seq: d.seq, timestamp: d.timestamp, source_queue: d.source_queue, reason: lastLine(d),
        message_type: d.message_type ?? "json",
        message: d.message.length > MESSAGE_SHOWN ? `${d.message.slice(0, MESSAGE_SHOWN)}...[truncated]` : d.message,
      })),
    };
  });

  /** The bot's entries of `seqs`, and the sequences it has no entry of. */
  const picked = async (id: string, seqs: number[]): Promise<{ entries: StoredDump[]; missing: number[] }> => {
    const mine = new Map((await o.broker.dumps.read(id)).map((d) => [d.seq, d]));
    return { entries: seqs.flatMap((s) => mine.get(s) ?? []), missing: seqs.filter((s) => !mine.has(s)) };
  };

  app.post("/v1/monitor/dumps/recover", async (req) => {
    const b = body(DumpAction, req);
    const config = o.config();
    configured(config, b.id);
    const { entries, missing } = await picked(b.id, b.seqs);
    const sources = sourceQueues(config);
    const recovered: { seq: number; queue: string }[] = [];
    const failed = missing.map((seq) => ({ seq, reason: "no such dump of this bot" }));
    for (const d of entries) {
      const r = await recoverDump(o.broker, config, d, b.queue, sources);
      if (r.recovered) recovered.push({ seq: d.seq, queue: r.queue });
      else failed.push({ seq: d.seq, reason: r.message });
    }
    o.log.info({ bot_id: b.id, recovered, failed }, "dumps recovered from the monitor");
    return { recovered, failed };
  });

  app.post("/v1/monitor/dumps/delete", async (req) => {
    const b = body(DumpAction, req);
    configured(o.config(), b.id);
    const { entries, missing } = await picked(b.id, b.seqs);
    const deleted: number[] = [];
    const failed = missing.map((seq) => ({ seq, reason: "no such dump of this bot" }));
    for (const d of entries) {
      if (await o.broker.dumps.delete(d.seq)) deleted.push(d.seq);
      else failed.push({ seq: d.seq, reason: "deleted meanwhile" });
    }
    o.log.info({ bot_id: b.id, deleted }, "dumps deleted from the monitor");
    return { deleted, failed };
  });

  const jobs = new Map<number, ReplayJob>();
  let lastJob = 0;

  /** Count the range (dry run), then replay it; the job's fields say how far it got. */
  const runJob = async (job: ReplayJob, since: Date | undefined, until: Date): Promise<void> => {
    const range = { target: job.target, until, ...(since ? { since } : {}) };
    const counted = await replayQueue(o.broker, o.config(), job.queue, { ...range, dryRun: true, onProgress: (r) => { job.done = r.replayed; } });
    if (counted.kind !== "done") throw new Error(counted.message);
    job.total = counted.result.replayed;
    job.done = 0;
    job.state = "replaying";
    const run = await replayQueue(o.broker, o.config(), job.queue, {
      ...range,
      onProgress: (r) => { job.done = r.replayed + r.duplicates + r.missing; job.replayed = r.replayed; job.duplicates = r.duplicates; job.missing = r.missing; },
    });
    if (run.kind !== "done") throw new Error(run.message);
    Object.assign(job, { replayed: run.result.replayed, duplicates: run.result.duplicates, missing: run.result.missing });
    job.done = job.replayed + job.duplicates + job.missing;
  };

  app.post("/v1/monitor/replay", async (req, reply) => {
    const b = body(ReplayStart, req);
    const when = (name: "since" | "until"): Date | undefined => {
      const text = b[name];
      if (text === undefined || text === "") return undefined;
      const d = parseWhen(text);
      if (!d) throw o.invalid(["body", name], `not a time: ${JSON.stringify(text)} (${REPLAY_TIME_HELP})`);
      return d;
    };
    const since = when("since");
    // Counting and replaying take the same range: what was archived up to now, unless earlier.
    const until = when("until") ?? new Date();
    const target = b.to ?? b.queue;
    const known = configuredQueues(o.config());
    const unknown = [b.queue, target].find((q) => !known.has(q));
    if (unknown !== undefined) return reply.code(404).send({ error: `Queue ${unknown} does not exist!` });
    const job: ReplayJob = {
      id: ++lastJob, queue: b.queue, target, since: since?.toISOString() ?? null, until: until.toISOString(),
      state: "counting", total: null, done: 0, replayed: 0, duplicates: 0, missing: 0, started: new Date().toISOString(),
    };
    jobs.set(job.id, job);
    for (const old of [...jobs.keys()]) if (jobs.size > JOBS_KEPT && jobs.get(old)!.finished) jobs.delete(old);
    o.log.info({ queue: job.queue, target, since: job.since, until: job.until }, "replay started from the monitor");
    void runJob(job, since, until).then(
      () => { job.state = "done"; },
      (err: unknown) => { job.state = "failed"; job.error = errorMessage(err); o.log.warn({ queue: job.queue, err: job.error }, "replay from the monitor failed"); },
    ).finally(() => { job.finished = new Date().toISOString(); });
    return reply.code(202).send(job);
  });

  app.get("/v1/monitor/replay", async (req, reply) => {
    const id = query(req).id;
    if (id === undefined) return { jobs: [...jobs.values()].reverse() };
    const job = /^\d+$/.test(id) ? jobs.get(Number(id)) : undefined;
    if (!job) return reply.code(404).send({ error: `No replay ${JSON.stringify(id)}.` });
    return job;
  });
}
