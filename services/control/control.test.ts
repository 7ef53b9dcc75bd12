// SPDX-License-Identifier: AGPL-3.0-only
// The control service as a process on a real nats-server: it starts the enabled bots of
// runtime.yaml, runs `instances: N` processes of a bot, restarts a SIGKILLed bot, answers
// host start/stop/restart/reload/status, and stops its bots when it is stopped.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lastErrorLine } from "./manager.js";
import { startNatsServer, type NatsServer } from "../../test/helpers/nats-server.js";
import { TestPipeline, countLines, sleep, waitFor } from "../../test/helpers/pipeline.js";
import { src } from "../../test/helpers/paths.js";
import {
  ErrorReply, HostReply, InstanceStatus, botSubject, botnetSubject, decodeJson, encodeJson, hostSubject,
  type HostRequest, type HostVerb, type ManagedBot,
} from "../../shared/control-protocol/index.js";

const COLUMNS = ["source.ip", "source.url", "classification.type"];

function bots(opts: { parserInstances?: number; disabled?: boolean } = {}): Record<string, unknown> {
  return {
    "cs-parser": {
      module: "intelmq.bots.parsers.generic.parser_csv", name: "Generic CSV", group: "Parser", enabled: true,
      ...(opts.parserInstances ? { instances: opts.parserInstances } : {}),
      parameters: { columns: COLUMNS, delimiter: ",", destination_queues: { _default: ["cs-output-queue"] } },
    },
    "cs-output": {
      module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", enabled: true,
      parameters: { file: "var/lib/bots/cs/events.txt" },
    },
    "cs-spare": {
      module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", enabled: !opts.disabled,
      parameters: { file: "var/lib/bots/cs/spare.txt" },
    },
  };
}

/** A CSV report of `lines` unique lines. */
function report(i: number, lines: number): Record<string, unknown> {
  const rows = Array.from({ length: lines }, (_, k) => `10.${i % 250}.${Math.floor(k / 250)}.${k % 250},http://r${i}-l${k}.example.com/,malware-distribution`);
  return {
    __type: "Report", "feed.name": "Control test", "feed.url": "https://feeds.example.org/x.csv",
    raw: Buffer.from(rows.join("\n") + "\n").toString("base64"),
  };
}

class ControlProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  constructor(readonly p: TestPipeline, readonly host: string, args: string[] = []) {
    const fd = openSync(join(p.root, "var", "log", "control.log"), "a");
    this.child = spawn(process.execPath, [src("bin", "intelmq-control.mjs"), "--host", host, "--stop-timeout", "10", ...args], {
      env: p.env, stdio: ["ignore", fd, fd],
    });
    closeSync(fd);
    this.exited = new Promise((r) => this.child.once("exit", (code) => r(code)));
  }

  async ask(verb: HostVerb, req: HostRequest = {}): Promise<HostReply> {
    const b = await this.p.broker();
    const data = await b.control.request(hostSubject(this.host, verb), encodeJson(req), 30_000);
    return decodeJson(HostReply, data);
  }

  async bot(id: string): Promise<ManagedBot> {
    const r = await this.ask("status", { bots: [id] });
    assert.ok(r.bots[id], `status of ${id}`);
    return r.bots[id]!;
  }

  async ready(): Promise<void> {
    await waitFor(async () => {
      try { await this.ask("ping"); return true; } catch { return false; }
    }, 30_000, "the control service answers");
  }

  log(): string {
    return readFileSync(join(this.p.root, "var", "log", "control.log"), "utf8");
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

let nats: NatsServer;
before(async () => { nats = await startNatsServer(); });
after(async () => { await nats.stop(); });

let hostSeq = 0;
function hostName(): string {
  return `test-host-${process.pid}-${++hostSeq}`;
}

describe("last error line of a bot process", { timeout: 10_000 }, () => {
  it("is the newest error or fatal pino line of that pid, with its error's message; else Node's own crash line", () => {
    const dir = mkdtempSync(join(tmpdir(), "intelmq-lasterr-"));
    try {
      const file = join(dir, "bot.log");
      writeFileSync(file, [
        JSON.stringify({ level: "error", pid: 7, msg: "an older error" }),
        JSON.stringify({ level: "fatal", pid: 8, msg: "another process" }),
        JSON.stringify({ level: "error", pid: 7, msg: "Bot initialization failed.", err: { message: "ENOTDIR: not a directory" } }),
        JSON.stringify({ level: "info", pid: 7, msg: "stopping" }),
        "",
      ].join("\n"));
      assert.equal(lastErrorLine(file, 7), "Bot initialization failed: ENOTDIR: not a directory");
      assert.equal(lastErrorLine(file, 8), "another process");
      assert.equal(lastErrorLine(file, 9), undefined);
      appendFileSync(file, "TypeError: x is not a function\n    at f (file.js:1:1)\n");
      assert.equal(lastErrorLine(file, 9, true), "TypeError: x is not a function");
      assert.equal(lastErrorLine(file, 9, false), undefined, "with several instances a line without a pid is nobody's");
      assert.equal(lastErrorLine(join(dir, "none.log"), 7), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("control service", { timeout: 300_000 }, () => {
  it("starts the enabled bots, leaves disabled ones, stops/starts/restarts on request, and stops them all on SIGTERM", async () => {
    const p = new TestPipeline(nats.url, bots({ disabled: true }));
    const c = new ControlProcess(p, hostName());
    let pids: number[] = [];
    try {
      await c.ready();
      await waitFor(async () => (await c.bot("cs-parser")).status === "running" && (await c.bot("cs-output")).status === "running", 20_000, "bots running");
      const all = await c.ask("status");
      assert.equal(all.host, c.host);
      assert.deepEqual(Object.keys(all.bots).sort(), ["cs-output", "cs-parser", "cs-spare"]);
      assert.equal(all.bots["cs-spare"]!.status, "disabled");
      assert.equal(all.bots["cs-spare"]!.enabled, false);
      assert.equal(all.bots["cs-parser"]!.instances_wanted, 1);
      assert.equal(all.bots["cs-parser"]!.instances.length, 1);

      // Events flow through the managed bots.
      await p.inject("cs-parser-queue", [report(0, 10)], "svc-a");
      const out = join(p.root, "var/lib/bots/cs/events.txt");
      await waitFor(() => countLines(out) === 10, 20_000, "10 events out");

      // The bots answer their own subjects and report this host.
      const b = await p.broker();
      const st = (await b.control.requestMany(botSubject("cs-output", "status"), encodeJson({}), 1000)).map((r) => decodeJson(InstanceStatus, r));
      assert.equal(st.length, 1);
      assert.equal(st[0]!.host, c.host);
      assert.equal(st[0]!.pid, all.bots["cs-output"]!.instances[0]!.pid);

      // stop one bot: its process ends, the others keep running.
      const outPid = all.bots["cs-output"]!.instances[0]!.pid;
      const stopped = await c.ask("stop", { bots: ["cs-output"] });
      assert.deepEqual(Object.keys(stopped.bots), ["cs-output"]);
      assert.equal(stopped.bots["cs-output"]!.status, "stopped");
      assert.ok(!alive(outPid), "the process ended");
      assert.equal((await c.bot("cs-parser")).status, "running");

      // start it again: a new process.
      const started = await c.ask("start", { bots: ["cs-output"] });
      assert.equal(started.bots["cs-output"]!.status, "running");
      assert.notEqual(started.bots["cs-output"]!.instances[0]!.pid, outPid);

      // a disabled bot starts when named.
      const spare = await c.ask("start", { bots: ["cs-spare"] });
      assert.equal(spare.bots["cs-spare"]!.status, "running");
      await c.ask("stop", { bots: ["cs-spare"] });
      assert.equal((await c.bot("cs-spare")).status, "disabled");

      // restart: new processes for every running bot, the disabled one stays off.
      const before = await c.ask("status");
      const restarted = await c.ask("restart");
      for (const id of ["cs-parser", "cs-output"]) {
        assert.equal(restarted.bots[id]!.status, "running", id);
        assert.notEqual(restarted.bots[id]!.instances[0]!.pid, before.bots[id]!.instances[0]!.pid, id);
      }
      assert.equal(restarted.bots["cs-spare"]!.status, "disabled");

      // stop everything, start everything (botnet start skips the disabled bot).
      const none = await c.ask("stop");
      assert.ok(Object.values(none.bots).every((m) => m.status === "stopped" || m.status === "disabled"), JSON.stringify(none));
      const again = await c.ask("start");
      assert.equal(again.bots["cs-parser"]!.status, "running");
      assert.equal(again.bots["cs-spare"]!.status, "disabled");

      // The botnet subject reaches this control service too.
      const net = (await b.control.requestMany(botnetSubject("status"), encodeJson({}), 1000)).map((r) => decodeJson(HostReply, r));
      assert.ok(net.some((r) => r.host === c.host && r.bots["cs-parser"]?.status === "running"));

      // A malformed request gets an error reply.
      const bad = await b.control.request(hostSubject(c.host, "start"), encodeJson({ bots: "cs-parser" }), 10_000);
      assert.equal(decodeJson(ErrorReply, bad).error.code, "IMQ_ERR_INVALID_ARGUMENT");

      pids = Object.values((await c.ask("status")).bots).flatMap((m) => m.instances.map((i) => i.pid)).filter((x) => x > 0);
      assert.equal(pids.length, 2);
    } finally {
      c.child.kill("SIGTERM");
      const code = await c.exited;
      assert.equal(code, 0, c.log());
      for (const pid of pids) assert.ok(!alive(pid), `bot process ${pid} ended with the control service`);
      await p.close();
    }
  });

  it("runs instances: 2 of a parser that split its queue, each event processed exactly once", async () => {
    const p = new TestPipeline(nats.url, bots({ parserInstances: 2 }));
    const c = new ControlProcess(p, hostName(), ["--bots", "cs-parser,cs-output"]);
    try {
      await c.ready();
      const b = await p.broker();
      // Both instances answer their control subject before any input exists.
      await waitFor(async () => (await b.control.requestMany(botSubject("cs-parser", "status"), encodeJson({}), 500)).length === 2, 30_000, "two parser instances");
      const m = await c.bot("cs-parser");
      assert.equal(m.instances_wanted, 2);
      assert.equal(m.instances.length, 2);
      assert.deepEqual(Object.keys((await c.ask("status")).bots).sort(), ["cs-output", "cs-parser"], "--bots limits what is managed");

      const REPORTS = 300;
      const LINES = 20;
      await p.inject("cs-parser-queue", Array.from({ length: REPORTS }, (_, i) => report(i, LINES)), "svc-inst");
      const out = join(p.root, "var/lib/bots/cs/events.txt");
      await waitFor(async () => countLines(out) >= REPORTS * LINES && (await b.queues.depth("cs-parser-queue")) === 0 && (await b.queues.depth("cs-output-queue")) === 0,
        120_000, "every event out", 250);
      await sleep(1000);
      const seen = new Map<string, number>();
      for (const line of readFileSync(out, "utf8").split("\n").filter(Boolean)) {
        const u = String((JSON.parse(line) as Record<string, unknown>)["source.url"]);
        seen.set(u, (seen.get(u) ?? 0) + 1);
      }
      assert.equal(seen.size, REPORTS * LINES);
      assert.deepEqual([...seen.values()].filter((n) => n !== 1), [], "no event twice");

      const st = (await b.control.requestMany(botSubject("cs-parser", "status"), encodeJson({}), 1000)).map((r) => decodeJson(InstanceStatus, r));
      assert.equal(st.length, 2);
      assert.notEqual(st[0]!.pid, st[1]!.pid);
      for (const s of st) assert.ok(s.counters.success > 0, `instance ${s.instance} processed some reports: ${JSON.stringify(s.counters)}`);
      assert.equal(st[0]!.counters.success + st[1]!.counters.success, REPORTS);
    } finally {
      c.child.kill("SIGTERM");
      assert.equal(await c.exited, 0);
      await p.close();
    }
  });

  it("restarts a SIGKILLed bot (error in between, then running) and applies instances and enabled on reload", async () => {
    const p = new TestPipeline(nats.url, bots());
    const c = new ControlProcess(p, hostName());
    try {
      await c.ready();
      await waitFor(async () => (await c.bot("cs-output")).status === "running", 20_000, "output running");
      const first = await c.bot("cs-output");
      const pid = first.instances[0]!.pid;
      process.kill(pid, "SIGKILL");
      const seen = new Set<string>();
      let m = first;
      await waitFor(async () => {
        m = await c.bot("cs-output");
        seen.add(m.status);
        return m.status === "running" && m.instances[0]!.pid !== pid;
      }, 30_000, "the bot restarted", 50);
      assert.ok(seen.has("error") || seen.has("stopped"), `a state between kill and restart: ${[...seen].join(",")}`);
      assert.equal(m.instances[0]!.restarts, 1);
      assert.match(m.error ?? "", /SIGKILL/);
      // Still works after the restart.
      await p.inject("cs-parser-queue", [report(1, 5)], "svc-kill");
      await waitFor(() => countLines(join(p.root, "var/lib/bots/cs/events.txt")) === 5, 20_000, "5 events out");

      // reload: two parser instances, the spare bot disabled.
      p.writeConfig({ ...bots({ parserInstances: 2, disabled: true }) });
      const r = await c.ask("reload");
      assert.equal(r.bots["cs-parser"]!.instances_wanted, 2);
      assert.equal(r.bots["cs-parser"]!.instances.length, 2);
      await waitFor(async () => {
        const x = await c.bot("cs-parser");
        return x.instances.filter((i) => i.state === "running").length === 2;
      }, 20_000, "two parser processes");
      // The spare bot was running (enabled before); a stopped disabled bot says disabled.
      await c.ask("stop", { bots: ["cs-spare"] });
      assert.equal((await c.bot("cs-spare")).status, "disabled");
      assert.equal((await c.bot("cs-spare")).enabled, false);
    } finally {
      c.child.kill("SIGTERM");
      assert.equal(await c.exited, 0);
      await p.close();
    }
  });
});
