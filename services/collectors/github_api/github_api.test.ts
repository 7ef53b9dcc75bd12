// SPDX-License-Identifier: AGPL-3.0-only
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { src } from "../../../test/helpers/paths.js";
import { createLibraryBot } from "../../../shared/runtime/index.js";
import { startPeer, testCollector, unb64, type Peer } from "../lib/testing.js";
import bot from "./index.js";

/** IntelMQ's recorded raw of contents.txt (the Python text of a list). */
const RECORDED_RAW = "W3snRGVzY3JpcHRpb24nOiAnbWQ1JywgJ0lkZW50aWZpZXInOiAnaXViZWdyNzNiNDk3ZmIzOThicjl2M2JyOTh1Zmgzcid9LCB7J0Rlc2NyaXB0aW9uJzogJycsICdJZGVudGlmaWVyJzogJ2l1YmVncjczYjQ5N2l1YmVncjczYjQ5N2ZiMzk4YnI5djNicjk4dWZoM3JmYjM5OGJyOXYzYnI5OHVmaDNyJ31d";
const fixture = (name: string) => readFileSync(src("services/collectors/github_api/fixtures", name), "utf8");
let peer: Peer;
let failDownload: string | null = null;

before(async () => {
  peer = await startPeer((req, res) => {
    const fill = (s: string) => s.replaceAll("@API@", `${peer.url}/api`).replaceAll("@DL@", `${peer.url}/raw`);
    if (req.url.startsWith("/api/")) {
      if (req.headers.authorization !== "token good") {
        res.writeHead(401, { "content-type": "application/json" });
        return res.end(JSON.stringify({ message: "Bad credentials" }));
      }
      const path = req.url.slice("/api/repos/".length);
      const page = path === "author/repository/contents" ? "contents-root.json" : path === "author/repository/contents/sub" ? "contents-sub.json" : null;
      if (!page) {
        res.writeHead(404, { "content-type": "application/json" });
        return res.end(JSON.stringify({ message: "Not Found" }));
      }
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(fill(fixture(page)));
    }
    if (req.url === failDownload) {
      // the connection drops in the middle of the answer
      res.writeHead(200, { "content-length": "1000" });
      // cut once the first part is on its way (a destroy before the flush would send nothing)
      return res.write("partial", () => res.destroy());
    }
    if (req.url === "/raw/contents.txt") return res.end(Buffer.from(RECORDED_RAW, "base64"));
    if (req.url === "/raw/sub/more.txt") return res.end("more\n");
    res.writeHead(404);
    res.end();
  });
});
after(() => peer.close());

const params = (extra: Record<string, unknown> = {}) => ({
  name: "Github feed", personal_access_token: "token good", repository: "author/repository",
  extra_fields: "size, sha", regex: ".*.txt", api_url: `${peer.url}/api`, ...extra,
});

test("matching files of the tree become reports with feed.url and extra.file_metadata, as IntelMQ's", async () => {
  failDownload = null;
  const c = await testCollector(bot, params());
  try {
    const start = peer.requests.length;
    const { reports, failures } = await c.round();
    assert.equal(failures, 0);
    assert.equal(reports.length, 2);
    assert.deepEqual({ ...reports[0], "time.observation": undefined }, {
      "__type": "Report", "feed.name": "Github feed", "feed.accuracy": 100, "feed.url": `${peer.url}/raw/contents.txt`,
      "raw": RECORDED_RAW, "extra.file_metadata": { size: 100, sha: "bbb" }, "time.observation": undefined,
    });
    assert.equal(unb64(reports[1]!.raw), "more\n");
    assert.equal(reports[1]!["feed.url"], `${peer.url}/raw/sub/more.txt`);
    const api = peer.requests.slice(start).filter((r) => r.url.startsWith("/api/"));
    assert.equal(api[0]!.headers.accept, "application/vnd.github.v3.text-match+json");
  } finally {
    await c.shutdown();
  }
});

test("missing extra fields are warned about and left out", async () => {
  const c = await testCollector(bot, params({ extra_fields: "aaa,bbb" }));
  try {
    const { reports } = await c.round();
    assert.equal(reports[0]!["extra.file_metadata"], undefined);
    assert.equal(reports[0]!.raw, RECORDED_RAW);
  } finally {
    await c.shutdown();
  }
});

test("a download dropped mid-round sends nothing of the round; the next round sends each file once", async () => {
  failDownload = "/raw/sub/more.txt";
  const c = await testCollector(bot, params());
  try {
    const r1 = await c.round();
    assert.equal(r1.failures, 1);
    assert.deepEqual(r1.reports, [], "the file downloaded before the failure is not sent alone");
    failDownload = null;
    const r2 = await c.round();
    assert.equal(r2.failures, 0);
    assert.deepEqual(r2.reports.map((r) => r["feed.url"]), [`${peer.url}/raw/contents.txt`, `${peer.url}/raw/sub/more.txt`]);
    assert.equal(r2.duplicates, 0);
  } finally {
    await c.shutdown();
  }
});

test("bad credentials and an unknown repository fail the round; a bad regex or no repository refuse to start", async () => {
  for (const extra of [{ personal_access_token: "token bad" }, { repository: "author/" }]) {
    const c = await testCollector(bot, params(extra));
    try {
      const r = await c.round();
      assert.equal(r.failures, 1);
      assert.deepEqual(r.reports, []);
    } finally {
      await c.shutdown();
    }
  }
  await assert.rejects(createLibraryBot(bot, { params: params({ regex: "*.txt" }) }), /regex/);
  await assert.rejects(createLibraryBot(bot, { params: params({ regex: null }) }), /regex/);
  await assert.rejects(createLibraryBot(bot, { params: params({ repository: null }) }), /repository/);
});
