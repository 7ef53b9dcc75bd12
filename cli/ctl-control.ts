// SPDX-License-Identifier: AGPL-3.0-only
/**
 * intelmqctl's side of the control plane: gathering bot states from the control services
 * (botnet/host subjects) and from the bot instances themselves (bot subjects, heartbeats), and
 * applying start/stop/reload to both kinds of bots.
 */
import type { Broker } from "../shared/broker/index.js";
import {
  BotStatus, ErrorReply, HostReply, InstanceStatus, type Counters, STATUS_BUCKET, botSubject, botnetSubject, encodeJson, hostSubject,
  type BotVerb, type HostRequest, type HostVerb,
} from "../shared/control-protocol/index.js";

/** One process of a bot, as intelmqctl shows it. */
export interface InstanceView {
  /** `<host>-<pid>` for instances that answer; `<host>:<pid>` for managed processes only known by pid. */
  instance: string;
  host: string;
  pid: number;
  state: string;
  /** A control service on `host` manages this process. */
  managed: boolean;
  /** Answered a request just now (false: only seen in a heartbeat or a control service's list). */
  answered: boolean;
  /** The instance's counters since it started, from its answer or its heartbeat (none when only a control service lists it). */
  counters?: Counters;
}

/** One bot's merged state. */
export interface BotView {
  id: string;
  status: BotStatus;
  /** Hosts whose control service manages the bot (empty: nobody does). */
  managedBy: string[];
  instances: InstanceView[];
  /** Last error a control service reported. */
  error?: string;
}

/** What one control service said, validated leniently (another version may add fields). */
export interface HostView {
  host: string;
  /** The control service refused the request (ErrorReply). */
  error?: string;
  bots: Record<string, { status: BotStatus; enabled: boolean; instances: { pid: number; state: string }[]; error?: string }>;
}

const dec = new TextDecoder();

