// SPDX-License-Identifier: AGPL-3.0-only
/**
 * /metrics in Prometheus' text format, read at each scrape: the counters of every running bot
 * instance from its heartbeat (the status bucket) and every configured queue's depth from
 * JetStream. Counters are per instance, as the instance counts them since it started.
 */
import { Gauge, Registry } from "prom-client";
import type { Broker } from "../../shared/broker/index.js";
import type { InstanceStatus } from "../../shared/control-protocol/index.js";
import type { RuntimeConfig } from "../../shared/config/index.js";
import type { ControlClient } from "../../cli/ctl-control.js";
import { configuredQueues } from "../../cli/ctl-config.js";

type Labels = Record<string, string | number>;
/** One sample: prom-client's value shape, with metricName for a histogram's _bucket, _sum, _count. */
interface Sample { labels: Labels; value: number; metricName?: string }

/**
 * A metric whose values are computed elsewhere each scrape (prom-client's own Counter and
 * Histogram only count up in this process).
 */
class Snapshot<T extends "counter" | "histogram"> {
  values: Sample[] = [];
  readonly aggregator = "sum" as const;
  constructor(readonly name: string, readonly help: string, readonly type: T) {}
  get(): { name: string; help: string; type: T; aggregator: "sum"; values: Sample[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values };
  }
  reset(): void {
    this.values = [];
  }
}

/** The API's metrics registry: refresh() then text(). */
export class Metrics {
  readonly registry = new Registry();
  readonly #processed = new Snapshot("intelmq_bot_events_processed_total", "Inputs a bot instance processed successfully (IntelMQ's success counter)", "counter");
  readonly #failed = new Snapshot("intelmq_bot_events_failed_total", "Inputs a bot instance failed on (IntelMQ's failure counter)", "counter");
  readonly #sent = new Snapshot("intelmq_bot_events_sent_total", "Messages a bot instance sent, per path", "counter");
  readonly #latency = new Snapshot("intelmq_bot_processing_latency_ms", "Time from entering the queue to the acknowledgement of an input, milliseconds", "histogram");
  readonly #up: Gauge;
  readonly #depth: Gauge;
  readonly #pending: Gauge;

  constructor(private readonly broker: Broker, private readonly control: () => Promise<ControlClient>, private readonly config: () => RuntimeConfig) {
    for (const m of [this.#processed, this.#failed, this.#sent, this.#latency]) this.registry.registerMetric(m as never);
    this.#up = new Gauge({ name: "intelmq_bot_instance_up", help: "1 for every bot instance with a live heartbeat, labelled with its state", labelNames: ["bot_id", "instance", "host", "state"], registers: [this.registry] });
    this.#depth = new Gauge({ name: "intelmq_queue_depth", help: "Messages in a queue: waiting plus handed out and not acknowledged", labelNames: ["queue"], registers: [this.registry] });
    this.#pending = new Gauge({ name: "intelmq_queue_pending_acks", help: "Messages of a queue handed to a bot and not acknowledged yet", labelNames: ["queue"], registers: [this.registry] });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Read the heartbeats and the queues. */
  async refresh(): Promise<void> {
    const beats = await (await this.control()).heartbeats();
    const queues = [...configuredQueues(this.config())].sort();
    const infos = await Promise.all(queues.map(async (q) => [q, await this.broker.queues.info(q).catch(() => null)] as const));
    for (const m of [this.#processed, this.#failed, this.#sent, this.#latency]) m.reset();
    this.#up.reset();
    this.#depth.reset();
    this.#pending.reset();
    const all = [...beats.values()].flat().sort((a, b) => a.bot_id.localeCompare(b.bot_id) || a.instance.localeCompare(b.instance));
    for (const i of all) this.#instance(i);
    for (const [q, info] of infos) {
      if (!info) continue;
      this.#depth.set({ queue: q }, info.depth);
      if (info.ackPending !== undefined) this.#pending.set({ queue: q }, info.ackPending);
    }
  }

  #instance(i: InstanceStatus): void {
    const l: Labels = { bot_id: i.bot_id, instance: i.instance };
    this.#up.set({ ...l, host: i.host, state: i.state }, 1);
    this.#processed.values.push({ labels: l, value: i.counters.success });
    this.#failed.values.push({ labels: l, value: i.counters.failure });
    for (const [path, n] of Object.entries(i.counters.paths).sort(([a], [b]) => a.localeCompare(b))) {
      this.#sent.values.push({ labels: { ...l, path }, value: n });
    }
    const h = i.counters.latency_ms;
    if (h) {
      // The heartbeat's counts are per bucket; Prometheus' buckets are cumulative.
      let cum = 0;
      h.le.forEach((le, k) => {
        cum += h.counts[k] ?? 0;
        this.#latency.values.push({ metricName: `${this.#latency.name}_bucket`, labels: { ...l, le }, value: cum });
      });
      this.#latency.values.push({ metricName: `${this.#latency.name}_bucket`, labels: { ...l, le: "+Inf" }, value: h.count });
      this.#latency.values.push({ metricName: `${this.#latency.name}_sum`, labels: l, value: h.sum });
      this.#latency.values.push({ metricName: `${this.#latency.name}_count`, labels: l, value: h.count });
    }
  }

  /** The exposition text (after refresh()). */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
