// SPDX-License-Identifier: AGPL-3.0-only
/** The sieve language's syntax: errors with file, line and column, at start and in check(); IntelMQ's harmonization checks. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBot } from "../../../shared/sdk/index.js";
import { loadHarmonization } from "../../../shared/harmonization/index.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { tokenize } from "./lexer.js";
import { parseText } from "./load.js";
import bot from "./index.js";

const h = loadHarmonization();
const dir = tempDir("sieve-syntax-");
let n = 0;

function sieveFile(text: string): string {
  const file = join(dir, `rules-${++n}.sieve`);
  writeFileSync(file, text);
  return file;
}

/** The error text parsing `text` as rules.sieve gives. */
function errorOf(text: string): string {
  try {
    parseText(text, "rules.sieve", h);
  } catch (err) {
    return (err as Error).message;
  }
  return "no error";
}

test("sieve syntax: errors name file, line and column of the offending token", () => {
  assert.equal(errorOf("if comment == 'x'\n  add comment = 'y'\n}"), "rules.sieve:2:3: expected '{', found 'add'");
  assert.equal(errorOf("if comment == 'x' {\n  add comment 'y'\n}"), "rules.sieve:2:15: expected '=', '+=' or '-=', found string 'y'");
  assert.equal(errorOf("if Comment == 'x' { drop }"), "rules.sieve:1:4: expected a key (lower-case letters, digits, '_' and '.') or a $variable, found 'Comment'");
  assert.equal(errorOf("\n\n  if comment == 'x { drop }"), "rules.sieve:3:17: unterminated string: no closing '");
  assert.equal(errorOf("elif comment == 'x' { drop }"), "rules.sieve:1:1: 'elif' without a preceding 'if' block");
  assert.equal(errorOf("if comment :foo 'x' { drop }"), "rules.sieve:1:12: expected a comparison operator, found ':foo'");
  assert.equal(errorOf("if comment == 'x' { drop "), "rules.sieve:1:26: expected '}', found the end of the file");
  assert.equal(errorOf("add! comment = 'x' @"), "rules.sieve:1:20: unexpected character \"@\"");
  assert.equal(errorOf("if comment == 'a' && { drop }"), "rules.sieve:1:22: expected a condition (a key, ':exists', ':notexists', '!' or '('), found '{'");
  assert.equal(errorOf("if comment == 'x' { drop } else if comment == 'y' { keep }"), "rules.sieve:1:33: expected '{' after 'else' (an else-if is written 'elif')");
  assert.equal(errorOf("path ['a', 'b',]"), "rules.sieve:1:16: expected a path name in quotes, found ']'");
  assert.equal(errorOf("if comment :in [] { drop }"), "rules.sieve:1:17: expected a value (string, number, boolean or $variable), found ']'");
  assert.equal(errorOf("if comment :in ['a', 1] { drop }"), "rules.sieve:1:22: ':in' takes a list of strings or a list of numbers, not both (nor booleans)");
  // a block comment keeps the line count; an unterminated one is named where it starts
  assert.equal(errorOf("/* one\ntwo */\nif x { drop }"), "rules.sieve:3:6: expected a comparison operator, found '{'");
  assert.equal(errorOf("drop\n  /* open\n\n"), "rules.sieve:2:3: unterminated comment: '/*' without '*/'");
});

test("sieve syntax: IntelMQ's harmonization checks (IP addresses, numeric fields, network ranges)", () => {
  assert.equal(errorOf("if source.ip == '#fail' { drop }"), "rules.sieve:1:17: Invalid IP address: #fail.");
  assert.equal(errorOf("if destination.ip :in ['192.0.2.1', '1.2.3'] { drop }"), "rules.sieve:1:37: Invalid IP address: 1.2.3.");
  assert.equal(errorOf("if source.fqdn == 2 { drop }"), "rules.sieve:1:19: Incompatible type: FQDN.");
  assert.equal(errorOf("if extra.score > 2 { drop }"), "rules.sieve:1:18: Invalid key: extra.score.");
  assert.equal(errorOf("if source.ip << '1.2.3.400/8' { drop }"), "rules.sieve:1:17: Invalid ip range: 1.2.3.400/8.");
  assert.match(errorOf("if comment =~ 'a(b' { drop }"), /^rules\.sieve:1:15: invalid regular expression "a\(b": .*Unterminated group/);
  assert.match(errorOf("if comment :regexin ['x', '[a'] { drop }"), /^rules\.sieve:1:27: invalid regular expression "\[a": .*Unterminated character class/);
  assert.equal(errorOf("if source.ip << ['10.0.0.0/8', 'fe80::/10'] && source.port :in [80, 443] && feed.accuracy >= 50.5 { drop }"), "no error");
});

