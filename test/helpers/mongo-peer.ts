// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A loopback peer speaking MongoDB's wire protocol, just enough for a driver to connect and insert:
 * OP_QUERY and OP_MSG commands (hello, ping, insert with unique _id, anything else ok). No MongoDB
 * server can be installed from Debian; this plays one for the MongoDB output's tests.
 */
import { createServer, type Server, type Socket } from "node:net";
import { BSON, type Document } from "mongodb";

const OP_REPLY = 1, OP_QUERY = 2004, OP_MSG = 2013;

export interface MongoPeer {
  readonly port: number;
  /** Stored documents by "<db>.<collection>". */
  readonly collections: Map<string, Document[]>;
  /** Commands received, by name. */
  readonly commands: string[];
  /** Refuse the next n insert commands with an error answer. */
  failInserts(n: number): void;
  close(): Promise<void>;
}

function cstring(buf: Buffer, at: number): [string, number] {
  const end = buf.indexOf(0, at);
  return [buf.toString("utf8", at, end), end + 1];
}

function frame(requestId: number, responseTo: number, opCode: number, body: Buffer): Buffer {
  const head = Buffer.alloc(16);
  head.writeInt32LE(16 + body.length, 0);
  head.writeInt32LE(requestId, 4);
  head.writeInt32LE(responseTo, 8);
  head.writeInt32LE(opCode, 12);
  return Buffer.concat([head, body]);
}

export async function startMongoPeer(): Promise<MongoPeer> {
  const collections = new Map<string, Document[]>();
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  let failing = 0, nextId = 1, connections = 0;

  const run = (cmd: Document, sequences: Map<string, Document[]>): Document => {
    const name = Object.keys(cmd)[0] ?? "";
    commands.push(name);
    if (/^(hello|ismaster|isMaster)$/.test(name)) {
      return {
        helloOk: true, ismaster: true, isWritablePrimary: true, maxBsonObjectSize: 16 * 1024 * 1024, maxMessageSizeBytes: 48_000_000,
        maxWriteBatchSize: 100_000, localTime: new Date(), logicalSessionTimeoutMinutes: 30, connectionId: ++connections,
        minWireVersion: 0, maxWireVersion: 21, readOnly: false, ok: 1,
      };
    }
    if (name === "buildInfo" || name === "buildinfo") return { version: "7.0.0", versionArray: [7, 0, 0, 0], ok: 1 };
    if (name === "insert") {
      if (failing > 0) { failing--; return { ok: 0, errmsg: "not primary", code: 10107, codeName: "NotWritablePrimary" }; }
      const key = `${String(cmd.$db)}.${String(cmd.insert)}`;
      const docs = (cmd.documents as Document[] | undefined) ?? sequences.get("documents") ?? [];
      const coll = collections.get(key) ?? [];
      collections.set(key, coll);
      const writeErrors: Document[] = [];
      let n = 0;
      docs.forEach((d, index) => {
        if (d._id !== undefined && coll.some((x) => JSON.stringify(x._id) === JSON.stringify(d._id))) {
          writeErrors.push({ index, code: 11000, errmsg: `E11000 duplicate key error collection: ${key} index: _id_` });
        } else { coll.push(d); n++; }
      });
      return writeErrors.length ? { n, writeErrors, ok: 1 } : { n, ok: 1 };
    }
    return { ok: 1 };
  };

  const handle = (s: Socket, msg: Buffer) => {
    const requestId = msg.readInt32LE(4), opCode = msg.readInt32LE(12);
    if (opCode === OP_QUERY) {
      let at = 20;
      [, at] = cstring(msg, at);
      at += 8;
      const len = msg.readInt32LE(at);
      const reply = run(BSON.deserialize(msg.subarray(at, at + len)), new Map());
      const doc = BSON.serialize(reply);
      const body = Buffer.alloc(20);
      body.writeInt32LE(8, 0); // AwaitCapable
      body.writeInt32LE(1, 16);
      s.write(frame(nextId++, requestId, OP_REPLY, Buffer.concat([body, doc])));
    } else if (opCode === OP_MSG) {
      const flags = msg.readUInt32LE(16);
      const end = msg.length - (flags & 1 ? 4 : 0);
      let at = 20, cmd: Document = {};
      const sequences = new Map<string, Document[]>();
      while (at < end) {
        const kind = msg[at++];
        const len = msg.readInt32LE(at);
        if (kind === 0) { cmd = BSON.deserialize(msg.subarray(at, at + len)); at += len; continue; }
        const stop = at + len;
        let [id, p] = cstring(msg, at + 4);
        const docs: Document[] = [];
        while (p < stop) { const l = msg.readInt32LE(p); docs.push(BSON.deserialize(msg.subarray(p, p + l))); p += l; }
        sequences.set(id, docs);
        id = "";
        at = stop;
      }
      const flag = Buffer.alloc(5); // flagBits 0, section kind 0
      s.write(frame(nextId++, requestId, OP_MSG, Buffer.concat([flag, BSON.serialize(run(cmd, sequences))])));
    }
  };

  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    let buf = Buffer.alloc(0);
    s.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= buf.readInt32LE(0)) {
        const n = buf.readInt32LE(0);
        handle(s, buf.subarray(0, n));
        buf = buf.subarray(n);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as { port: number }).port, collections, commands,
    failInserts(n) { failing = n; },
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}
