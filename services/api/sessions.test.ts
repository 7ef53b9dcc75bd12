// SPDX-License-Identifier: AGPL-3.0-only
// Passwords, sessions and /config's confinement without HTTP: scrypt hashes, expiry measured
// from the last use, and paths that lead out of the allowed folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MemoryBroker } from "../../shared/broker/index.js";
import { tempDir } from "../../test/helpers/tmp.js";
import { allowedFile, loadFileOrDirectory } from "./files.js";
import { SessionStore, hashPassword, verifyPassword } from "./sessions.js";
import { parseListen } from "./settings.js";

test("passwords: scrypt with a salt of their own; only the right one matches", async () => {
  const a = await hashPassword("pw");
  const b = await hashPassword("pw");
  assert.match(a, /^scrypt\$32768\$8\$1\$[0-9a-f]{32}\$[0-9a-f]{64}$/);
  assert.notEqual(a, b, "salted");
  assert.equal(await verifyPassword("pw", a), true);
  assert.equal(await verifyPassword("pw ", a), false);
  assert.equal(await verifyPassword("pw", "plain"), false);
});

test("sessions: users, tokens, expiry after session_duration without use, renewal on use", async () => {
  const broker = new MemoryBroker();
  const s = new SessionStore(broker, 10);
  await s.addUser("bob", "hunter2");
  await s.addUser("ünïcode user", "x");
  assert.equal(await s.verifyUser("bob", "hunter2"), true);
  assert.equal(await s.verifyUser("bob", "hunter3"), false);
  assert.equal(await s.verifyUser("nobody", "hunter2"), false);
  assert.equal(await s.verifyUser("ünïcode user", "x"), true);
  const t = await s.newSession("bob");
  assert.match(t, /^[0-9a-f]{32}$/);
  const now = Date.now();
  assert.equal(await s.verifyToken(t, now + 9_000), "bob");
  // Used at +9 s: it lives until +19 s.
  assert.equal(await s.verifyToken(t, now + 18_000), "bob");
  assert.equal(await s.verifyToken(t, now + 28_500), null, "expired 10 s after its last use");
  assert.equal(await s.verifyToken(t, now + 18_000), null, "and gone");
  assert.equal(await s.verifyToken("../../etc", now), null);
  await broker.close();
});

test("config: only below the allowed folder, no .., no symbolic links out", () => {
  const root = tempDir("api-files-");
  const allowed = join(root, "allowed");
  mkdirSync(join(allowed, "in"), { recursive: true });
  writeFileSync(join(allowed, "in", "a.txt"), "a");
  writeFileSync(join(allowed, "big.bin"), Buffer.alloc(5000));
  writeFileSync(join(root, "outside.txt"), "secret");
  symlinkSync(join(root, "outside.txt"), join(allowed, "out-link"));
  symlinkSync(join(allowed, "in", "a.txt"), join(allowed, "in-link"));
  assert.equal(allowedFile(allowed, join(allowed, "in", "a.txt")), join(allowed, "in", "a.txt"));
  assert.equal(allowedFile(allowed, "in/a.txt"), join(allowed, "in", "a.txt"), "relative to the folder");
  assert.equal(allowedFile(allowed, join(allowed, "in-link")), join(allowed, "in", "a.txt"), "a link inside is fine");
  for (const bad of [join(allowed, "..", "outside.txt"), `${allowed}/in/../../outside.txt`, join(allowed, "out-link"), join(root, "outside.txt"), join(allowed, "missing")]) {
    assert.equal(allowedFile(allowed, bad), null, bad);
    assert.equal(loadFileOrDirectory(allowed, bad, false), null, bad);
    assert.equal(loadFileOrDirectory(allowed, bad, true), null, bad);
  }
  const listing = loadFileOrDirectory(allowed, allowed, false);
  assert.ok(listing?.kind === "json");
  assert.deepEqual(listing.value.files["big.bin"], { size: 5000, path: join(allowed, "big.bin") });
  assert.deepEqual(listing.value.files["in-link"], { contents: "a" });
  assert.ok(!("out-link" in listing.value.files));
});

test("listen addresses", () => {
  assert.deepEqual(parseListen("127.0.0.1:8080"), { host: "127.0.0.1", port: 8080 });
  assert.deepEqual(parseListen("9090"), { host: "127.0.0.1", port: 9090 });
  assert.deepEqual(parseListen(":9090"), { host: "127.0.0.1", port: 9090 });
  assert.deepEqual(parseListen("[::1]:8081"), { host: "::1", port: 8081 });
  assert.throws(() => parseListen("host:port"));
  assert.throws(() => parseListen("1.2.3.4:70000"));
});
