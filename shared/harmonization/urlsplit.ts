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

/** A scheme, "//" and a netloc without brackets, tabs or line breaks: most URLs, read in one compiled scan. */
const PLAIN_NETLOC = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#\t\n\r[\]]*)(?:[/?#]|$)/;

/** The netloc of urlsplit(url) without building the whole result (hot path of URL validation). */
export function netlocOf(url: string): string | null {
  const plain = PLAIN_NETLOC.exec(url);
  if (plain) return plain[1]!;
  const n = url.length;
  if (n === 0 || url.charCodeAt(0) <= 32) return slowNetloc(url);
  // scheme: letters, digits, + - . up to the first ':'
  let i = 0;
  let start = 0;
  const c0 = url.charCodeAt(0);
  if ((c0 >= 65 && c0 <= 90) || (c0 >= 97 && c0 <= 122)) {
    for (i = 1; i < n; i++) {
      const c = url.charCodeAt(i);
      if (c === 58) { start = i + 1; break; }
      if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46)) break;
    }
  }
  if (url.charCodeAt(start) !== 47 || url.charCodeAt(start + 1) !== 47) {
    return /[\t\r\n]/.test(url) ? slowNetloc(url) : "";
  }
  let delim = n;
  let brackets = 0;
  for (let k = start + 2; k < n; k++) {
    const c = url.charCodeAt(k);
    if (c === 9 || c === 10 || c === 13) return slowNetloc(url);
    if (c === 47 || c === 63 || c === 35) { delim = k; break; }
    if (c === 91) brackets |= 1;
    else if (c === 93) brackets |= 2;
  }
  if (brackets === 1 || brackets === 2) return null;
  // tab/CR/LF after the netloc do not change it
  return url.slice(start + 2, delim);
}

function slowNetloc(url: string): string | null {
  const r = urlsplit(url);
  return r ? r.netloc : null;
}