test("sieve syntax: tokens: add! and append! are keywords, add != compares a key named add; numbers, keys and strings", () => {
  assert.equal(errorOf("if add != 'x' { add!comment='y' append! extra.l 1 }"), "no error");
  const toks = tokenize("x -= -1.5e3 'it\\'s' \"a\\'b\" 1.2.3 :exists", "f").map((t) => [t.type, t.text, t.value]);
  assert.deepEqual(toks, [
    ["word", "x", ""], ["op", "-=", ""], ["word", "-1.5e3", ""], ["string", "'it\\'s'", "it's"], ["string", "\"a\\'b\"", "a\\'b"],
    ["word", "1.2.3", ""], ["op", ":exists", ""], ["eof", "", ""],
  ]);
  // the values keep their Python types: 1 (int), 1.0 (float), true (bool), '1' (str)
  const file = parseText("add extra.a = 1\nadd extra.b = 1.0\nadd extra.c = true\nadd extra.d = '1'", "f", h);
  assert.deepEqual(file.statements.map((s) => (s.t === "add" ? s.value.kind : s.t)), ["int", "float", "bool", "string"]);
});

test("sieve: a syntax error stops the bot at start with a ConfigurationError naming file, line and column", async () => {
  const file = sieveFile("if comment == 'x' {\n  add comment 'y'\n}\n");
  await assert.rejects(runBot(bot, { params: { file }, input: [] }), (err: Error & { code?: string }) => {
    assert.equal(err.code, "IMQ_ERR_CONFIG");
    assert.equal(err.message, `sieve configuration failed - ${file}:2:15: expected '=', '+=' or '-=', found string 'y'`);
    return true;
  });
  // the error is in the second of two files
  const good = sieveFile("drop\n");
  const bad = sieveFile("# fine\nif source.fqdn == 2 { drop }\n");
  await assert.rejects(runBot(bot, { params: { file: [good, bad] }, input: [] }), { message: `sieve configuration failed - ${bad}:2:19: Incompatible type: FQDN.` });
  const missing = join(dir, "missing.sieve");
  await assert.rejects(runBot(bot, { params: { file: missing }, input: [] }), { code: "IMQ_ERR_CONFIG", message: new RegExp(`^sieve configuration failed - ${missing}: cannot read the sieve file`) });
});

test("sieve: check() reports the same error text, and warns of times and keys that fail events at run time", async () => {
  const ctx = { botId: "sieve-expert", rootDir: dir, harmonization: h };
  const bad = sieveFile("if comment == 'x' {\n  add comment 'y'\n}\n");
  assert.deepEqual(await bot.check!({ file: bad }, ctx), [["error", `${bad}:2:15: expected '=', '+=' or '-=', found string 'y'`]]);
  const odd = sieveFile("if time.source :after '10 h' { drop }\nadd extra.x = 1\nadd foo.bar = 1\nupdate time.source += 'soon'\n");
  assert.deepEqual(await bot.check!({ file: odd }, ctx), [
    ["warning", `${odd}:1:23: "10 h" is no date nor relative time ('<n> <unit>'): events reaching it fail.`],
    ["warning", `${odd}:3:5: foo.bar is no field of the harmonization: events reaching 'add' fail.`],
    ["warning", `${odd}:4:23: "soon" is no relative time ('<n> <unit>'): events reaching it fail.`],
  ]);
  // relative file names are under the root
  writeFileSync(join(dir, "relative.sieve"), "keep\n");
  assert.deepEqual(await bot.check!({ file: "relative.sieve" }, ctx), []);
});
