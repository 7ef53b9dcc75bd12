// SPDX-License-Identifier: AGPL-3.0-only
// Python's urllib.parse.urlsplit/urlunsplit (3.11+ rules), which IntelMQ's URL and FQDN types rely on.

export interface SplitResult {
  scheme: string;
  netloc: string;
  path: string;
  query: string;
  fragment: string;
}

const SCHEME_CHARS = /^[A-Za-z][A-Za-z0-9+\-.]*$/;

/** urlsplit(url); null where Python raises ValueError (unbalanced brackets in netloc). */
export function urlsplit(input: string): SplitResult | null {
  let url = input;
  // strip leading C0 controls and spaces, drop tab/CR/LF anywhere
  let i0 = 0;
  while (i0 < url.length && url.charCodeAt(i0) <= 32) i0++;
  if (i0) url = url.slice(i0);
  if (/[\t\r\n]/.test(url)) url = url.replace(/[\t\r\n]/g, "");
  let scheme = "", netloc = "", query = "", fragment = "";
  const i = url.indexOf(":");
  if (i > 0 && SCHEME_CHARS.test(url.slice(0, i))) {
    scheme = url.slice(0, i).toLowerCase();
    url = url.slice(i + 1);
  }
  if (url.startsWith("//")) {
    let delim = url.length;
    for (const c of "/?#") {
      const w = url.indexOf(c, 2);
      if (w >= 0 && w < delim) delim = w;
    }
    netloc = url.slice(2, delim);
    url = url.slice(delim);
    const lb = netloc.includes("["), rb = netloc.includes("]");
    if (lb !== rb) return null;
  }
  const h = url.indexOf("#");
  if (h >= 0) { fragment = url.slice(h + 1); url = url.slice(0, h); }
  const q = url.indexOf("?");
  if (q >= 0) { query = url.slice(q + 1); url = url.slice(0, q); }
  return { scheme, netloc, path: url, query, fragment };
}

/** urlunsplit(parts) */
export function urlunsplit(p: SplitResult): string {
  let url = p.path;
  if (p.netloc || (p.scheme && ["file", "ftp", "http", "https", "gopher", "nntp", "imap", "wais", "telnet", "prospero", "rtsp", "rtspu", "sftp", "svn", "svn+ssh", "ws", "wss", "git", "git+ssh", "nfs", "sip", "sips", "snews", "rsync"].includes(p.scheme) && !url.startsWith("//"))) {
    if (url && !url.startsWith("/")) url = "/" + url;
    url = "//" + (p.netloc || "") + url;
  }
  if (p.scheme) url = p.scheme + ":" + url;
  if (p.query) url += "?" + p.query;
  if (p.fragment) url += "#" + p.fragment;
  return url;
}

/** The netloc of urlsplit(url) without building the whole result (hot path of URL validation). */
export function netlocOf(url: string): string | null {
  const c0 = url.charCodeAt(0);
  if (c0 > 32 && !/[\t\r\n]/.test(url)) {
    const i = url.indexOf(":");
    let rest = url;
    if (i > 0 && SCHEME_CHARS.test(url.slice(0, i))) rest = url.slice(i + 1);
    if (rest.charCodeAt(0) !== 47 || rest.charCodeAt(1) !== 47) return "";
    let delim = rest.length;
    for (let k = 2; k < rest.length; k++) {
      const c = rest.charCodeAt(k);
      if (c === 47 || c === 63 || c === 35) { delim = k; break; }
    }
    const netloc = rest.slice(2, delim);
    if (netloc.includes("[") !== netloc.includes("]")) return null;
    return netloc;
  }
  const r = urlsplit(url);
  return r ? r.netloc : null;
}
