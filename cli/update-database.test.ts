// SPDX-License-Identifier: AGPL-3.0-only
/** `intelmq-bot <id> --update-database` and `intelmqctl update-database`, against a loopback HTTP server. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { stringify } from "yaml";
import { src } from "../test/helpers/paths.js";
import { tempDir } from "../test/helpers/tmp.js";

const ASN = "intelmq.bots.experts.asn_lookup.expert";

function run(bin: string, args: string[], root: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, INTELMQ_ROOT_DIR: root };
  for (const k of Object.keys(env)) if (k.startsWith("INTELMQ_") && k !== "INTELMQ_ROOT_DIR") delete env[k];
  const child = spawn(process.execPath, [src("bin", bin), ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
  return once(child, "exit").then(([code]) => ({ code: code as number | null, stdout, stderr }));
}

/** A loopback server: path -> [status, body]; records the requests. */
async function server(routes: Record<string, [number, Buffer | string]>) {
  const seen: IncomingMessage[] = [];
  const srv = createServer((req, res) => {
    seen.push(req);
    const r = routes[req.url ?? ""] ?? [404, "not found"];
    res.writeHead(r[0]);
    res.end(r[1]);
  });
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const base = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  return { base, seen, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

function root(bots: Record<string, unknown>): string {
  const dir = tempDir("imq-update-");
  mkdirSync(join(dir, "etc"), { recursive: true });
  copyFileSync(src("etc", "harmonization.conf"), join(dir, "etc", "harmonization.conf"));
  writeFileSync(join(dir, "etc", "runtime.yaml"), stringify({ global: {}, ...bots }));
  return dir;
}

const bot = (parameters: Record<string, unknown>) => ({ module: ASN, enabled: true, parameters: { destination_queues: { _default: ["x"] }, ...parameters } });

test("update-database: downloads (gzip too), verifies, replaces the file atomically; a broken download leaves the file alone", async () => {
  const good = "192.0.2.0/24\t64496\n2001:db8::/32\t64499\n";
  const srv = await server({ "/ipasn.dat.gz": [200, gzipSync(good)], "/broken": [200, "<html>maintenance</html>"], "/gone": [500, "oops"] });
  try {
    const dir = root({
      "asn-a": bot({ database: "var/lib/bots/asn/ipasn.dat", database_url: `${srv.base}/ipasn.dat.gz` }),
      "asn-broken": bot({ database: "var/lib/bots/asn/broken.dat", database_url: `${srv.base}/broken` }),
      "asn-gone": bot({ database: "var/lib/bots/asn/gone.dat", database_url: `${srv.base}/gone` }),
      "asn-nourl": bot({ database: "var/lib/bots/asn/nourl.dat" }),
      "asn-off": bot({ database: "var/lib/bots/asn/off.dat", database_url: `${srv.base}/ipasn.dat.gz`, autoupdate_cached_database: false }),
    });
    const file = join(dir, "var/lib/bots/asn/ipasn.dat");
    const a = await run("intelmq-bot.mjs", ["asn-a", "--update-database", "--verbose"], dir);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(readFileSync(file, "utf8"), good);
    assert.match(a.stderr, /Database updated: .*ipasn\.dat \(2 prefixes/);
    assert.deepEqual(readdirSync(join(dir, "var/lib/bots/asn")), ["ipasn.dat"], "no temporary file left");

    writeFileSync(join(dir, "var/lib/bots/asn/broken.dat"), "192.0.2.0/24\t1\n");
    const b = await run("intelmq-bot.mjs", ["asn-broken", "--update-database"], dir);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /not usable/);
    assert.equal(readFileSync(join(dir, "var/lib/bots/asn/broken.dat"), "utf8"), "192.0.2.0/24\t1\n");

    const g = await run("intelmq-bot.mjs", ["asn-gone", "--update-database"], dir);
    assert.equal(g.code, 1);
    assert.match(g.stderr, /500/);
    const n = await run("intelmq-bot.mjs", ["asn-nourl", "--update-database"], dir);
    assert.equal(n.code, 1);
    assert.match(n.stderr, /database_url/);

    // by module: every bot of it, those with autoupdate_cached_database false skipped
    const m = await run("intelmqctl.mjs", ["update-database", ASN], dir);
    assert.equal(m.code, 1, "some bots of the module fail");
    assert.match(m.stdout, /asn-a: Database updated: /);
    assert.match(m.stderr, /asn-broken: Database update failed\. The downloaded database is not usable/);
    assert.match(m.stdout, /asn-off: Database update skipped: autoupdate_cached_database is false/);
    assert.ok(!existsSync(join(dir, "var/lib/bots/asn/off.dat")));
    const one = await run("intelmqctl.mjs", ["update-database", "asn-a"], dir);
    assert.equal(one.code, 0, one.stderr);
    const none = await run("intelmqctl.mjs", ["update-database", "no-such-bot"], dir);
    assert.equal(none.code, 1);
  } finally {
    await srv.close();
  }
});

test("update-database: a bot without a database says so", async () => {
  const dir = root({ tax: { module: "intelmq.bots.experts.taxonomy.expert", parameters: { destination_queues: { _default: ["x"] } } } });
  const r = await run("intelmq-bot.mjs", ["tax", "--update-database"], dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /has no command --update-database/);
  const c = await run("intelmqctl.mjs", ["update-database", "tax"], dir);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /tax .* has no database to update/);
});
