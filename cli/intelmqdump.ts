// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmqdump [bot-id] [-t N]`: IntelMQ's tool for failed messages, reading the dumps stream
 * instead of <bot-id>.dump files. Without a bot id it lists the bots with dumps and asks for one;
 * with one it lists its entries and takes IntelMQ's commands: r(ecover) ids [queue], a(ll)
 * [queue], d(elete) [ids], s(how) ids, e(dit) id, q(uit).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { Command } from "commander";
import type { Broker, StoredDump } from "../shared/broker/index.js";
import { intelmqPaths, loadRuntimeConfig, type RuntimeConfig } from "../shared/config/index.js";
import { parseArgs, parseIds } from "./args.js";
import { connectCtl } from "./connect.js";
import { ControlClient } from "./ctl-control.js";
import { lastLine, recoverDump, sourceQueues } from "./dump-recover.js";
import { guardProcess, verboseArg } from "./output.js";
import { exportDumps, importDumps } from "./dump-files.js";
import { errorMessage } from "../shared/errors/index.js";

const HELP = [
  "r ids [queue]  recover these entries into their source queue or the given one",
  "a [queue]      recover all entries",
  "d [ids]        delete these entries, or all of them",
  "s ids          show these entries",
  "e id           edit an entry's message with $EDITOR",
  "q              quit",
].join("\n");

function say(line = ""): void {
  process.stdout.write(`${line}\n`);
}

/** A stack frame or the header over frames, as older entries and bots at DEBUG store them. */
const FRAME = /^\s*(at\s|Traceback \(most recent call last\):|Stack \(most recent call first\):)/;

/** The traceback without JavaScript frames (the reason lines stay). */
function withoutFrames(tb: string[] | string): string[] | string {
  if (Array.isArray(tb)) return tb.filter((l) => !FRAME.test(l));
  return tb.split("\n").filter((l) => !FRAME.test(l)).join("\n");
}

/**
 * The entry as IntelMQ shows it: message parsed, raw cut at `truncate` characters (0: whole),
 * the traceback without stack frames unless `verbose`.
 */
function shown(d: StoredDump, truncate: number, verbose = false): string {
  let message: unknown = d.message;
  if (d.message_type !== "base64") {
    try {
      const m = JSON.parse(d.message) as Record<string, unknown>;
      if (truncate > 0 && typeof m.raw === "string" && m.raw.length > truncate) m.raw = `${m.raw.slice(0, truncate)}...[truncated]`;
      message = m;
    } catch {
      // shown as it is
    }
  }
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (x && typeof x === "object") return Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort((x as Record<string, unknown>)[k])]));
    return x;
  };
  return JSON.stringify(sort({ ...d, message, traceback: verbose ? d.traceback : withoutFrames(d.traceback) }), null, 4);
}

interface Session {
  broker: Broker;
  config: RuntimeConfig;
  truncate: number;
  verbose: boolean;
  ask(prompt: string): Promise<string | null>;
}

async function recover(s: Session, entries: StoredDump[], queue: string | undefined): Promise<void> {
  const sources = sourceQueues(s.config);
  for (const d of entries) {
    const r = await recoverDump(s.broker, s.config, d, queue, sources);
    if (r.recovered) say(`Recovered dump ${d.timestamp} into ${r.queue}.`);
    else if (r.why === "queue") say(`Entry ${d.timestamp}: ${r.message}; not recovered.`);
    else say(`Entry ${d.timestamp} can not be recovered: ${r.message}`);
  }
}

