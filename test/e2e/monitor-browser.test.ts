// SPDX-License-Identifier: AGPL-3.0-only
// The monitor page in a real browser: Debian's chromium, headless, driven by playwright-core,
// against the API, a control service running a pipeline of runtime.yaml and a nats-server, all
// on 127.0.0.1. The graph shows every bot; a bot stopped with intelmqctl turns red within 5 s;
// queue depths and rates on the page move while events flow; a dump recovered by a click is back
// in its queue; an archived queue is replayed from the page with its progress. Screenshots of
// the run go to var/screenshots/ for a person to look at.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { addUserAndLogin, runNode, startApi, stopProcess, type RunningApi } from "../helpers/intelmq-api.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { ROOT } from "../helpers/paths.js";
import { BENCH_COLUMNS, TestPipeline, sleep, waitFor } from "../helpers/pipeline.js";

/**
 * The few DOM names the functions run in the page use: they run in the browser, and the project
 * compiles without the DOM library.
 */
interface PageElement {
  textContent: string | null;
  classList: Iterable<string>;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
}
declare const document: { querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): Iterable<PageElement>; getElementById(id: string): PageElement | null };
declare function getComputedStyle(e: PageElement): { fill: string; stroke: string };

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = join(ROOT, "var", "screenshots");

/** collector -> parser -> taxonomy -> (filter -> phishing output) and (all output). */
function bots(incoming: string): Record<string, unknown> {
  return {
    "mb-collector": {
      module: "intelmq.bots.collectors.file.collector_file", name: "Files", group: "Collector", enabled: true,
      parameters: { path: incoming, postfix: ".csv", delete_file: true, rate_limit: 5, name: "Example Feed", destination_queues: { _default: ["mb-parser-queue"] } },
    },
    "mb-parser": {
      module: "intelmq.bots.parsers.generic.parser_csv", name: "CSV", group: "Parser", enabled: true,
      parameters: { columns: BENCH_COLUMNS, delimiter: ",", destination_queues: { _default: ["mb-taxonomy-queue"] } },
    },
    "mb-taxonomy": {
      module: "intelmq.bots.experts.taxonomy.expert", name: "Taxonomy", group: "Expert", enabled: true,
      parameters: { destination_queues: { _default: ["mb-filter-queue", "mb-all-output-queue"] } },
    },
    "mb-filter": {
      module: "intelmq.bots.experts.filter.expert", name: "Filter", group: "Expert", enabled: true,
      parameters: { filter_key: "classification.type", filter_value: "phishing", filter_action: "keep", destination_queues: { _default: ["mb-phishing-output-queue"] } },
    },
    "mb-phishing-output": { module: "intelmq.bots.outputs.file.output", name: "Phishing", group: "Output", enabled: true, parameters: { file: "var/lib/bots/phishing.txt" } },
    "mb-all-output": { module: "intelmq.bots.outputs.file.output", name: "All", group: "Output", enabled: true, parameters: { file: "var/lib/bots/all.txt" } },
  };
}
const IDS = ["mb-collector", "mb-parser", "mb-taxonomy", "mb-filter", "mb-phishing-output", "mb-all-output"];

const ROWS = [
  "192.0.2.1,a.example.com,http://a.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496",
  "192.0.2.2,b.example.com,http://b.example.com/x,2024-09-01 10:00:00,scanner,mirai,23,64497",
  "192.0.2.3,c.example.com,http://c.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496",
];
const report = (rows: string[]) => ({
  __type: "Report", "feed.name": "Example Feed", "time.observation": "2024-09-16T10:00:00+00:00", raw: Buffer.from(rows.join("\n") + "\n").toString("base64"),
});

/** The fill and stroke the page gives its state classes (index.html). */
const GREEN = { fill: "rgb(220, 243, 223)", stroke: "rgb(46, 125, 50)" };
const RED = { fill: "rgb(251, 213, 213)", stroke: "rgb(198, 40, 40)" };

