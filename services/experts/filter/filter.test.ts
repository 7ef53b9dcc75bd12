// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot, pyEquals, pyRegex, pyStr } from "../../../shared/sdk/index.js";
import bot, { params, parseTimeLimit } from "./index.js";

const EVENT = {
  __type: "Event", "classification.type": "unauthorised-information-modification",
  "time.source": "2005-01-01T00:00:00+00:00", "source.asn": 123, "extra.test1": true, "extra.test2": "bla",
};
const ALL_PATHS = ["_default", "filter_match", "filter_no_match", "action_other"];
const paths = (out: { output: Record<string, unknown[]> }) => Object.fromEntries(
  ["_default", "filter_match", "filter_no_match", "action_other"].map((p) => [p, (out.output[p] ?? []).length]),
);

test("filter: relative and absolute time limits", () => {
  assert.deepEqual(parseTimeLimit("1 month"), { relativeMs: 30 * 24 * 3600e3 });
  assert.deepEqual(parseTimeLimit("10 hours"), { relativeMs: 10 * 3600e3 });
  assert.deepEqual(parseTimeLimit("2 days"), { relativeMs: 2 * 24 * 3600e3 });
  assert.deepEqual(parseTimeLimit("1 week"), { relativeMs: 7 * 24 * 3600e3 });
  assert.deepEqual(parseTimeLimit("2014-01-01T00:00:00+00:00"), { absolute: Date.UTC(2014, 0, 1) });
  assert.deepEqual(parseTimeLimit("2014-01-01 02:00:00+02:00"), { absolute: Date.UTC(2014, 0, 1) });
  assert.deepEqual(parseTimeLimit("2014-01-01 00:00"), { absolute: Date.UTC(2014, 0, 1) });
  assert.throws(() => parseTimeLimit("some hours"), { code: "IMQ_ERR_CONFIG" });
  assert.throws(() => parseTimeLimit("not a date"), { code: "IMQ_ERR_CONFIG" });
});

test("filter: no usable configuration refuses to start", async () => {
  const refused = { code: "IMQ_ERR_CONFIG", message: /^filter configuration failed - No relevant filter configuration found\.$/ };
  await assert.rejects(runBot(bot, { params: {}, input: [EVENT] }), refused);
  await assert.rejects(runBot(bot, { params: { filter_key: "source.asn", filter_value: 1, filter_action: "maybe" }, input: [EVENT] }), refused);
});

test("filter: not_before drops older events", async () => {
  const out = await runBot(bot, { params: { not_before: "2014-01-01T00:00:00+00:00" }, input: [EVENT] });
  assert.equal(out.output._default?.length ?? 0, 0);
  const newer = { ...EVENT, "time.source": "2015-01-01T00:00:00+00:00" };
  const out2 = await runBot(bot, { params: { not_before: "2014-01-01T00:00:00+00:00" }, input: [newer] });
  assert.deepEqual(out2.output._default, [newer]);
});

test("filter: not_after drops newer events (relative)", async () => {
  const recent = { ...EVENT, "time.source": new Date(Date.now() - 3600e3).toISOString().replace(/\.\d+Z$/, "+00:00") };
  const out = await runBot(bot, { params: { not_after: "1 month" }, input: [EVENT, recent] });
  assert.deepEqual(out.output._default, [EVENT]);
  const out2 = await runBot(bot, { params: { not_before: "2 days" }, input: [EVENT, recent] });
  assert.deepEqual(out2.output._default, [recent]);
});

test("filter: events without time.source pass the time filter", async () => {
  const { "time.source": _, ...noTime } = EVENT;
  const out = await runBot(bot, { params: { not_before: "1 week" }, input: [noTime] });
  assert.deepEqual(out.output._default, [noTime]);
});

test("filter: drop on a boolean extra", async () => {
  const out = await runBot(bot, { params: { filter_key: "extra.test1", filter_value: true, filter_action: "drop" }, input: [EVENT], destinationPaths: ALL_PATHS });
  assert.deepEqual(paths(out), { _default: 0, filter_match: 1, filter_no_match: 0, action_other: 1 });
});

test("filter: the four path combinations", async () => {
  const run = (filter_action: string, filter_value: string) =>
    runBot(bot, { params: { filter_key: "extra.test2", filter_value, filter_action }, input: [EVENT], destinationPaths: ALL_PATHS }).then(paths);
  assert.deepEqual(await run("keep", "bla"), { _default: 1, filter_match: 1, filter_no_match: 0, action_other: 0 });
  assert.deepEqual(await run("keep", "foo"), { _default: 0, filter_match: 0, filter_no_match: 1, action_other: 1 });
  assert.deepEqual(await run("drop", "bla"), { _default: 0, filter_match: 1, filter_no_match: 0, action_other: 1 });
  assert.deepEqual(await run("drop", "foo"), { _default: 1, filter_match: 0, filter_no_match: 1, action_other: 0 });
});

