// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { connect } from "node:net";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { decodeEnvelope } from "../../../shared/message/index.js";
import { createLogger, startBot, type BotHandle } from "../../../shared/runtime/index.js";
import { freePort } from "../../../test/helpers/nats-server.js";
import bot, { PUSH_PATH } from "./index.js";

const log = createLogger({ level: "CRITICAL" });
const TOKEN = "s3cret-token-for-tests";

interface Reply { status: number; body: string }
function post(target: { port?: number; socketPath?: string }, body: Buffer | string | null, headers: Record<string, string> = {}, opts: { method?: string; path?: string; chunked?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", ...target, path: opts.path ?? PUSH_PATH, method: opts.method ?? "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    if (body !== null && opts.chunked) { for (let i = 0; i < body.length; i += 1000) req.write(body.slice(i, i + 1000)); req.end(); } else req.end(body ?? undefined);
  });
}

async function run(params: Record<string, unknown>): Promise<{ h: BotHandle; broker: MemoryBroker; reports(): Promise<Record<string, unknown>[]> }> {
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "api-collector", broker, logger: log, params: { destination_queues: "out", ...params } });
  return {
    h, broker,
    async reports() {
      const out: Record<string, unknown>[] = [];
      const depth = await broker.queues.depth("out");
      if (depth === 0) return out;
      const sub = await broker.queues.consume("out");
      const it = sub[Symbol.asyncIterator]();
      for (let i = 0; i < depth; i++) {
        const d = (await it.next()).value!;
        out.push(...decodeEnvelope(d.data).map((m) => m as Record<string, unknown>));
        await d.ack();
      }
      await sub.stop();
      return out;
    },
  };
}

test("api collector: a push with the token is answered 200 once its report is queued; feed fields as IntelMQ's", async () => {
  const port = await freePort();
  const { h, broker, reports } = await run({ port, api_token: TOKEN });
  try {
    const body = "192.0.2.1,example.com\n192.0.2.2,example.org\n";
    const r = await post({ port }, body, { authorization: `Bearer ${TOKEN}` });
    assert.equal(r.status, 200, r.body);
    const r2 = await post({ port }, body, { "x-api-key": TOKEN });
    assert.equal(r2.status, 200, "X-Api-Key is accepted too");
    const got = await reports();
    assert.equal(got.length, 2, "the same body pushed twice is two reports");
    assert.equal(Buffer.from(String(got[0]!.raw), "base64").toString(), body);
    assert.equal(got[0]!["feed.name"], "API");
    assert.equal(got[0]!["feed.provider"], "APICollector");
  } finally {
    await h.stop();
    await broker.close();
  }
});

test("api collector: no token or a wrong one is 401, a body over max_body_bytes 413 (declared or streamed), nothing queued", async () => {
  const port = await freePort();
  const { h, broker, reports } = await run({ port, api_token: TOKEN, max_body_bytes: 10_000 });
  try {
    assert.equal((await post({ port }, "x")).status, 401);
    assert.equal((await post({ port }, "x", { authorization: "Bearer wrong" })).status, 401);
    assert.equal((await post({ port }, "x", { authorization: `Bearer ${TOKEN}x` })).status, 401);
    const big = Buffer.alloc(10_001, 0x41);
    assert.equal((await post({ port }, big, { authorization: `Bearer ${TOKEN}` })).status, 413);
    assert.equal((await post({ port }, big, { authorization: `Bearer ${TOKEN}`, "transfer-encoding": "chunked" }, { chunked: true })).status, 413);
    assert.equal((await post({ port }, null, { authorization: `Bearer ${TOKEN}` }, { method: "GET" })).status, 405);
    assert.equal((await post({ port }, "x", { authorization: `Bearer ${TOKEN}` }, { path: "/other" })).status, 404);
    assert.equal((await post({ port }, "", { authorization: `Bearer ${TOKEN}` })).status, 400, "an empty body");
    assert.deepEqual(await reports(), []);
    assert.equal((await post({ port }, Buffer.alloc(10_000, 0x42), { authorization: `Bearer ${TOKEN}` })).status, 200, "at the limit");
    assert.equal((await reports()).length, 1);
  } finally {
    await h.stop();
    await broker.close();
  }
});

test("api collector: a sender's connection breaks mid-body: nothing of it is queued; what was answered 200 is queued once, the body sent again once", async () => {
  const port = await freePort();
  const { h, broker, reports } = await run({ port, api_token: TOKEN });
  try {
    const auth = { authorization: `Bearer ${TOKEN}` };
    assert.equal((await post({ port }, "first\n", auth)).status, 200);
    const second = "192.0.2.2,second\n".repeat(50);
    // headers and half the body, then the sender's side closes: the collector reads all of it, then the end
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(port, "127.0.0.1");
      let got = "";
      s.on("data", (d: Buffer) => { got += d.toString(); });
      s.on("error", reject);
      s.on("close", () => resolve(got));
      s.end(`POST ${PUSH_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: ${second.length}\r\n\r\n${second.slice(0, second.length >> 1)}`);
    });
    assert.doesNotMatch(answer, /^HTTP\/1\.1 200/, "not answered 200: the sender knows it must send again");
    assert.equal((await post({ port }, second, auth)).status, 200);
    const got = (await reports()).map((r) => Buffer.from(String(r.raw), "base64").toString());
    assert.deepEqual(got, ["first\n", second], "the answered push once, the broken one only as sent again");
  } finally {
    await h.stop();
    await broker.close();
  }
});

test("api collector: on a Unix socket with its permissions; stopping closes the endpoint", async () => {
  const dir = mkdtempSync(join(tmpdir(), "api-collector-"));
  const socketPath = join(dir, "push.sock");
  const { h, broker, reports } = await run({ use_socket: true, socket_path: socketPath, socket_perms: "660" });
  try {
    assert.equal(statSync(socketPath).mode & 0o777, 0o660);
    const r = await post({ socketPath }, "line\n");
    assert.equal(r.status, 200, "no token configured: none required");
    assert.equal((await reports()).length, 1);
  } finally {
    await h.stop();
    await broker.close();
  }
  await assert.rejects(post({ socketPath }, "late\n"), "the endpoint is gone once the bot stopped");
});