describe("the monitor page in a browser", {
  timeout: 300_000,
  skip: existsSync(CHROMIUM) ? false : `chromium is not installed at ${CHROMIUM} (apt-get install chromium, or CHROMIUM_PATH): the monitor's browser test needs it`,
}, () => {
  let nats: NatsServer;
  let p: TestPipeline;
  let control: ChildProcess | undefined;
  let api: RunningApi;
  let browser: Browser | undefined;
  let page: Page;

  const ctl = async (args: string[]) => {
    const r = await runNode([join(ROOT, "bin", "intelmqctl.mjs"), "--type", "json", ...args], { ...p.env, INTELMQCTL_CONTROL_WAIT: "0.3" });
    return { ...r, json: r.stdout.trim() ? JSON.parse(r.stdout) as unknown : undefined };
  };
  const depth = async (q: string) => (await p.broker()).queues.depth(q);
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `monitor-${name}.png`), fullPage: true });
  /** What the page shows of a bot: its state attribute, classes, box colours and text lines. */
  const node = (id: string) => page.evaluate((bot) => {
    const g = document.querySelector(`[data-bot="${bot}"]`);
    if (!g) return null;
    const box = getComputedStyle(g.querySelector("rect.box")!);
    return {
      state: g.getAttribute("data-state"), classes: [...g.classList], fill: box.fill, stroke: box.stroke,
      queue: g.querySelector(".queue")?.textContent ?? null, dumps: g.querySelector(".dumps")?.textContent ?? null,
    };
  }, id);
  /** Wait until the page shows the bot in this state (a limit, not a measure of speed). */
  const untilState = (id: string, state: string, timeoutMs: number) => page.waitForFunction(
    ([bot, s]) => document.querySelector(`[data-bot="${bot}"]`)?.getAttribute("data-state") === s, [id, state] as const, { timeout: timeoutMs, polling: 100 },
  );
  /** The number the page shows for a bot's source queue ("queue N ..."). */
  const shownDepth = async (id: string) => {
    const text = (await node(id))?.queue ?? "";
    const m = /^queue (\d+)/.exec(text);
    return m ? Number(m[1]) : null;
  };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    nats = await startNatsServer();
    p = new TestPipeline(nats.url, {});
    const incoming = join(p.root, "var", "lib", "bots", "incoming");
    mkdirSync(incoming, { recursive: true });
    p.writeConfig(bots(incoming));
    const fd = openSync(join(p.root, "var", "log", "intelmq-control.log"), "a");
    control = spawn(process.execPath, [join(ROOT, "bin", "intelmq-control.mjs"), "--host", "monitor-host", "--stop-timeout", "5"], { env: p.env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    api = await startApi({ ...p.env, INTELMQCTL_CONTROL_WAIT: "0.3" }, join(p.root, "var", "log", "intelmq-api.log"));
    await addUserAndLogin(api, p.env, "operator", "browser pw");
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    page = await browser.newPage({ viewport: { width: 1400, height: 680 } });
  });
  after(async () => {
    await browser?.close();
    await stopProcess(api?.proc);
    await stopProcess(control);
    await p?.close();
    await nats?.stop();
  });

  it("logs in and shows every bot of runtime.yaml as a node and every queue between them as an edge, running bots green", async () => {
    await page.goto(`${api.url}/`);
    await page.fill("#login input[name=username]", "operator");
    await page.fill("#login input[name=password]", "browser pw");
    await page.click("#login button");
    await page.waitForSelector("#monitor:not([hidden])");
    for (const id of IDS) await untilState(id, "running", 60_000);
    assert.deepEqual((await page.$$eval(".bot", (gs) => gs.map((g) => g.getAttribute("data-bot")))).sort(), [...IDS].sort(), "one node per bot, no other");
    const edges = await page.$$eval("path.edge", (ps) => ps.map((e) => e.getAttribute("data-queue")));
    assert.deepEqual(edges.sort(), ["mb-all-output-queue", "mb-filter-queue", "mb-parser-queue", "mb-phishing-output-queue", "mb-taxonomy-queue"]);
    const n = await node("mb-filter");
    assert.deepEqual([n!.fill, n!.stroke], [GREEN.fill, GREEN.stroke]);
    assert.match(await page.textContent('[data-bot="mb-filter"] .state') ?? "", /running · 1× monitor-host/, "instances per host");
    await shot("01-running");
  });

  it("a bot stopped with intelmqctl turns red on the page within 5 s; started again from the page", async () => {
    const r = await ctl(["stop", "mb-filter"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json, "stopped");
    // The page asks every 2 s: 5 s is the behaviour asked for, not a measure of speed.
    await untilState("mb-filter", "stopped", 5000);
    const n = await node("mb-filter");
    assert.ok(n!.classes.includes("stopped"));
    assert.deepEqual([n!.fill, n!.stroke], [RED.fill, RED.stroke], "red");
    await shot("02-stopped-red");

    await page.click('[data-bot="mb-filter"]');
    await page.waitForSelector("#bot-detail:not([hidden])");
    assert.equal(await page.textContent("#bot-id"), "mb-filter");
    await page.click('[data-bot-action="start"]');
    await untilState("mb-filter", "running", 30_000);
    assert.deepEqual((await ctl(["status", "mb-filter"])).json, "running");
  });

  it("queue depths and rates on the page move while events flow; outputs stopped and started by group", async () => {
    // Everything runs: the edges show messages per second while reports come in.
    await page.click('[data-bot="mb-taxonomy"]');
    let shownRate = false;
    const feeding = (async () => {
      for (let i = 0; i < 40 && !shownRate; i++) {
        await p.inject("mb-parser-queue", [report(ROWS)], `flow-${i}`);
        await sleep(250);
      }
    })();
    await page.waitForFunction(() => [...document.querySelectorAll(".edge-label")].some((t) => /· (?!0\.0\/s)[\d.]+\/s/.test(t.textContent ?? "")), undefined, { timeout: 30_000, polling: 100 });
    shownRate = true;
    await shot("03-flow");
    await feeding;

    // Outputs stopped as a group: their queues fill, and the page shows it.
    await page.selectOption("#group", "outputs");
    await page.click('[data-group-action="stop"]');
    await untilState("mb-phishing-output", "stopped", 30_000);
    await untilState("mb-all-output", "stopped", 30_000);
    assert.equal(await shownDepth("mb-all-output"), 0);
    await p.inject("mb-parser-queue", [report(ROWS), report(ROWS), report(ROWS)], "queued");
    await waitFor(async () => {
      const shown = await shownDepth("mb-all-output");
      return shown !== null && shown > 0 && shown === await depth("mb-all-output-queue");
    }, 30_000, "the page to show the output's queue filled as the broker counts it");
    assert.ok((await page.textContent('.edge-label[data-queue="mb-all-output-queue"]'))!.startsWith(String(await shownDepth("mb-all-output"))), "the edge shows it too");
    await shot("04-queued");
    await page.click('[data-group-action="start"]');
    await untilState("mb-all-output", "running", 30_000);
    // Not a measure of speed: restarted outputs drain their queues while three other test files
    // load the two cores; 30 s once did not suffice in a whole-suite run.
    await waitFor(async () => (await shownDepth("mb-all-output")) === 0 && (await shownDepth("mb-phishing-output")) === 0, 90_000, "the page to show the outputs' queues emptied");
  });

  it("a dump recovered with a click on the page is back in its queue", async () => {
    await p.inject("mb-parser-queue", [report(["not-an-ip,d.example.com,http://d.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496"])], "bad-line");
    await page.waitForFunction(() => document.querySelector('[data-bot="mb-parser"] .dumps')?.textContent === "1 dump", undefined, { timeout: 30_000, polling: 100 });
    await page.click('[data-bot="mb-parser"]');
    // Stopped first, so that the recovered report waits in the queue instead of failing again.
    await page.click('[data-bot-action="stop"]');
    await untilState("mb-parser", "stopped", 30_000);
    await page.waitForSelector("#dumps .dump");
    assert.equal(await page.locator("#dumps .dump").count(), 1);
    assert.match(await page.textContent("#dumps .dump .reason") ?? "", /invalid value 'not-an-ip'.*source\.ip/);
    // The bot's last log lines say what went wrong.
    await page.waitForFunction(() => /ERROR Failed to parse line/.test(document.getElementById("log")?.textContent ?? ""), undefined, { timeout: 15_000, polling: 200 });
    await shot("05-dump");

    const before = await depth("mb-parser-queue");
    const b = await p.broker();
    assert.equal((await b.dumps.read("mb-parser")).length, 1);
    await page.click('#dumps .dump [data-dump-action="recover"]');
    await waitFor(async () => (await depth("mb-parser-queue")) === before + 1, 10_000, "the recovered report in the parser's queue");
    assert.deepEqual(await b.dumps.read("mb-parser"), [], "the dump is gone");
    await page.waitForFunction(() => document.getElementById("dumps")?.textContent === "No dumps.", undefined, { timeout: 10_000, polling: 100 });
    await page.waitForFunction(() => !document.querySelector('[data-bot="mb-parser"] .dumps'), undefined, { timeout: 10_000, polling: 100 });
    await shot("06-recovered");
  });

  it("replays the parser's archived queue from the page, with its progress", async () => {
    // The collector feeds the parser's queue, so it is archived: every report that entered it.
    await waitFor(async () => (await page.$$eval("#replay-queue option", (os) => os.map((o) => o.getAttribute("value")))).includes("mb-parser-queue"), 10_000, "the archived queue offered");
    const before = await depth("mb-parser-queue");
    await page.selectOption("#replay-queue", "mb-parser-queue");
    await page.click("#replay-start");
    await page.waitForFunction(() => /^Replayed \d+ of \d+ messages/.test(document.getElementById("replay-text")?.textContent ?? ""), undefined, { timeout: 30_000, polling: 100 });
    const text = (await page.textContent("#replay-text"))!;
    const [, replayed, total] = /^Replayed (\d+) of (\d+)/.exec(text)!.map(Number);
    assert.ok(total! > 0 && replayed === total, text);
    const bar = await page.$eval("#replay-bar", (e) => [(e as unknown as { value: number }).value, (e as unknown as { max: number }).max]);
    assert.equal(bar[0], bar[1], "the bar is full");
    assert.equal(bar[1], total);
    assert.equal(await depth("mb-parser-queue"), before + replayed!, "the replayed reports wait in the stopped parser's queue");
    await waitFor(async () => (await shownDepth("mb-parser")) === before + replayed!, 10_000, "the page to show them");
    await shot("07-replayed");
  });
});
