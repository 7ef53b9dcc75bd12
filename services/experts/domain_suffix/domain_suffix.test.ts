// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBot } from "../../../shared/sdk/index.js";
import { updateDatabase } from "../../../shared/runtime/index.js";
import { serveFiles } from "../../../test/helpers/http-file.js";
import bot, { database, params } from "./index.js";
import { PublicSuffixList } from "./psl.js";
import { tempDir } from "../../../test/helpers/tmp.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });

const LIST = `// a small list in the format of publicsuffix.org
// ===BEGIN ICANN DOMAINS===
com
uk
co.uk
// wildcard with an exception
*.ck
!www.ck
// IDN: 中国 and 公司.cn
中国
cn
公司.cn
// ===END ICANN DOMAINS===
// ===BEGIN PRIVATE DOMAINS===
blogspot.com
// ===END PRIVATE DOMAINS===
`;

function listFile(): string {
  const f = join(tempDir("psl-"), "public_suffix_list.dat");
  writeFileSync(f, LIST);
  return f;
}

test("PublicSuffixList: rules, wildcards, exceptions, IDN, ICANN section only", () => {
  const psl = new PublicSuffixList(LIST, true);
  assert.equal(psl.publicSuffix("www.example.com"), "com");
  assert.equal(psl.publicSuffix("a.b.example.co.uk"), "co.uk");
  assert.equal(psl.publicSuffix("shop.example.ck"), "example.ck", "wildcard: one more label");
  assert.equal(psl.publicSuffix("www.ck"), "ck", "exception: one label less");
  assert.equal(psl.publicSuffix("xn--85x722f.xn--fiqs8s"), "xn--fiqs8s", "punycode names match unicode rules");
  assert.equal(psl.publicSuffix("xn--85x722f.xn--55qx5d.cn"), "xn--55qx5d.cn");
  assert.equal(psl.publicSuffix("me.blogspot.com"), "com", "private section left out");
  assert.equal(new PublicSuffixList(LIST, false).publicSuffix("me.blogspot.com"), "blogspot.com");
  assert.equal(psl.publicSuffix("example.unknowntld"), "unknowntld", "the implicit * rule");
  assert.equal(psl.publicSuffix("Example.COM."), "COM", "in the name's own form, trailing dot ignored");
});

test("domain_suffix: both spaces, from fqdn or reverse_dns", async () => {
  const suffix_file = listFile();
  const out = await runBot(bot, {
    params: { field: "fqdn", suffix_file },
    input: [ev({ "source.fqdn": "www.example.co.uk", "destination.fqdn": "host.example.com", "source.reverse_dns": "x.example.ck" })],
  });
  const got = out.output._default![0]!;
  assert.equal(got["source.domain_suffix"], "co.uk");
  assert.equal(got["destination.domain_suffix"], "com");
  const rdns = await runBot(bot, { params: { field: "reverse_dns", suffix_file }, input: [ev({ "source.reverse_dns": "x.example.ck" })] });
  assert.equal(rdns.output._default![0]!["source.domain_suffix"], "example.ck");
  const none = await runBot(bot, { params: { field: "fqdn", suffix_file }, input: [ev({ "source.ip": "192.0.2.1" })] });
  assert.deepEqual(none.output._default![0], ev({ "source.ip": "192.0.2.1" }));
});

test("domain_suffix: a wrong field or a missing list stops the bot, naming the parameter", async () => {
  await assert.rejects(runBot(bot, { params: { field: "url", suffix_file: listFile() }, input: [] }), (e: Error) => /field/.test(e.message));
  await assert.rejects(runBot(bot, { params: { field: "fqdn", suffix_file: "/nonexistent/psl.dat" }, input: [] }), (e: Error) => /suffix_file/.test(e.message));
  await assert.rejects(runBot(bot, { params: { field: "fqdn" }, input: [] }), (e: Error) => /suffix_file/.test(e.message));
});

test("domain_suffix: --update-database installs a list with ICANN rules, refuses one without", async () => {
  const file = join(tempDir("psl-upd-"), "psl.dat");
  const srv = await serveFiles({ "/psl": [200, LIST], "/empty": [200, "<html></html>\n"] });
  try {
    const prm = (url: string) => params.parse({ field: "fqdn", suffix_file: file, database_url: `${srv.base}${url}` });
    await assert.rejects(updateDatabase(database, prm("/empty"), "/"), /no suffix rules/);
    const r = await updateDatabase(database, prm("/psl"), "/");
    assert.match(r.summary, /rules/);
    assert.equal(readFileSync(file, "utf8"), LIST);
  } finally {
    await srv.close();
  }
});
