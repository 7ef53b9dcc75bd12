// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The part of TAXII 1.1 (XML message binding over HTTP) the ESET collector uses, as IntelMQ's
 * cabby client speaks it: discovery of the poll service, a poll of a collection within a time
 * window, and fulfilment requests for the further parts of a large result.
 */
import { randomInt } from "node:crypto";
import { ApiFormatError, type ApiClient } from "../lib/api-client.js";

const NS = "http://taxii.mitre.org/messages/taxii_xml_binding-1.1";
const XML_11 = "urn:taxii.mitre.org:message:xml:1.1";

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const unescape = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'")
  .replace(/&#(\d+);/g, (_m, d: string) => String.fromCodePoint(Number(d))).replace(/&#x([0-9a-f]+);/gi, (_m, h: string) => String.fromCodePoint(parseInt(h, 16))).replace(/&amp;/g, "&");

/** Elements `<prefix:name ...>...</prefix:name>` (any prefix) of `xml`, with their attributes and inner text. */
function elements(xml: string, name: string): { attrs: Record<string, string>; inner: string }[] {
  const out: { attrs: Record<string, string>; inner: string }[] = [];
  const re = new RegExp(`<((?:[\\w.-]+:)?${name})\\b([^>]*?)(/>|>([\\s\\S]*?)</\\1\\s*>)`, "g");
  for (const m of xml.matchAll(re)) {
    const attrs: Record<string, string> = {};
    for (const a of m[2]!.matchAll(/([\w:.-]+)\s*=\s*("([^"]*)"|'([^']*)')/g)) attrs[a[1]!] = unescape(a[3] ?? a[4] ?? "");
    out.push({ attrs, inner: m[4] ?? "" });
  }
  return out;
}

/** The text of a Content element: CDATA and escaped text as text, child elements as their XML. */
function contentOf(inner: string): string {
  const trimmed = inner.trim();
  if (trimmed.startsWith("<![CDATA[")) return trimmed.replace(/^<!\[CDATA\[/, "").replace(/\]\]>$/, "");
  if (trimmed.startsWith("<")) return trimmed;
  return unescape(inner);
}

export class TaxiiClient {
  constructor(private readonly http: ApiClient, private readonly https: boolean) {}

  async #post(url: string, body: string): Promise<string> {
    const headers = {
      "content-type": "application/xml", accept: "application/xml",
      "x-taxii-content-type": XML_11, "x-taxii-accept": XML_11, "x-taxii-services": "urn:taxii.mitre.org:services:1.1",
      "x-taxii-protocol": this.https ? "urn:taxii.mitre.org:protocol:https:1.0" : "urn:taxii.mitre.org:protocol:http:1.0",
    };
    const text = (await this.http.request(url, { method: "POST", body, headers })).text();
    const status = elements(text, "Status_Message")[0];
    if (status) {
      const msg = elements(status.inner, "Message")[0]?.inner ?? "";
      throw new ApiFormatError(`TAXII server answered ${status.attrs.status_type ?? "an error"}${msg ? `: ${unescape(msg)}` : ""} (${url})`);
    }
    return text;
  }

  /** The address of the server's poll service. */
  async pollService(discoveryUrl: string): Promise<string> {
    const text = await this.#post(discoveryUrl, `<taxii_11:Discovery_Request xmlns:taxii_11="${NS}" message_id="${randomInt(2 ** 31)}"/>`);
    for (const svc of elements(text, "Service_Instance")) {
      if (svc.attrs.service_type !== "POLL" || svc.attrs.available === "false") continue;
      const address = elements(svc.inner, "Address")[0]?.inner.trim();
      if (address) return unescape(address);
    }
    throw new ApiFormatError(`The TAXII discovery service at ${discoveryUrl} names no poll service.`);
  }

  /** The content of every block of `collection` between begin and end, every part of the result. */
  async poll(pollUrl: string, collection: string, begin: Date, end: Date): Promise<string[]> {
    const ts = (d: Date) => d.toISOString().replace("Z", "+00:00");
    let text = await this.#post(pollUrl, `<taxii_11:Poll_Request xmlns:taxii_11="${NS}" message_id="${randomInt(2 ** 31)}" collection_name="${escape(collection)}">`
      + `<taxii_11:Exclusive_Begin_Timestamp>${ts(begin)}</taxii_11:Exclusive_Begin_Timestamp>`
      + `<taxii_11:Inclusive_End_Timestamp>${ts(end)}</taxii_11:Inclusive_End_Timestamp>`
      + `<taxii_11:Poll_Parameters allow_asynch="false"><taxii_11:Response_Type>FULL</taxii_11:Response_Type></taxii_11:Poll_Parameters>`
      + `</taxii_11:Poll_Request>`);
    const out: string[] = [];
    for (let guard = 0; guard < 10_000; guard++) {
      const resp = elements(text, "Poll_Response")[0];
      if (!resp) throw new ApiFormatError(`The TAXII poll service at ${pollUrl} answered no Poll_Response.`);
      for (const block of elements(resp.inner, "Content_Block")) {
        const content = elements(block.inner, "Content")[0];
        if (content) out.push(contentOf(content.inner));
      }
      if (resp.attrs.more !== "true") return out;
      const part = Number(resp.attrs.result_part_number ?? "1") + 1;
      text = await this.#post(pollUrl, `<taxii_11:Poll_Fulfillment xmlns:taxii_11="${NS}" message_id="${randomInt(2 ** 31)}" collection_name="${escape(collection)}"`
        + ` result_id="${escape(resp.attrs.result_id ?? "")}" result_part_number="${part}"/>`);
    }
    throw new ApiFormatError("The TAXII poll result has too many parts.");
  }
}
