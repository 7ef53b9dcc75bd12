// SPDX-License-Identifier: AGPL-3.0-only
// appendOutput's journal across crashes, crashes played by dropping an instance without shutdown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import type { Event } from "../message/index.js";
import { appendOutput } from "./output-files.js";
import type { BotContext, InputRef, OutputImpl } from "./types.js";
import { tempDir } from "../../test/helpers/tmp.js";

function setup() {
  const dir = tempDir("append-output-");
  const file = join(dir, "out.txt");
  const ctx = { botId: "out", log: pino({ level: "silent" }), stateDir: join(dir, "state"), rootDir: dir, testing: false } as unknown as BotContext;
  const start = () => appendOutput(ctx, { file, formatFilename: false, encodingErrorsMode: "strict", header: () => null, render: (e) => `${(e as unknown as { line: string }).line}\n` });
  const journal = join(dir, "state", "output.journal");
  return { file, start, journal };
}

const input = (seq: number): InputRef => ({ key: `q:${seq}:x`, queue: "q", seq });
async function deliver(out: OutputImpl, seq: number, lines: string[]): Promise<void> {
  for (const line of lines) await out.export({ line } as unknown as Event);
  await out.flush!(input(seq));
}

test("an input whose write a crash cut is written when it comes back, even after other inputs and a second crash", async () => {
  const { file, start, journal } = setup();
  await deliver(start(), 1, ["a1", "a2"]);
  // A crash after input 2's journal record and part of its write.
  const st = statSync(file);
  appendFileSync(journal, JSON.stringify({ k: input(2).key, f: file, o: st.size, n: 6, i: st.ino }) + "\n");
  appendFileSync(file, "b1");
  const second = start();
  assert.equal(readFileSync(file, "utf8"), "a1\na2\n", "the cut write is undone at start");
  await deliver(second, 3, ["c1"]);
  // Second crash (no shutdown), before input 2 came back.
  const third = start();
  await deliver(third, 2, ["b1", "b2"]);
  await deliver(third, 3, ["c1"]);
  await deliver(third, 1, ["a1", "a2"]);
  assert.equal(readFileSync(file, "utf8"), "a1\na2\nc1\nb1\nb2\n");
});

test("an input whose journal record was synced but nothing written is written when it comes back", async () => {
  const { file, start, journal } = setup();
  await deliver(start(), 1, ["a1"]);
  const st = statSync(file);
  appendFileSync(journal, JSON.stringify({ k: input(2).key, f: file, o: st.size, n: 3, i: st.ino }) + "\n");
  const second = start();
  await deliver(second, 3, ["c1"]);
  await deliver(start(), 2, ["b1"]);
  assert.equal(readFileSync(file, "utf8"), "a1\nc1\nb1\n");
});

test("complete writes are not repeated after a crash, also when older than the newest", async () => {
  const { file, start } = setup();
  const first = start();
  await deliver(first, 1, ["a1"]);
  await deliver(first, 2, ["b1"]);
  await deliver(first, 3, ["c1"]);
  const second = start();
  for (const [seq, l] of [[1, "a1"], [2, "b1"], [3, "c1"]] as const) await deliver(second, seq, [l]);
  assert.equal(readFileSync(file, "utf8"), "a1\nb1\nc1\n");
});
