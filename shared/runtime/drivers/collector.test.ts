// SPDX-License-Identifier: AGPL-3.0-only
// A collection round that fails midway: it returns only after the reports it already sent were
// confirmed or refused, so that the collector knows what was stored before its next round.
import { test } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { Report } from "../../message/index.js";
import { Stats } from "../steps/stats.js";
import type { Sender } from "../steps/sender.js";
import { Waker } from "../util.js";
import type { CollectorImpl, RuntimeParams } from "../types.js";
import { CollectorRounds, type CollectorEnv } from "./collector.js";

function env(sender: Pick<Sender, "publish">): CollectorEnv {
  const log = pino({ level: "silent" });
  return {
    botId: "c", dest: { _default: ["q"] }, log, window: 8, halted: () => false, tap: () => null,
    runtime: { error_max_retries: 0, error_procedure: "pass", error_retry_delay: 0, testing: true, load_balance: false } as unknown as RuntimeParams,
    feed: { name: "F", accuracy: 100, code: null, provider: null, documentation: null },
    stats: new Stats(log, { count: 0, seconds: 0 }), sender: sender as Sender, waker: new Waker(),
  };
}

const report = (text: string) => new Report({ raw: Buffer.from(text).toString("base64") });

test("a round failing after two reports were sent returns only once both are confirmed", async () => {
  const release: (() => void)[] = [];
  const sender = { publish: () => new Promise<void>((r) => { release.push(r); }) };
  const queued: string[] = [];
  const impl: CollectorImpl = {
    *collect() {
      yield report("a");
      yield report("b");
      throw new Error("the peer went away");
    },
    queued: (r) => { queued.push(String(r.get("raw"))); },
  };
  const rounds = new CollectorRounds(impl, env(sender));
  let done = false;
  const round = rounds.round().then((s) => { done = true; return s; });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(release.length, 2, "both reports were sent");
  assert.equal(done, false, "the round waits for its confirmations");
  for (const r of release) r();
  assert.equal(await round, "ok");
  assert.equal(queued.length, 2, "both were told queued before the round ended");
});

test("a refused publish of a round fails the round, also when it settles after the iteration", async () => {
  const sender = { publish: () => new Promise<void>((_r, reject) => setTimeout(() => reject(new Error("refused")), 20)) };
  const failed: string[] = [];
  let committed = false;
  const impl: CollectorImpl = {
    *collect() { yield report("a"); },
    failed: (r) => { failed.push(String(r.get("raw"))); },
    commit: () => { committed = true; },
  };
  const e = env(sender);
  assert.equal(await new CollectorRounds(impl, e).round(), "ok");
  assert.equal(e.stats.counters.failure, 1, "the round failed");
  assert.equal(failed.length, 1);
  assert.equal(committed, false, "nothing is marked fetched");
});
