// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Archive extraction for downloaded feeds, as IntelMQ's utils.unzip(): zip, tar (plain or gzip)
 * and gzip. Small readers of our own over node:zlib; each throws on data that is not its format.
 */
import { crc32, gunzipSync, inflateRawSync } from "node:zlib";
import { ErrorCode } from "../../../shared/sdk/index.js";

/** One extracted file; name null for a plain gzip stream. */
export interface Extracted { name: string | null; data: Buffer }

/** Limits decompressed output, against decompression bombs. */
export interface ExtractLimits { maxOutput: number }

/** An archive that is too large once decompressed. */
export class SizeLimitError extends Error {
  readonly code = ErrorCode.SizeLimit;
  constructor(what: string, limit: number) {
    super(`${what} exceeds the maximum size of ${limit} bytes (http_max_size)`);
    this.name = "SizeLimitError";
  }
}

function inflate(fn: typeof gunzipSync, data: Buffer, limits: ExtractLimits, what: string): Buffer {
  try {
    return fn(data, { maxOutputLength: limits.maxOutput });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) throw new SizeLimitError(what, limits.maxOutput);
    throw err;
  }
}

/** Members of a zip archive in central-directory order; directories left out. */
export function readZip(buf: Buffer, limits: ExtractLimits): Extracted[] {
  // end of central directory: signature 0x06054b50, within the last 64 KiB + 22 bytes
  let eocd = -1;
  for (let i = buf.length - 22; i >= 0 && i >= buf.length - 22 - 0xffff; i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error("File is not a zip file");
  const count = buf.readUInt16LE(eocd + 10);
  let off = buf.readUInt32LE(eocd + 16);
  if (off === 0xffffffff || count === 0xffff) throw new Error("ZIP64 archives are not supported");
  const out: Extracted[] = [];
  let total = 0;
  for (let k = 0; k < count; k++) {
    if (off + 46 > buf.length || buf.readUInt32LE(off) !== 0x02014b50) throw new Error("Bad magic number for central directory");
    const flags = buf.readUInt16LE(off + 8);
    const method = buf.readUInt16LE(off + 10);
    const crc = buf.readUInt32LE(off + 16);
    const csize = buf.readUInt32LE(off + 20);
    const usize = buf.readUInt32LE(off + 24);
    const nameLen = buf.readUInt16LE(off + 28);
    const extraLen = buf.readUInt16LE(off + 30);
    const commentLen = buf.readUInt16LE(off + 32);
    const local = buf.readUInt32LE(off + 42);
    const name = buf.toString(flags & 0x800 ? "utf8" : "latin1", off + 46, off + 46 + nameLen);
    off += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith("/")) continue;
    if (flags & 1) throw new Error(`File ${name} is encrypted`);
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== 0x04034b50) throw new Error("Bad magic number for file header");
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + csize);
    if (raw.length !== csize) throw new Error("Truncated file header");
    total += usize;
    if (total > limits.maxOutput) throw new SizeLimitError("zip archive content", limits.maxOutput);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) data = inflate(inflateRawSync, raw, limits, "zip member");
    else throw new Error(`compression method ${method} is not supported`);
    if (data.length !== usize || (crc32(data) >>> 0) !== crc) throw new Error(`Bad CRC-32 for file ${name}`);
    out.push({ name, data });
  }
  return out;
}

function octal(buf: Buffer, start: number, len: number): number {
  if (buf[start]! & 0x80) { // base-256 (GNU) for large values
    let v = buf[start]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + buf[start + i]!;
    return v;
  }
  const s = buf.toString("latin1", start, start + len).replace(/\0.*$/s, "").trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error("invalid header");
  return parseInt(s, 8);
}

function cstring(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString("utf8", start, end === -1 || end > start + len ? start + len : end);
}

/** Regular files of a tar archive, in archive order (gzip-compressed tar accepted). */
export function readTar(input: Buffer, limits: ExtractLimits): Extracted[] {
  let buf = input;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) buf = inflate(gunzipSync, buf, limits, "tar.gz archive");
  if (buf.length < 512) throw new Error("empty file");
  const out: Extracted[] = [];
  let pos = 0;
  let longName: string | null = null;
  let paxPath: string | null = null;
  let headers = 0;
  while (pos + 512 <= buf.length) {
    const h = buf.subarray(pos, pos + 512);
    if (h.every((b) => b === 0)) break; // end of archive
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (octal(h, 148, 8) !== sum) throw new Error(headers === 0 ? "file could not be opened successfully" : "bad checksum");
    headers++;
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156]!);
    let name = cstring(h, 0, 100);
    if (h.toString("latin1", 257, 262) === "ustar") {
      const prefix = cstring(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const dataStart = pos + 512;
    const data = buf.subarray(dataStart, dataStart + size);
    if (data.length !== size) throw new Error("unexpected end of data");
    pos = dataStart + Math.ceil(size / 512) * 512;
    if (type === "L") { longName = cstring(data, 0, data.length); continue; }
    if (type === "x") {
      // PAX records: "<len> key=value\n"
      for (const rec of data.toString("utf8").split("\n")) {
        const m = /^\d+ path=(.*)$/s.exec(rec);
        if (m) paxPath = m[1]!;
      }
      continue;
    }
    if (type === "g") continue;
    if (longName !== null) { name = longName; longName = null; }
    if (paxPath !== null) { name = paxPath; paxPath = null; }
    if (type === "0" || type === "\0" || type === "7") out.push({ name, data: Buffer.from(data) });
  }
  if (headers === 0) throw new Error("empty file");
  return out;
}

/** A gzip stream's content. */
export function readGzip(buf: Buffer, limits: ExtractLimits): Buffer {
  if (buf.length < 2 || buf[0] !== 0x1f || buf[1] !== 0x8b) throw new Error("Not a gzipped file");
  return inflate(gunzipSync, buf, limits, "gzip content");
}

/**
 * IntelMQ's unzip(): the first of zip, tar, gzip (those enabled) that reads the data wins.
 * `files` true: every file; a list: only those names. Throws when no format fits.
 */
export function unzip(data: Buffer, files: true | readonly string[], limits: ExtractLimits,
  tries: { zip?: boolean; tar?: boolean; gzip?: boolean } = { zip: true, tar: true, gzip: true }): Extracted[] {
  const attempts: [boolean | undefined, () => Extracted[]][] = [
    [tries.zip, () => readZip(data, limits)],
    [tries.tar, () => readTar(data, limits)],
    [tries.gzip, () => [{ name: null, data: readGzip(data, limits) }]],
  ];
  for (const [enabled, fn] of attempts) {
    if (!enabled) continue;
    let members: Extracted[];
    try {
      members = fn();
    } catch (err) {
      if (err instanceof SizeLimitError) throw err;
      continue;
    }
    if (files === true || members.length === 1 && members[0]!.name === null) return members;
    // as tarfile/zipfile look names up: a repeated name yields its last member's data
    const wanted = new Set(files);
    const last = new Map(members.map((m) => [m.name, m.data]));
    return members.filter((m) => wanted.has(m.name!)).map((m) => ({ name: m.name, data: last.get(m.name)! }));
  }
  throw new Error("Failed to uncompress the given file.");
}
