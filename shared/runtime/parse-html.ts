// SPDX-License-Identifier: AGPL-3.0-only
/**
 * HTML for parsers of HTML feeds, read as IntelMQ's parsers read it (BeautifulSoup over Python's
 * forgiving html.parser): a tolerant, non-validating parse (htmlparser2) where tags nest as
 * written, tag and attribute names in lower case and entities decoded; whitespace-only text
 * collapsed to "\n" (or " " without a line break) outside <pre>/<textarea>, as BeautifulSoup
 * does; `.text` and `str(tag)` as BeautifulSoup gives them (attributes sorted, void elements as
 * `<br/>`), since IntelMQ puts that serialization in the events' raw.
 */
import { createRequire } from "node:module";
import type { AnyNode, Document, Element, Text } from "domhandler";

// Loaded on first use, not with the SDK: only the parsers of HTML feeds need them.
const requireHere = createRequire(import.meta.url);
let libs: { h: typeof import("htmlparser2"); d: typeof import("domhandler") } | null = null;
const load = () => (libs ??= { h: requireHere("htmlparser2") as typeof import("htmlparser2"), d: requireHere("domhandler") as typeof import("domhandler") });
const isTag = (n: AnyNode): n is Element => load().d.isTag(n);
const isText = (n: AnyNode): n is Text => load().d.isText(n);
const isComment = (n: AnyNode): boolean => load().d.isComment(n);
const isDirective = (n: AnyNode): boolean => load().d.isDirective(n);
const hasChildren = (n: AnyNode): n is AnyNode & { children: AnyNode[] } => load().d.hasChildren(n);

export type { Document as HtmlDocument, Element as HtmlElement, AnyNode as HtmlNode };

const ASCII_SPACE = /^[ \n\t\f\r]*$/;
const PRESERVE = new Set(["pre", "textarea"]);
const VOID = new Set(["area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "menuitem", "meta", "param",
  "source", "track", "wbr", "basefont", "bgsound", "command", "frame", "image", "isindex", "nextid", "spacer"]);
// Attributes BeautifulSoup reads as lists of words (and writes back joined by one space).
const MULTI = new Set(["class", "rel", "rev", "accept-charset", "headers", "accesskey", "dropzone"]);

/** Whitespace-only text outside <pre>/<textarea> as BeautifulSoup keeps it. */
function collapse(node: AnyNode, preserve: boolean): void {
  if (!hasChildren(node)) return;
  for (const child of node.children) {
    if (isText(child)) {
      if (!preserve && ASCII_SPACE.test(child.data)) child.data = child.data.includes("\n") ? "\n" : " ";
    } else if (isTag(child)) {
      collapse(child, preserve || PRESERVE.has(child.name));
    } else {
      collapse(child, preserve);
    }
  }
}

/**
 * The document of an HTML text. Nodes know where they were in the text (startIndex and
 * endIndex, inclusive), so a parser can tell which parts of a report it used.
 */
export function parseHtml(text: string): Document {
  const doc = load().h.parseDocument(text, { withStartIndices: true, withEndIndices: true, decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true });
  collapse(doc, false);
  return doc;
}

/** Whether an element's attribute matches BeautifulSoup's attrs={name: value} (one word of a class list does). */
function attributeMatches(el: Element, name: string, value: string): boolean {
  const v = el.attribs[name];
  if (v === undefined) return false;
  if (v === value) return true;
  return MULTI.has(name) && v.split(/[ \t\n\r\f]+/).includes(value);
}

/** The elements named `tag` below `root` in document order (BeautifulSoup's find_all), optionally with an attribute. */
export function findAllHtml(root: AnyNode, tag: string, attr?: { name: string; value: string }): Element[] {
  const out: Element[] = [];
  const walk = (n: AnyNode): void => {
    if (!hasChildren(n)) return;
    for (const c of n.children) {
      if (!isTag(c)) continue;
      if (c.name === tag && (!attr || attributeMatches(c, attr.name, attr.value))) out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** The text of a node and all below it (BeautifulSoup's `.text`); comments left out. */
export function htmlText(node: AnyNode): string {
  if (isText(node)) return node.data;
  if (!hasChildren(node) || isComment(node)) return "";
  let out = "";
  for (const c of node.children) out += htmlText(c);
  return out;
}

const escText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function attrValue(name: string, v: string): string {
  if (MULTI.has(name)) v = v.split(/[ \t\n\r\f]+/).filter((w) => w !== "").join(" ");
  const e = escText(v);
  if (!e.includes('"')) return `"${e}"`;
  if (!e.includes("'")) return `'${e}'`;
  return `"${e.replace(/"/g, "&quot;")}"`;
}

/** The HTML text of a node as BeautifulSoup's str(tag) writes it (minimal escaping, attributes sorted). */
export function htmlOuter(node: AnyNode): string {
  if (isText(node)) {
    const parent = node.parent;
    // script and style hold their text as it is
    if (parent && isTag(parent) && (parent.name === "script" || parent.name === "style")) return node.data;
    return escText(node.data);
  }
  if (isComment(node)) return `<!--${(node as { data: string }).data}-->`;
  if (isDirective(node)) return `<${(node as { data: string }).data}>`;
  if (node instanceof load().d.Element) {
    const attrs = Object.keys(node.attribs).sort().map((k) => ` ${k}=${attrValue(k, node.attribs[k]!)}`).join("");
    if (VOID.has(node.name) && node.children.length === 0) return `<${node.name}${attrs}/>`;
    return `<${node.name}${attrs}>${node.children.map(htmlOuter).join("")}</${node.name}>`;
  }
  if (hasChildren(node)) return node.children.map(htmlOuter).join("");
  return "";
}

/** Whether a node is a text node (for walking a document). */
export function isHtmlText(node: AnyNode): node is Text {
  return isText(node);
}