test("filter: a missing key never matches", async () => {
  const out = await runBot(bot, { params: { filter_key: "source.ip", filter_value: "192.0.2.1", filter_action: "keep" }, input: [EVENT], destinationPaths: ALL_PATHS });
  assert.deepEqual(paths(out), { _default: 0, filter_match: 0, filter_no_match: 1, action_other: 1 });
});

test("filter: regex searches the value's text", async () => {
  const keep = (filter_key: string, filter_value: string) => runBot(bot, {
    params: { filter_key, filter_value, filter_action: "keep", filter_regex: "true" }, input: [EVENT],
  }).then((o) => o.output._default?.length ?? 0);
  assert.equal(await keep("classification.type", "^unauthorised-.*-modification$"), 1);
  assert.equal(await keep("classification.type", "^modification"), 0);
  assert.equal(await keep("source.asn", "^12"), 1);
  assert.equal(await keep("extra.test1", "^True$"), 1);
  assert.equal(await keep("extra.test2", "(?P<w>b)la"), 1);
});

test("filter: equality is Python's (number vs string differs, 1 == True)", async () => {
  const keep = (filter_key: string, filter_value: unknown) => runBot(bot, {
    params: { filter_key, filter_value, filter_action: "keep" }, input: [EVENT],
  }).then((o) => o.output._default?.length ?? 0);
  assert.equal(await keep("source.asn", 123), 1);
  assert.equal(await keep("source.asn", "123"), 0);
  assert.equal(await keep("extra.test1", 1), 1);
});

test("filter: named paths without queues are skipped, nothing fails", async () => {
  const out = await runBot(bot, { params: { filter_key: "extra.test2", filter_value: "bla", filter_action: "drop" }, input: [EVENT] });
  assert.equal(out.dumped, 0);
  assert.deepEqual(Object.keys(out.output).sort(), ["_default", "_on_error"]);
  assert.equal(out.output._default!.length + out.output._on_error!.length, 0);
});

test("filter: a Report passes through the filter too", async () => {
  const report = { __type: "Report", raw: "Cg==", "extra.test1": true, "extra.test2": "bla" };
  const out = await runBot(bot, { params: { filter_key: "extra.test1", filter_value: true, filter_action: "drop" }, input: [report] });
  assert.equal(out.output._default?.length ?? 0, 0);
  const out2 = await runBot(bot, { params: { filter_key: "extra.test1", filter_value: false, filter_action: "drop" }, input: [report] });
  assert.deepEqual(out2.output._default, [report]);
});

test("filter: regex and text are Python's ($ before a final newline, float exponents, repr escapes)", async () => {
  const keep = (filter_key: string, filter_value: string, extra: Record<string, unknown>) => runBot(bot, {
    params: { filter_key, filter_value, filter_action: "keep", filter_regex: "true" }, input: [{ ...EVENT, ...extra }],
  }).then((o) => o.output._default?.length ?? 0);
  // re.search('^bla$', 'bla\n') matches; str(1e-07) == '1e-07'; str({'k': '\x01'}) == "{'k': '\\x01'}"
  assert.equal(await keep("extra.line", "^bla$", { "extra.line": "bla\n" }), 1);
  assert.equal(await keep("extra.small", "^1e-07$", { "extra.small": 1e-7 }), 1);
  assert.equal(await keep("extra.d", "\\\\x01", { "extra.d": { k: "\x01" } }), 1);
  assert.equal(await keep("extra.line", "(?m)\\Abla", { "extra.line": "x\nbla" }), 0);
});

test("python helpers", () => {
  assert.ok(pyEquals(1, true) && pyEquals(1.0, 1) && !pyEquals("1", 1) && pyEquals({ a: [1] }, { a: [true] }));
  assert.equal(pyStr(false), "False");
  assert.equal(pyStr(null), "None");
  assert.equal(pyStr({ a: ["x", 1] }), "{'a': ['x', 1]}");
  assert.ok(pyRegex("(?i)^ABC\\Z").test("abc"));
  assert.ok(!pyRegex("^abc\\Z").test("abc\n"));
  assert.equal(params.parse({ filter_regex: "yes" }).filter_regex, true);
  assert.equal(params.parse({ filter_regex: "false" }).filter_regex, false);
  assert.equal(params.parse({}).filter_regex, null);
});
