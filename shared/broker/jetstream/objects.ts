// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Reading an object of an object store bucket a few chunks at a time. The client's get() pushes
 * every chunk as fast as the server sends it, so a slow reader ends up holding the whole object;
 * here an ordered pull consumer fetches the next chunks only when the reader wants them.
 */
import { createHash } from "node:crypto";
import type { Consumer } from "@nats-io/jetstream";
import type { ObjectInfo } from "@nats-io/obj";
import { BrokerUnavailableError, PipelineError } from "../../errors/index.js";
import type { JsConnection } from "./connection.js";

/** Chunks fetched at a time (the default chunk is 128 KiB). */
const CHUNKS_AT_ONCE = 4;

/** The object's SHA-256 as its info gives it ("SHA-256=" and base64url, or hex). */
function expectedDigest(info: ObjectInfo): Buffer | null {
  if (!info.digest.startsWith("SHA-256=")) return null;
  const v = info.digest.slice(8);
  const b = Buffer.from(v, "base64url");
  if (b.length === 32) return b;
  return /^[0-9a-f]{64}$/i.test(v) ? Buffer.from(v, "hex") : null;
}

/** Chunks a fetch waits for at most; the client's own expiry does not fire while the connection is down. */
const FETCH_WAIT_MS = 10_000;

/** Up to `want` chunks into `out`; rejects when they do not come within FETCH_WAIT_MS (an outage). */
async function fetchBatch(oc: Consumer, want: number, out: Uint8Array[]): Promise<void> {
  const msgs = await oc.fetch({ max_messages: want, expires: FETCH_WAIT_MS });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void msgs.close();
      reject(new BrokerUnavailableError(`no chunk arrived within ${FETCH_WAIT_MS / 1000} s`));
    }, FETCH_WAIT_MS + 2000);
  });
  try {
    await Promise.race([(async () => { for await (const m of msgs) out.push(m.data); })(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The bytes of an object from offset `from` on, as they arrive; its digest checked at the end. */
export async function* objectChunks(c: JsConnection, bucket: string, info: ObjectInfo, from = 0): AsyncGenerator<Uint8Array> {
  if (info.size === 0) return;
  const what = `read object ${info.name} of ${bucket}`;
  // A connection lost while reading is an outage (waited out, the read begun again), not a fault of the report.
  const oc = await c.js.consumers.get(`OBJ_${bucket}`, { filter_subjects: `$O.${bucket}.C.${info.nuid}` }).catch((err: unknown) => {
    throw c.wrap(what, err);
  });
  const hash = createHash("sha256");
  let got = 0;
  let chunks = 0;
  try {
    while (got < info.size) {
      const batch: Uint8Array[] = [];
      // No more than are left: a fetch waits until it has them all (or expires).
      const want = Math.max(1, Math.min(CHUNKS_AT_ONCE, info.chunks - chunks));
      // Taken off the iterator first: the reader may take long with each chunk.
      await fetchBatch(oc, want, batch).catch((err: unknown) => {
        throw c.wrap(what, err);
      });
      chunks += batch.length;
      if (batch.length === 0) throw new BrokerUnavailableError(`object ${info.name} of ${bucket}: no chunk arrived after ${got} of ${info.size} bytes`);
      for (const data of batch) {
        hash.update(data);
        const start = got;
        got += data.length;
        if (got <= from) continue;
        yield start >= from ? data : data.subarray(from - start);
      }
    }
    const want = expectedDigest(info);
    if (got !== info.size || (want && !want.equals(hash.digest()))) {
      throw new PipelineError(`object ${info.name} of ${bucket} is corrupt (${got} of ${info.size} bytes, or its digest differs)`);
    }
  } finally {
    await oc.delete().catch(() => undefined);
  }
}
