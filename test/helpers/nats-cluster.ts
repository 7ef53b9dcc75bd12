// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A three-node nats-server cluster on 127.0.0.1 for tests: free client and route ports, JetStream
 * with a store per node, server names n1..n3. Nodes can be SIGKILLed and started again on the
 * same ports and stores; the stream leader of a queue is asked of the JetStream API.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort, natsServerBinary } from "./nats-server.js";

export interface ClusterNode {
  name: string;
  port: number;
  url: string;
  proc: ChildProcess | null;
  log: string[];
}

export class NatsCluster {
  readonly nodes: ClusterNode[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), "intelmq-cluster-"));
  #routes: number[] = [];
  #nc: NatsConnection | null = null;

  get urls(): string[] { return this.nodes.map((n) => n.url); }

  static async start(size = 3): Promise<NatsCluster> {
    const c = new NatsCluster();
    for (let i = 1; i <= size; i++) {
      const port = await freePort();
      c.#routes.push(await freePort());
      c.nodes.push({ name: `n${i}`, port, url: `nats://127.0.0.1:${port}`, proc: null, log: [] });
    }
    for (const n of c.nodes) c.#launch(n);
    await c.ready();
    return c;
  }

  #launch(n: ClusterNode): void {
    const i = this.nodes.indexOf(n);
    const routes = this.#routes.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`).join(",");
    const args = [
      "-js", "-a", "127.0.0.1", "-p", String(n.port), "-sd", join(this.dir, n.name), "-n", n.name,
      "--cluster_name", "intelmq", "--cluster", `nats://127.0.0.1:${this.#routes[i]}`, "--routes", routes,
    ];
    const proc = spawn(natsServerBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });
    const onData = (b: Buffer) => {
      n.log.push(...b.toString("utf8").split("\n").filter(Boolean));
      if (n.log.length > 300) n.log.splice(0, n.log.length - 300);
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.once("exit", () => { if (n.proc === proc) n.proc = null; });
    n.proc = proc;
  }

  /** An admin connection to any node (reconnects as nodes come and go). */
  async #conn(): Promise<NatsConnection> {
    if (!this.#nc || this.#nc.isClosed()) {
      this.#nc = await connect({ servers: this.urls, maxReconnectAttempts: -1, reconnectTimeWait: 200, name: "test-cluster" });
    }
    return this.#nc;
  }

  /** Until JetStream answers with a meta leader (the cluster formed). */
  async ready(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        const jsm = await jetstreamManager(await this.#conn(), { timeout: 2000 });
        await jsm.getAccountInfo();
        return;
      } catch (err) {
        if (Date.now() > until) throw new Error(`the cluster did not form: ${String(err)}\n${this.nodes.map((n) => n.log.slice(-5).join("\n")).join("\n")}`, { cause: err });
        await sleep(200);
      }
    }
  }

  /** The server name of the leader of a stream (null while it has none). */
  async leaderOf(stream: string): Promise<string | null> {
    try {
      const jsm = await jetstreamManager(await this.#conn(), { timeout: 2000 });
      const si = await jsm.streams.info(stream);
      return si.cluster?.leader ?? null;
    } catch {
      return null;
    }
  }

  /** Replicas of a stream that are current (the leader included). */
  async currentReplicas(stream: string): Promise<number> {
    try {
      const jsm = await jetstreamManager(await this.#conn(), { timeout: 2000 });
      const si = await jsm.streams.info(stream);
      return (si.cluster?.leader ? 1 : 0) + (si.cluster?.replicas ?? []).filter((r) => r.current && !r.offline).length;
    } catch {
      return 0;
    }
  }

  node(name: string): ClusterNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  async kill(name: string): Promise<void> {
    const n = this.node(name);
    const proc = n.proc;
    if (!proc) return;
    const gone = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill("SIGKILL");
    await gone;
  }

  restart(name: string): void {
    this.#launch(this.node(name));
  }

  async stop(): Promise<void> {
    await this.#nc?.close().catch(() => undefined);
    await Promise.all(this.nodes.map(async (n) => {
      const proc = n.proc;
      if (!proc) return;
      const gone = new Promise<void>((r) => proc.once("exit", () => r()));
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(t);
    }));
    if (!process.env.KEEP_TEST_ROOT) rmSync(this.dir, { recursive: true, force: true });
  }
}