function parseJson(data: Uint8Array): unknown {
  try {
    const text = dec.decode(data);
    return text.length ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

function asStatus(v: unknown): BotStatus {
  const r = BotStatus.safeParse(v);
  return r.success ? r.data : "unknown";
}

/** A control service's reply: HostReply, or the fields of it we can use. Null for an error reply. */
export function parseHostReply(data: Uint8Array): HostView | null {
  const raw = parseJson(data);
  const strict = HostReply.safeParse(raw);
  if (strict.success) {
    const bots: HostView["bots"] = {};
    for (const [id, b] of Object.entries(strict.data.bots)) {
      bots[id] = { status: b.status, enabled: b.enabled, instances: b.instances.map((i) => ({ pid: i.pid, state: i.state })), ...(b.error ? { error: b.error } : {}) };
    }
    return { host: strict.data.host, bots };
  }
  if (!raw || typeof raw !== "object" || typeof (raw as { host?: unknown }).host !== "string") return null;
  const r = raw as { host: string; bots?: unknown };
  const bots: HostView["bots"] = {};
  if (r.bots && typeof r.bots === "object") {
    for (const [id, b] of Object.entries(r.bots as Record<string, unknown>)) {
      const o = (b && typeof b === "object" ? b : { status: b }) as Record<string, unknown>;
      const inst = Array.isArray(o.instances) ? o.instances : [];
      bots[id] = {
        status: asStatus(o.status),
        enabled: o.enabled !== false,
        instances: inst.map((i) => ({ pid: Number((i as Record<string, unknown>)?.pid ?? 0), state: String((i as Record<string, unknown>)?.state ?? "unknown") })),
        ...(typeof o.error === "string" ? { error: o.error } : {}),
      };
    }
  }
  return { host: r.host, bots };
}

/** The message of an ErrorReply; null for anything else. */
export function errorOf(data: Uint8Array): string | null {
  const r = ErrorReply.safeParse(parseJson(data));
  return r.success ? `${r.data.error.message} (${r.data.error.code})` : null;
}

/** A bot instance's reply (InstanceStatus); null when it is something else. */
function parseInstance(data: Uint8Array | string): InstanceStatus | null {
  const raw = typeof data === "string" ? (() => { try { return JSON.parse(data) as unknown; } catch { return null; } })() : parseJson(data);
  const r = InstanceStatus.safeParse(raw);
  return r.success ? r.data : null;
}

/** The state of a bot from its instances' own answers (bots no control service manages). */
export function statusFromInstances(states: string[]): BotStatus {
  if (states.some((s) => s === "running")) return "running";
  if (states.some((s) => s === "starting" || s === "reloading")) return "starting";
  if (states.some((s) => s === "stopping")) return "stopping";
  if (states.some((s) => s === "error")) return "error";
  return "stopped";
}

/** The state of a bot several control services manage: running if it runs anywhere. */
export function mergeStatuses(statuses: BotStatus[]): BotStatus {
  const order: BotStatus[] = ["running", "starting", "stopping", "error", "unknown", "stopped", "disabled"];
  for (const s of order) if (statuses.includes(s)) return s;
  return "unknown";
}

export interface ControlOptions {
  /** How long to gather replies of a scatter/gather request (ms). */
  replyWaitMs: number;
  /** How long a control service may take for one action (ms). */
  actionTimeoutMs: number;
}

/** The control plane as intelmqctl uses it. */
export class ControlClient {
  constructor(private readonly broker: Broker, private readonly opts: ControlOptions) {}

  /** Every control service's view of the bots it manages (botnet.status). */
  async hosts(): Promise<HostView[]> {
    const replies = await this.broker.control.requestMany(botnetSubject("status"), encodeJson({} satisfies HostRequest), this.opts.replyWaitMs);
    const out: HostView[] = [];
    const seen = new Set<string>();
    for (const r of replies) {
      const h = parseHostReply(r);
      if (h && !seen.has(h.host)) {
        seen.add(h.host);
        out.push(h);
      }
    }
    return out.sort((a, b) => a.host.localeCompare(b.host));
  }

  /** The live instances of one bot (every instance answers bot.<id>.status). */
  async instances(botId: string, verb: BotVerb = "status"): Promise<InstanceStatus[]> {
    const replies = await this.broker.control.requestMany(botSubject(botId, verb), encodeJson({}), this.opts.replyWaitMs);
    const out: InstanceStatus[] = [];
    for (const r of replies) {
      const i = parseInstance(r);
      if (i) out.push(i);
    }
    return out;
  }

  /** Heartbeats in the status bucket, by bot id. Empty if the bucket does not exist (nothing is created) or cannot be read. */
  async heartbeats(): Promise<Map<string, InstanceStatus[]>> {
    const out = new Map<string, InstanceStatus[]>();
    try {
      const kv = await this.broker.kv.openExisting(STATUS_BUCKET);
      if (!kv) return out;
      for (const v of (await kv.entries()).values()) {
        const i = parseInstance(v);
        if (!i) continue;
        const list = out.get(i.bot_id) ?? [];
        list.push(i);
        out.set(i.bot_id, list);
      }
    } catch {
      // Heartbeats only add detail; the answers of the instances decide.
    }
    return out;
  }

  /** One action on one control service; null when it did not answer in time. */
  async hostAction(host: string, verb: HostVerb, req: HostRequest): Promise<HostView | null> {
    let data: Uint8Array;
    try {
      data = await this.broker.control.request(hostSubject(host, verb), encodeJson(req), this.opts.actionTimeoutMs);
    } catch {
      return null;
    }
    const err = errorOf(data);
    return err !== null ? { host, bots: {}, error: err } : parseHostReply(data);
  }

  /** Send a verb to every instance of a bot: their statuses after acting, and the errors some replied. */
  async tellInstances(botId: string, verb: BotVerb): Promise<{ instances: InstanceStatus[]; errors: string[] }> {
    const replies = await this.broker.control.requestMany(botSubject(botId, verb), encodeJson({}), this.opts.replyWaitMs);
    const out = { instances: [] as InstanceStatus[], errors: [] as string[] };
    for (const r of replies) {
      const i = parseInstance(r);
      if (i) out.instances.push(i);
      else out.errors.push(errorOf(r) ?? "malformed reply");
    }
    return out;
  }

  /**
   * The merged state of `ids` (and of every bot a control service manages, when `all`). `hosts`
   * may be given when they were just asked; `enabled` says which bots runtime.yaml disables.
   */
  async statuses(ids: string[], enabled: (id: string) => boolean | undefined, opts: { hosts?: HostView[]; heartbeats?: boolean; all?: boolean } = {}): Promise<Map<string, BotView>> {
    return (await this.survey(ids, enabled, opts)).views;
  }

  /** statuses() plus the control services' replies it used (asked in parallel with the instances). */
  async survey(ids: string[], enabled: (id: string) => boolean | undefined, opts: { hosts?: HostView[]; heartbeats?: boolean; all?: boolean } = {}): Promise<{ views: Map<string, BotView>; hosts: HostView[] }> {
    const [hosts, live, beats] = await Promise.all([
      opts.hosts ? Promise.resolve(opts.hosts) : this.hosts(),
      Promise.all(ids.map(async (id) => [id, await this.instances(id)] as const)),
      opts.heartbeats ? this.heartbeats() : Promise.resolve(new Map<string, InstanceStatus[]>()),
    ]);
    const liveBy = new Map(live);
    const all = [...ids];
    if (opts.all) for (const h of hosts) for (const id of Object.keys(h.bots)) if (!all.includes(id)) all.push(id);
    const out = new Map<string, BotView>();
    for (const id of all) out.set(id, buildView(id, hosts, liveBy.get(id) ?? [], beats.get(id) ?? [], enabled(id)));
    return { views: out, hosts };
  }
}

/** Merge what the control services, the instances and the heartbeats say about one bot. */
export function buildView(id: string, hosts: HostView[], live: InstanceStatus[], beats: InstanceStatus[], enabled: boolean | undefined): BotView {
  const managing = hosts.filter((h) => Object.hasOwn(h.bots, id));
  const instances: InstanceView[] = [];
  const seen = new Set<string>();
  for (const i of live) {
    if (seen.has(i.instance)) continue;
    seen.add(i.instance);
    const managed = managing.some((h) => h.host === i.host && h.bots[id]!.instances.some((p) => p.pid === i.pid && p.pid > 0));
    instances.push({ instance: i.instance, host: i.host, pid: i.pid, state: i.state, managed, answered: true, counters: i.counters });
  }
  for (const h of managing) {
    for (const p of h.bots[id]!.instances) {
      // pid 0: a slot without a process (control services before this version listed stopped ones).
      if (p.pid <= 0) continue;
      if (instances.some((i) => i.host === h.host && i.pid === p.pid)) continue;
      instances.push({ instance: `${h.host}-${p.pid}`, host: h.host, pid: p.pid, state: p.state, managed: true, answered: false });
      seen.add(`${h.host}-${p.pid}`);
    }
  }
  for (const b of beats) {
    if (seen.has(b.instance)) continue;
    seen.add(b.instance);
    instances.push({ instance: b.instance, host: b.host, pid: b.pid, state: `${b.state} (heartbeat only, no answer)`, managed: false, answered: false, counters: b.counters });
  }
  instances.sort((a, b) => a.instance.localeCompare(b.instance));
  let status: BotStatus;
  let error: string | undefined;
  if (managing.length) {
    status = mergeStatuses(managing.map((h) => h.bots[id]!.status));
    // A bot that runs outside its control services still runs.
    if (status !== "running" && live.some((i) => i.state === "running")) status = "running";
    error = managing.map((h) => h.bots[id]!.error).find((e) => e);
  } else {
    status = statusFromInstances(live.map((i) => i.state));
  }
  // runtime.yaml as it is now decides disabled (a control service may not have re-read it yet).
  if (enabled === false && (status === "stopped" || status === "unknown")) status = "disabled";
  if (enabled === true && status === "disabled") status = "stopped";
  const view: BotView = { id, status, managedBy: managing.map((h) => h.host), instances };
  if (error) view.error = error;
  return view;
}