function edit(d: StoredDump): string | null {
  const dir = mkdtempSync(join(tmpdir(), "intelmqdump-"));
  const file = join(dir, "message.json");
  try {
    let text = d.message;
    try { text = JSON.stringify(JSON.parse(d.message), null, 4); } catch { /* base64 or broken: as it is */ }
    writeFileSync(file, `${text}\n`);
    const editor = process.env.VISUAL || process.env.EDITOR || "sensible-editor";
    const r = spawnSync(editor, [file], { stdio: "inherit", shell: false });
    if (r.error || r.status !== 0) {
      say(`The editor ${editor} failed: ${r.error?.message ?? `exit code ${r.status}`}`);
      return null;
    }
    const after = readFileSync(file, "utf8");
    if (d.message_type === "base64") return after.trim();
    return JSON.stringify(JSON.parse(after));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The interactive loop for one bot's dumps; resolves when the user quits or input ends. */
async function processBot(s: Session, botId: string, warnRunning: () => Promise<void>): Promise<void> {
  const defined = Object.hasOwn(s.config.bots, botId);
  await warnRunning();
  for (;;) {
    const entries = await s.broker.dumps.read(botId);
    if (entries.length === 0) {
      say(`Nothing to do: no dumps of ${botId}.`);
      return;
    }
    say(`Processing ${botId}: ${entries.length} dumps`);
    entries.forEach((d, i) => say(`${String(i).padStart(3)}: ${d.timestamp} ${lastLine(d)}`));
    if (!defined) say(`${botId} is not in runtime.yaml: only q(uit) is possible.`);
    const line = await s.ask("recover (a)ll, delete (d)umps, (e)dit, (r)ecover by ids, (s)how by ids, (q)uit, (h)elp? ");
    if (line === null) return;
    const [cmd = "", ...rest] = line.trim().split(/\s+/);
    const pick = (text: string | undefined): StoredDump[] | null => {
      const ids = text === undefined ? null : parseIds(text);
      if (!ids || ids.some((i) => i >= entries.length)) {
        say(`Invalid ids: ${JSON.stringify(text ?? "")} (0 to ${entries.length - 1}, e.g. 0,2-4).`);
        return null;
      }
      return ids.map((i) => entries[i]!);
    };
    if (cmd === "q" || cmd === "") {
      if (cmd === "q") return;
      continue;
    }
    if (cmd === "h" || cmd === "?") { say(HELP); continue; }
    if (!defined) { say("Only q(uit) is possible for a bot that is not configured."); continue; }
    switch (cmd) {
      case "s": {
        const chosen = pick(rest.join(","));
        if (chosen) for (const d of chosen) say(shown(d, s.truncate, s.verbose));
        break;
      }
      case "r": {
        const ids = rest[0];
        const chosen = pick(ids);
        if (chosen) await recover(s, chosen, rest[1]);
        break;
      }
      case "a":
        await recover(s, entries, rest[0]);
        break;
      case "d": {
        const chosen = rest.length ? pick(rest.join(",")) : entries;
        if (chosen) {
          for (const d of chosen) await s.broker.dumps.delete(d.seq);
          say(`Deleted ${chosen.length} dumps.`);
        }
        break;
      }
      case "e": {
        const chosen = pick(rest[0]);
        if (!chosen || chosen.length !== 1) break;
        const d = chosen[0]!;
        let message: string | null;
        try {
          message = edit(d);
        } catch (err) {
          say(`Not changed: ${(err as Error).message}`);
          break;
        }
        if (message === null || message === d.message) { say("Not changed."); break; }
        // Stored anew (the stream keeps records immutable), then the old record goes.
        const { seq: _seq, ...entry } = d;
        await s.broker.dumps.store({ ...entry, message });
        await s.broker.dumps.delete(d.seq);
        say(`Entry ${d.timestamp} changed.`);
        break;
      }
      default:
        say(`Unknown command ${JSON.stringify(cmd)}.`);
        say(HELP);
    }
  }
}

async function main(argv: string[]): Promise<number> {
  let botArg: string | undefined;
  let truncate = 1000;
  let transfer = null as { export: string } | { import: string } | null;
  const program = new Command()
    .name("intelmqdump")
    .description("inspect, recover, edit and delete the messages bots dumped (the dumps stream)")
    .argument("[bot-id]", "the bot whose dumps to process (none: list the bots with dumps)")
    .option("-t, --truncate <n>", "cut raw to this many characters when showing (0: whole)", "1000")
    .option("--verbose", "show the stack frames stored in tracebacks")
    .option("--export <file>", "write the dumps (of bot-id, or all) to FILE in IntelMQ's dump file format; a folder gets one <bot-id>.dump per bot")
    .option("--import <file>", "store the entries of IntelMQ's dump file FILE (or of every *.dump in a folder) as dumps")
    .exitOverride()
    .action((id: string | undefined, o: { truncate: string; export?: string; import?: string }) => {
      botArg = id;
      transfer = o.export !== undefined ? { export: o.export } : o.import !== undefined ? { import: o.import } : null;
      truncate = Math.max(0, Number(o.truncate) || 0);
    });
  const code = parseArgs(program, argv);
  if (code !== null) return code;

  const paths = intelmqPaths();
  const config = loadRuntimeConfig(paths.runtimeConfFile, { missingOk: true });
  const broker = await connectCtl(config, "intelmqdump");
  if (transfer) {
    try {
      return "export" in transfer ? await exportDumps(broker, transfer.export, botArg, say) : await importDumps(broker, transfer.import, say);
    } finally {
      await broker.close().catch(() => undefined);
    }
  }
  const rl: Interface = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY ?? false });
  const lines: string[] = [];
  let waiting: ((l: string | null) => void) | null = null;
  let ended = false;
  rl.on("line", (l) => { if (waiting) { const w = waiting; waiting = null; w(l); } else lines.push(l); });
  rl.on("close", () => { ended = true; if (waiting) { const w = waiting; waiting = null; w(null); } });
  const ask = (prompt: string): Promise<string | null> => {
    process.stdout.write(prompt);
    if (lines.length) { const l = lines.shift()!; if (!process.stdin.isTTY) process.stdout.write(`${l}\n`); return Promise.resolve(l); }
    if (ended) { process.stdout.write("\n"); return Promise.resolve(null); }
    return new Promise((resolve) => {
      waiting = (l) => { if (l !== null && !process.stdin.isTTY) process.stdout.write(`${l}\n`); resolve(l); };
    });
  };
  const session: Session = { broker, config, truncate, verbose: program.opts<{ verbose?: boolean }>().verbose === true, ask };
  const warnRunning = async (botId: string): Promise<void> => {
    try {
      const control = new ControlClient(broker, { replyWaitMs: 500, actionTimeoutMs: 5000 });
      const live = (await control.instances(botId)).filter((i) => i.state === "running");
      if (live.length) say(`Attention: the bot ${botId} is running (${live.length} instance(s)).`);
    } catch {
      // Only a hint.
    }
  };
  try {
    let botId = botArg;
    if (botId === undefined) {
      const all = await broker.dumps.read();
      const counts = new Map<string, number>();
      for (const d of all) counts.set(d.bot_id, (counts.get(d.bot_id) ?? 0) + 1);
      const ids = [...counts.keys()].sort();
      if (ids.length === 0) {
        say("Nothing to do: there are no dumps.");
        return 0;
      }
      ids.forEach((id, i) => say(`${String(i).padStart(3)}: ${id.padEnd(30)} ${counts.get(id)} dumps`));
      const answer = await ask("Which dump file to process (id or name)? ");
      if (answer === null || answer.trim() === "" || answer.trim() === "q") return 0;
      const a = answer.trim();
      botId = /^\d+$/.test(a) && Number(a) < ids.length ? ids[Number(a)]! : a;
      if (!counts.has(botId)) {
        say(`No dumps of ${botId}.`);
        return 1;
      }
    }
    await processBot(session, botId, () => warnRunning(botId!));
    return 0;
  } finally {
    rl.close();
    await broker.close().catch(() => undefined);
  }
}

guardProcess("intelmqdump", () => verboseArg(process.argv));
main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`intelmqdump: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
