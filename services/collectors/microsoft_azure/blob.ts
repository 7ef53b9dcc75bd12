// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The part of Azure Blob Storage's REST API the Azure collector uses: a connection string read,
 * requests signed with the account key (Shared Key) or carrying a SAS token, blobs of a container
 * listed page by page and downloaded.
 */
import { createHmac } from "node:crypto";
import { ApiFormatError, ApiStatusError, type ApiClient } from "../lib/api-client.js";

export interface BlobAccount {
  /** The blob service's URL, without a trailing slash (path-style for the emulator: .../devstoreaccount1). */
  endpoint: string;
  name: string | null;
  key: Buffer | null;
  sas: string | null;
}

const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
export const VERSION = "2021-08-06";

/** An Azure Storage connection string (AccountName/AccountKey, BlobEndpoint, SharedAccessSignature, UseDevelopmentStorage). */
export function parseConnectionString(text: string): BlobAccount {
  const kv = new Map<string, string>();
  for (const part of text.split(";")) {
    const i = part.indexOf("=");
    if (i > 0) kv.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1).trim());
  }
  if (kv.get("usedevelopmentstorage")?.toLowerCase() === "true") {
    return { endpoint: "http://127.0.0.1:10000/devstoreaccount1", name: "devstoreaccount1", key: Buffer.from(DEV_KEY, "base64"), sas: null };
  }
  const name = kv.get("accountname") ?? null;
  const key = kv.get("accountkey");
  const sas = kv.get("sharedaccesssignature")?.replace(/^\?/, "") ?? null;
  let endpoint = kv.get("blobendpoint");
  if (!endpoint) {
    if (!name) throw new ApiFormatError("The connection string names neither BlobEndpoint nor AccountName.");
    endpoint = `${kv.get("defaultendpointsprotocol") ?? "https"}://${name}.blob.${kv.get("endpointsuffix") ?? "core.windows.net"}`;
  }
  if (!sas && !(name && key)) throw new ApiFormatError("The connection string has neither AccountName and AccountKey nor SharedAccessSignature.");
  return { endpoint: endpoint.replace(/\/+$/, ""), name, key: key ? Buffer.from(key, "base64") : null, sas };
}

/** Headers of a request signed with the account key (Shared Key), or the URL with the SAS token. */
export function signed(acc: BlobAccount, method: string, url: string, headers: Record<string, string> = {}, length = 0): { url: string; headers: Record<string, string> } {
  const h: Record<string, string> = { "x-ms-date": new Date().toUTCString(), "x-ms-version": VERSION };
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
  if (acc.sas) return { url: url + (url.includes("?") ? "&" : "?") + acc.sas, headers: h };
  const u = new URL(url);
  const canonHeaders = Object.keys(h).filter((k) => k.startsWith("x-ms-")).sort().map((k) => `${k}:${h[k]!.trim()}\n`).join("");
  const params = new Map<string, string[]>();
  for (const [k, v] of u.searchParams) params.set(k.toLowerCase(), [...(params.get(k.toLowerCase()) ?? []), v]);
  const canonQuery = [...params.keys()].sort().map((k) => `\n${k}:${params.get(k)!.sort().join(",")}`).join("");
  const toSign = [
    method, h["content-encoding"] ?? "", h["content-language"] ?? "", length ? String(length) : "", h["content-md5"] ?? "", h["content-type"] ?? "",
    "", h["if-modified-since"] ?? "", h["if-match"] ?? "", h["if-none-match"] ?? "", h["if-unmodified-since"] ?? "", h.range ?? "",
  ].join("\n") + "\n" + canonHeaders + `/${acc.name}${u.pathname}` + canonQuery;
  h.authorization = `SharedKey ${acc.name}:${createHmac("sha256", acc.key!).update(toSign, "utf8").digest("base64")}`;
  return { url, headers: h };
}

const unescapeXml = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");

export const blobUrl = (acc: BlobAccount, container: string, blob: string) =>
  `${acc.endpoint}/${encodeURIComponent(container)}/${blob.split("/").map(encodeURIComponent).join("/")}`;

/** A signed GET; errors name the URL without a SAS token (a secret). */
async function get(http: ApiClient, acc: BlobAccount, url: string): Promise<Buffer> {
  const req = signed(acc, "GET", url);
  try {
    return (await http.request(req.url, { headers: req.headers })).body;
  } catch (err) {
    if (err instanceof ApiStatusError) throw new ApiStatusError(url, err.status, err.excerpt.replace(/sig=[^&\s<]*/g, "sig=***"));
    throw err;
  }
}

/** The names of the container's blobs, every page. */
export async function listBlobs(http: ApiClient, acc: BlobAccount, container: string): Promise<string[]> {
  const names: string[] = [];
  let marker = "";
  do {
    const q = new URLSearchParams({ restype: "container", comp: "list" });
    if (marker) q.set("marker", marker);
    const xml = (await get(http, acc, `${acc.endpoint}/${encodeURIComponent(container)}?${q}`)).toString("utf8");
    for (const m of xml.matchAll(/<Blob>\s*<Name>([\s\S]*?)<\/Name>/g)) names.push(unescapeXml(m[1]!));
    marker = unescapeXml(/<NextMarker>([\s\S]*?)<\/NextMarker>/.exec(xml)?.[1] ?? "");
  } while (marker);
  return names;
}

export async function downloadBlob(http: ApiClient, acc: BlobAccount, container: string, blob: string): Promise<Buffer> {
  return get(http, acc, blobUrl(acc, container, blob));
}
