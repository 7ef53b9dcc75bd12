// SPDX-License-Identifier: AGPL-3.0-only
// Behaviour beyond IntelMQ's own cases; expected values are what Python/IntelMQ give.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  base64Encode, callTypeMethod, createHarmonization, loadHarmonization, pyEquals, pyFloatRepr, pyJsonDumps, pyRegex, pyRepr, sanitizeDateTime, types,
  PyFloat,
} from "./index.js";

const san = (t: string, v: unknown) => types[t]!.sanitize(v);
const valid = (t: string, v: unknown, s = false) => types[t]!.isValid(v, s);

test("IPAddress prints addresses as Python's ipaddress", () => {
  assert.equal(san("IPAddress", "2001:DB8::1"), "2001:db8::1");
  assert.equal(san("IPAddress", "2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  assert.equal(san("IPAddress", "::ffff:192.0.2.1"), "::ffff:c000:201");
  assert.equal(san("IPAddress", "42540766411282592856903984951653826561"), "2001:db8::1");
  assert.equal(san("IPAddress", "1:0:0:2:0:0:0:3"), "1:0:0:2::3");
  assert.equal(san("IPAddress", "1:0:1:0:1:0:1:0"), "1:0:1:0:1:0:1:0");
  assert.equal(san("IPAddress", "0:0:0:0:0:0:0:1/128"), "::1");
  assert.equal(san("IPAddress", "192.0.2.1/32"), "192.0.2.1");
  assert.equal(san("IPAddress", "192.0.2.1/31"), null);
  assert.equal(san("IPAddress", 3221225985), "192.0.2.1");
  assert.equal(valid("IPAddress", "0.0.0.0"), false);
  assert.equal(valid("IPAddress", "0.0.0.0", true), false);
  assert.equal(valid("IPAddress", "01.2.3.4"), false);
  assert.equal(valid("IPAddress", "2001:DB8::1"), true);
  assert.equal(valid("IPAddress", "1.2.3"), false);
  assert.equal(valid("IPAddress", "1::2::3"), false);
  assert.equal(callTypeMethod("IPAddress", "to_int", { value: "192.0.2.1" }), 3221225985);
  assert.equal(callTypeMethod("IPAddress", "version", { value: "::1" }), 6);
  assert.equal(callTypeMethod("IPAddress", "to_reverse", { ip_addr: "192.0.2.1" }), "1.2.0.192.in-addr.arpa.");
});

test("IPNetwork", () => {
  assert.equal(san("IPNetwork", "192.0.2.1/24"), "192.0.2.0/24");
  assert.equal(san("IPNetwork", "192.0.2.0/255.255.255.0"), "192.0.2.0/24");
  assert.equal(san("IPNetwork", "10.0.0.0/0.0.0.255"), "10.0.0.0/24");
  assert.equal(san("IPNetwork", "2001:DB8::1/32"), "2001:db8::/32");
  assert.equal(san("IPNetwork", "192.0.2.1"), "192.0.2.1/32");
  assert.equal(valid("IPNetwork", "192.0.2.1/24"), false);
});

test("FQDN and URL", () => {
  assert.equal(san("FQDN", "ö1.at"), "xn--1-0ga.at");
  assert.equal(san("FQDN", "Bücher.EXAMPLE."), "xn--bcher-kva.example");
  assert.equal(valid("FQDN", "xn--1-0ga.at"), true);
  assert.equal(valid("FQDN", "1.2.3.4"), false);
  assert.equal(valid("FQDN", "a..b"), false);
  assert.equal(valid("FQDN", "example.com/x"), false);
  assert.equal(valid("FQDN", `${"a".repeat(64)}.com`), false);
  assert.equal(san("URL", "hxxp://example.com/a"), "http://example.com/a");
  assert.equal(san("URL", "file:///etc/hosts"), "file://localhost/etc/hosts");
  assert.equal(san("URL", "example.com/a"), null);
  assert.equal(valid("URL", "http://[::1"), false);
  assert.equal(valid("URL", "//example.com"), true);
  assert.equal(valid("URL", "http:/example.com"), false);
  assert.equal(callTypeMethod("URL", "to_domain_name", { url: "http://example.com:80/x" }), "example.com:80");
  // control characters never make a valid FQDN or URL, sanitized or not (leading and trailing whitespace is stripped)
  for (const c of ["\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9f"]) {
    const fqdn = `exa${c}mple.com`;
    const url = `http://example.com/a${c}b`;
    assert.equal(valid("FQDN", fqdn), false, JSON.stringify(fqdn));
    assert.equal(san("FQDN", fqdn), null, JSON.stringify(fqdn));
    assert.equal(valid("FQDN", fqdn, true), false, JSON.stringify(fqdn));
    assert.equal(valid("URL", url), false, JSON.stringify(url));
    assert.equal(san("URL", url), null, JSON.stringify(url));
    assert.equal(valid("URL", `http://exa${c}mple.com/`, true), false, JSON.stringify(url));
  }
  assert.equal(san("FQDN", " example.com\n"), "example.com");
  assert.equal(san("URL", "\thttp://example.com/\r\n"), "http://example.com/");
  assert.equal(valid("URL", "http://example.com/a\u00a0b"), true, "no-break space is no control character");
  assert.equal(callTypeMethod("URL", "to_domain_name", { url: "http://192.0.2.1/x" }), null);
});

test("the common cases' shortcuts give what the general paths give", () => {
  assert.equal(san("URL", "http://[::1/x"), null, "unbalanced brackets");
  assert.equal(san("URL", "http://example.com"), "http://example.com");
  assert.equal(san("URL", "mailto:a@example.com"), null, "no netloc");
  assert.equal(san("FQDN", "..example.com.."), "example.com");
  for (const [text, int] of [["443", 443], ["0443", 443], [" 80 ", 80], ["+5", 5], ["-7", -7], ["1_000", 1000], ["999999999999999", 999999999999999]] as const) {
    assert.equal(san("Integer", text), int, text);
  }
  for (const text of ["", "1.5", "0x10", "1__0", "12a"]) assert.equal(san("Integer", text), null, text);
  // raw: the same text as Buffer's base64 on either side of the reused buffer's size, any UTF-8
  for (const text of ["", "a,b\n", "äöü😀", "\ud800x", "x".repeat(4096), "😀".repeat(2048), "y".repeat(5000)]) {
    assert.equal(base64Encode(text), Buffer.from(text, "utf8").toString("base64"), text.slice(0, 8));
  }
});

test("what URL, DateTime and Base64 sanitize returns is valid (the table checks no more after it)", () => {
  // pieces a generator joins at random: schemes, hosts, separators, whitespace and control characters
  const pieces: Record<string, string[]> = {
    URL: ["http://", "https://", "hxxp://", "hxxps://", "file://", "file:", "ftp://", "//", "", " ", "\t", "\n", "\x00", "\x85", "\u00a0",
      "\u2003", "[", "]", "[::1]", "example.com", "ex ample", ":80", "/", "?", "#", "a", "ü", "%", "@", "user:pw@", ".", "mailto:", "HTTP://", "x:"],
    DateTime: ["2024", "-", "09", "9", "01", "1", "31", "29", "02", "T", "t", " ", "00", "23", "24", ":", "59", "60", ".", "123", "123456",
      "1234567", "+00:00", "+01:00", "Z", "-05:00", "UTC", "\t", "Sep", "2024-09-16", "10:00:00", "0001", "9999", "pm", "  "],
    Base64: ["", "a", "ü", "\x00", "==", "+/", "AAAA", " ", "\ud800", "😀"],
  };
  let state = 7;
  const next = (n: number) => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state % n; };
  let sanitized = 0;
  for (let i = 0; i < 20_000; i++) {
    for (const [type, parts] of Object.entries(pieces)) {
      let text = "";
      for (let k = 1 + next(8); k > 0; k--) text += parts[next(parts.length)];
      let out: unknown;
      try { out = san(type, text); } catch { continue; }
      if (out === null || out === undefined) continue;
      sanitized++;
      assert.equal(valid(type, out), true, `${type} ${JSON.stringify(text)} -> ${JSON.stringify(out)}`);
    }
  }
  assert.ok(sanitized > 10_000, `enough values sanitized to say so (${sanitized})`);
});

test("numbers, booleans, enumerations", () => {
  assert.equal(san("Integer", " 12 "), 12);
  assert.equal(san("Integer", "1_000"), 1000);
  assert.equal(san("Integer", "1.5"), null);
  assert.equal(san("Integer", 3.9), 3);
  assert.equal(san("ASN", "AS64496"), 64496);
  assert.equal(san("ASN", "as0"), null);
  assert.equal(san("Float", "1"), 1);
  assert.equal(san("Float", " -31.e-2"), -0.31);
  assert.equal(san("Accuracy", true), 100);
  assert.equal(san("Accuracy", 101), null);
  assert.equal(valid("Accuracy", false), true);
  assert.equal(san("Boolean", " TRUE "), true);
  assert.equal(san("Boolean", 2), null);
  assert.equal(san("TLP", "tlp:yellow"), "AMBER");
  assert.equal(san("Registry", "ripencc"), "RIPE");
  assert.equal(san("ClassificationType", "C&C"), "c2-server");
  assert.equal(san("ClassificationTaxonomy", "Malicious Code"), "malicious-code");
  assert.equal(san("String", 5), "5");
  assert.equal(san("String", 0), null);
  assert.equal(san("LowercaseString", 5), null);
  assert.equal(valid("LowercaseString", 5, true), true);
  assert.equal(san("JSON", { b: 1, a: "ü" }), '{"a": "\\u00fc", "b": 1}');
  assert.equal(san("JSONDict", "{}"), '"{}"');
  assert.equal(valid("JSONDict", { a: 1 }, true), true);
  assert.equal(san("Base64", "lorem ipsum"), "bG9yZW0gaXBzdW0=");
  assert.equal(valid("Base64", "bG9yZW0gaXBzdW0="), true);
  assert.equal(valid("Base64", "bG9y ZW0g\naXBzdW0="), true);
  assert.equal(valid("Base64", "foobar"), false);
});

test("DateTime converters", () => {
  const c = (value: unknown, format: string) => callTypeMethod("DateTime", "convert", { value, format });
  assert.equal(c("1441008970123", "epoch_millis"), "2015-08-31T08:16:10+00:00");
  assert.equal(c("144100897012", "epoch_millis"), "2015-08-31T08:16:10+00:00");
  assert.equal(c(1441008970.5, "timestamp"), "2015-08-31T08:16:10.500000+00:00");
  assert.equal(c("2019-07-01 15:15:15 +0200", "from_format|%Y-%m-%d %H:%M:%S %z"), "2019-07-01T13:15:15+00:00");
  assert.equal(c("Jul 01 2019 03:15:15 PM", "from_format|%b %d %Y %I:%M:%S %p"), "2019-07-01T15:15:15+00:00");
  assert.equal(c("2019-07-01T15:15:15+00:00", "utc_isoformat"), "2019-07-01T15:15:15+00:00");
  assert.throws(() => c("2019-07-01 15:15:15", "utc_isoformat"), (e: { intelmqName?: string }) => e.intelmqName === "ValueError");
  assert.throws(() => c("x", "nope"), (e: { intelmqName?: string }) => e.intelmqName === "KeyError");
  assert.throws(() => c("31-02-2019", "from_format|%d-%m-%Y"), (e: { intelmqName?: string }) => e.intelmqName === "ValueError");
  assert.match(callTypeMethod("DateTime", "generate_datetime_now", {}) as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
});

test("DateTime sanitize: the formats feeds use", () => {
  const cases: [string, string | null][] = [
    ["2019-07-01T15:15:15+00:00", "2019-07-01T15:15:15+00:00"],
    ["2019-07-01T15:15:15.123+00:00", "2019-07-01T15:15:15.123+00:00"],
    ["2019-07-01 15:15:15", "2019-07-01T15:15:15+00:00"],
    ["2019-07-01T15:15:15Z", "2019-07-01T15:15:15+00:00"],
    ["2019-07-01T15:15:15.5Z", "2019-07-01T15:15:15.500000+00:00"],
    ["2019-07-01T15:15:15+02:00", "2019-07-01T13:15:15+00:00"],
    ["2019-07-01T15:15:15-0130", "2019-07-01T16:45:15+00:00"],
    ["2019-07-01", "2019-07-01T00:00:00+00:00"],
    ["Tue, 01 Jul 2019 15:15:15 +0200", "2019-07-01T13:15:15+00:00"],
    ["01 Jul 2019 15:15:15 GMT", "2019-07-01T15:15:15+00:00"],
    ["Jul 1 2019 3:15 PM", "2019-07-01T15:15:00+00:00"],
    ["July 1, 2019, 15:15", "2019-07-01T15:15:00+00:00"],
    ["07/01/2019 15:15:15", "2019-07-01T15:15:15+00:00"],
    ["2019/07/01 15:15", "2019-07-01T15:15:00+00:00"],
    ["20190701T151515Z", "2019-07-01T15:15:15+00:00"],
    ["20190701", "2019-07-01T00:00:00+00:00"],
    ["Mon Jul  1 15:15:15 UTC 2019", "2019-07-01T15:15:15+00:00"],
    ["2019-07-01 15:15:15 CET", "2019-07-01T15:15:15+00:00"],
    ["1441008970", null], // dateutil rejects bare epochs; feeds name a converter instead
    ["not a date", null],
    ["", null],
  ];
  for (const [input, want] of cases) assert.equal(sanitizeDateTime(input), want, input);
  assert.equal(valid("DateTime", "2019-07-01t15:15:15+00:00"), true);
  assert.equal(valid("DateTime", "2019-02-30T15:15:15+00:00"), false);
  assert.equal(valid("DateTime", "2019-07-01T15:15:15Z"), false);
  assert.equal(valid("DateTime", 1441008970, true), false);
});

test("Python repr and json.dumps", () => {
  const floats: [number, string][] = [[1e16, "1e+16"], [1e-5, "1e-05"], [0.1, "0.1"], [123, "123.0"], [1.5e-7, "1.5e-07"],
    [12345678901234567890, "1.2345678901234567e+19"], [1e22, "1e+22"], [0.0001, "0.0001"], [123456789.123, "123456789.123"],
    [-2.5, "-2.5"], [1e15, "1000000000000000.0"], [9999999999999998, "9999999999999998.0"]];
  for (const [f, r] of floats) assert.equal(pyFloatRepr(f), r, r);
  const strs: [string, string][] = [["it's", `"it's"`], ['a"b', `'a"b'`], [`it's "x"`, `'it\\'s "x"'`], ["\n\t\x01", "'\\n\\t\\x01'"],
    ["ü", "'ü'"], ["\u200b", "'\\u200b'"], ["\u{1F600}", "'\u{1F600}'"], ["\x7f\x80\xa0", "'\\x7f\\x80\\xa0'"], ["a\\b", "'a\\\\b'"],
    ["\u2028", "'\\u2028'"], ["\ud800", "'\\ud800'"]];
  for (const [s, r] of strs) assert.equal(pyRepr(s), r, r);
  assert.equal(pyRepr([1, "a", null, true, 2.5, { k: new PyFloat(1) }]), "[1, 'a', None, True, 2.5, {'k': 1.0}]");
  assert.equal(pyJsonDumps({ b: 1, a: [new PyFloat(1), "ü", null] }, { sortKeys: true, ensureAscii: false }), '{"a": [1.0, "ü", null], "b": 1}');
  assert.equal(pyJsonDumps({ x: "ü\u2028" }), '{"x": "\\u00fc\\u2028"}');
});

test("pyRegex keeps Python's meaning", () => {
  assert.equal(pyRegex("^.*[^\\.]$").test("abc\n"), true);
  assert.equal(pyRegex("^a$").test("a\n"), true);
  assert.equal(pyRegex("^a\\Z").test("a\n"), false);
  assert.equal(pyRegex("(?P<x>a)(?P=x)").test("aa"), true);
  assert.equal(pyRegex("^(ip|tcp)$", true).test("TCP"), true);
});

test("pyRegex: \\A is the start of the string even under (?m); pyEquals is Python's ==", () => {
  // re.search(r'(?m)\Ab', 'a\nb') is None, re.search(r'(?m)^b', 'a\nb') matches
  assert.equal(pyRegex("(?m)\\Ab").test("a\nb"), false);
  assert.equal(pyRegex("(?m)^b").test("a\nb"), true);
  assert.equal(pyRegex("\\Aa").test("ab"), true);
  assert.ok(pyEquals(1, true) && pyEquals(new PyFloat(1), 1) && pyEquals({ a: [1] }, { a: [true] }));
  assert.ok(!pyEquals("1", 1) && !pyEquals([1], { 0: 1 }) && !pyEquals(NaN, NaN) && !pyEquals(null, 0));
});

test("field table: length, regex and iregex, extra sub-keys, custom tables", () => {
  const h = loadHarmonization();
  assert.equal(h, loadHarmonization(), "cached per path");
  assert.equal(h.fields("Event").size, 82);
  assert.equal(h.fields("Report").size, 10);
  assert.equal(h.check("Event", "source.port", "80", true), 80);
  assert.throws(() => h.check("Event", "source.port", 123456, false), (e: { intelmqName?: string }) => e.intelmqName === "InvalidValue");
  assert.throws(() => h.check("Event", "protocol.transport", "foo", true), (e: { intelmqName?: string }) => e.intelmqName === "InvalidValue");
  assert.equal(h.check("Event", "protocol.transport", "TCP", true), "tcp");
  assert.throws(() => h.check("Event", "source.fqdn", "example.com.", false), (e: { intelmqName?: string }) => e.intelmqName === "InvalidValue");
  assert.throws(() => h.check("Event", "event_hash", "das f78", false), (e: { intelmqName?: string }) => e.intelmqName === "InvalidValue");
  assert.deepEqual(h.check("Event", "extra.anything", { a: [1] }, false), { a: [1] });
  assert.throws(() => h.check("Event", "source.ip.x", "1", false), (e: { intelmqName?: string }) => e.intelmqName === "InvalidKey");
  assert.throws(() => h.check("Report", "source.ip", "192.0.2.1", false), (e: { intelmqName?: string }) => e.intelmqName === "InvalidKey");
  const custom = createHarmonization({ event: { "foo.bar": { type: "Integer", description: "x" } } });
  assert.equal(custom.check("Event", "foo.bar", "5", true), 5);
  assert.throws(() => createHarmonization({ event: { "foo..bar": { type: "String" } } }), (e: { intelmqName?: string }) => e.intelmqName === "InvalidKey");
});

test("pyJsonDumps writes strings as Python's json.dumps, with and without ensure_ascii", () => {
  // expected values printed by Python 3.11
  const cases: [string, string, string][] = [
    ["plain", "\"plain\"", "\"plain\""],
    ["q\"uote", "\"q\\\"uote\"", "\"q\\\"uote\""],
    ["back\\slash", "\"back\\\\slash\"", "\"back\\\\slash\""],
    ["ctl\u0001\u001f\u007f", "\"ctl\\u0001\\u001f\u007f\"", "\"ctl\\u0001\\u001f\\u007f\""],
    ["nl\n\r\t\b\f", "\"nl\\n\\r\\t\\b\\f\"", "\"nl\\n\\r\\t\\b\\f\""],
    ["\u00fc\u20ac\ud83d\ude00", "\"\u00fc\u20ac\ud83d\ude00\"", "\"\\u00fc\\u20ac\\ud83d\\ude00\""],
    ["mix \"\u00fc\"\n", "\"mix \\\"\u00fc\\\"\\n\"", "\"mix \\\"\\u00fc\\\"\\n\""],
    ["ls\u2028", "\"ls\u2028\"", "\"ls\\u2028\""],
  ];
  for (const [value, raw, ascii] of cases) {
    assert.equal(pyJsonDumps(value, { ensureAscii: false }), raw, JSON.stringify(value));
    assert.equal(pyJsonDumps(value), ascii, JSON.stringify(value));
  }
  assert.equal(pyJsonDumps({ b: 1, a: "x", A: 2, "\u00e9": 3, _: 4 }, { sortKeys: true, ensureAscii: false }), "{\"A\": 2, \"_\": 4, \"a\": \"x\", \"b\": 1, \"\u00e9\": 3}");
});

test("a length limit on an Integer field counts str()'s characters, the sign too (without making the string)", () => {
  const h = createHarmonization({ event: { "source.port": { type: "Integer", description: "x", length: 5 } as never, "foo.nn": { type: "Integer", description: "x", length: 1 } as never } });
  const port = h.field("Event", "source.port")!;
  assert.deepEqual([0, 9, 99999, 100000, -1234, -12345, -0].map((v) => port.valid(v)), [true, true, true, false, true, false, true]);
  const one = h.field("Event", "foo.nn")!;
  assert.deepEqual([0, 9, 10, -1].map((v) => one.valid(v)), [true, true, false, false]);
});
