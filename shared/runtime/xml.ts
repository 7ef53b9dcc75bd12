// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A small XML reader for feeds that parsers read as IntelMQ's do with Python's ElementTree or
 * xmltodict: elements with attributes (in document order), text and tail, CDATA, character and
 * the five predefined entity references. Comments, processing instructions and the document
 * type declaration are left out. Namespaces are not resolved: a tag is its name as written.
 * Malformed documents (unclosed or mismatched tags, junk after the root) throw XmlError.
 */

/** An element as ElementTree has it. */
export interface XmlElement {
  tag: string;
  attrib: Record<string, string>;
  /** The text before the first child (null when none, as ElementTree). */
  text: string | null;
  /** The text after the element's end tag, up to the next tag of its parent (null when none). */
  tail: string | null;
  children: XmlElement[];
}

export class XmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "XmlError";
  }
}

const ENTITIES: Readonly<Record<string, string>> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
const NAME = /^[A-Za-z_:\u00C0-\uFFFF][-A-Za-z0-9_:.\u00B7\u00C0-\uFFFF]*/;

function decodeEntities(s: string, at: number): string {
  if (!s.includes("&")) return s;
  return s.replace(/&([^;&\s]*);?/g, (m, name: string) => {
    if (!m.endsWith(";")) throw new XmlError(`not well-formed (invalid token) near position ${at}`);
    if (name.startsWith("#x")) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith("#")) return String.fromCodePoint(parseInt(name.slice(1), 10));
    const v = ENTITIES[name];
    if (v === undefined) throw new XmlError(`undefined entity &${name}; near position ${at}`);
    return v;
  });
}

/** The root element of an XML document. */
export function parseXml(input: string): XmlElement {
  // end-of-line handling of XML: "\r\n" and "\r" are "\n"
  const s = input.includes("\r") ? input.replace(/\r\n?/g, "\n") : input;
  let i = 0;
  let root: XmlElement | null = null;
  const stack: XmlElement[] = [];
  let last: XmlElement | null = null; // the element whose text or tail the next character data is
  let lastIsClosed = false;
  const addText = (t: string) => {
    if (t === "") return;
    // outside the document element only blanks may stand
    if (stack.length === 0) {
      if (t.trim() !== "") throw new XmlError(`${root ? "junk after document element" : "syntax error"} near position ${i}`);
      return;
    }
    if (!last) return;
    if (lastIsClosed) last.tail = (last.tail ?? "") + t;
    else last.text = (last.text ?? "") + t;
  };
  while (i < s.length) {
    const lt = s.indexOf("<", i);
    if (lt === -1) { addText(decodeEntities(s.slice(i), i)); i = s.length; break; }
    if (lt > i) addText(decodeEntities(s.slice(i, lt), i));
    i = lt;
    if (s.startsWith("<!--", i)) {
      const end = s.indexOf("-->", i + 4);
      if (end === -1) throw new XmlError(`unclosed comment near position ${i}`);
      i = end + 3;
    } else if (s.startsWith("<![CDATA[", i)) {
      const end = s.indexOf("]]>", i + 9);
      if (end === -1) throw new XmlError(`unclosed CDATA section near position ${i}`);
      if (stack.length === 0) throw new XmlError(`CDATA outside the document element near position ${i}`);
      addText(s.slice(i + 9, end));
      i = end + 3;
    } else if (s.startsWith("<?", i)) {
      const end = s.indexOf("?>", i + 2);
      if (end === -1) throw new XmlError(`unclosed processing instruction near position ${i}`);
      i = end + 2;
    } else if (s.startsWith("<!DOCTYPE", i)) {
      const bracket = s.indexOf("[", i);
      const gt = s.indexOf(">", i);
      const end = bracket !== -1 && bracket < gt ? s.indexOf("]>", bracket) + 1 : gt;
      if (end <= 0) throw new XmlError(`unclosed document type declaration near position ${i}`);
      i = end + 1;
    } else if (s[i + 1] === "/") {
      const m = NAME.exec(s.slice(i + 2, i + 2 + 1000));
      const open = stack.pop();
      if (!m || !open || m[0] !== open.tag) throw new XmlError(`mismatched tag near position ${i}`);
      i += 2 + m[0].length;
      while (s[i] === " " || s[i] === "\t" || s[i] === "\n") i++;
      if (s[i] !== ">") throw new XmlError(`not well-formed (invalid token) near position ${i}`);
      i++;
      last = open;
      lastIsClosed = true;
    } else {
      const m = NAME.exec(s.slice(i + 1, i + 1 + 1000));
      if (!m) throw new XmlError(`not well-formed (invalid token) near position ${i}`);
      if (root && stack.length === 0) throw new XmlError(`junk after document element near position ${i}`);
      const el: XmlElement = { tag: m[0], attrib: {}, text: null, tail: null, children: [] };
      const parent = stack.at(-1);
      let selfClosing = false;
      i += 1 + m[0].length;
      for (;;) {
        const ws = /^[ \t\n]*/.exec(s.slice(i, i + 1000))![0].length;
        i += ws;
        if (s.startsWith("/>", i)) { i += 2; selfClosing = true; break; }
        if (s[i] === ">") { i++; stack.push(el); break; }
        const a = ws > 0 ? NAME.exec(s.slice(i, i + 1000)) : null;
        if (!a) throw new XmlError(`not well-formed (invalid token) near position ${i}`);
        i += a[0].length;
        const eq = /^[ \t\n]*=[ \t\n]*(["'])/.exec(s.slice(i, i + 1000));
        if (!eq) throw new XmlError(`not well-formed (invalid token) near position ${i}`);
        i += eq[0].length;
        const close = s.indexOf(eq[1]!, i);
        if (close === -1) throw new XmlError(`unclosed attribute value near position ${i}`);
        const raw = s.slice(i, close);
        if (raw.includes("<")) throw new XmlError(`not well-formed (invalid token) near position ${i}`);
        if (a[0] in el.attrib) throw new XmlError(`duplicate attribute near position ${i}`);
        // attribute-value normalization: literal blanks become spaces
        el.attrib[a[0]] = decodeEntities(raw.replace(/[\t\n]/g, " "), i);
        i = close + 1;
      }
      if (parent) parent.children.push(el);
      else root = el;
      last = el;
      lastIsClosed = selfClosing;
    }
  }
  if (!root) throw new XmlError("no element found");
  if (stack.length) throw new XmlError(`no element found (unclosed <${stack.at(-1)!.tag}>)`);
  return root;
}

/** The element and its descendants in document order (ElementTree's iter(tag)). */
export function* xmlIter(el: XmlElement, tag?: string): Generator<XmlElement> {
  if (tag === undefined || el.tag === tag) yield el;
  for (const c of el.children) yield* xmlIter(c, tag);
}

const escText = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
const escAttr = (s: string) => escText(s).replaceAll('"', "&quot;").replaceAll("\r", "&#13;").replaceAll("\n", "&#10;").replaceAll("\t", "&#09;");

/** ElementTree.tostring(el, encoding="utf-8") as text: the element, its descendants and its tail. */
export function xmlToString(el: XmlElement): string {
  let out = `<${el.tag}`;
  for (const [k, v] of Object.entries(el.attrib)) out += ` ${k}="${escAttr(v)}"`;
  if (el.text || el.children.length) {
    out += `>${el.text ? escText(el.text) : ""}`;
    for (const c of el.children) out += xmlToString(c);
    out += `</${el.tag}>`;
  } else out += " />";
  return out + (el.tail ? escText(el.tail) : "");
}

/**
 * xmltodict.parse() of an element: an element without attributes and children is its text (null
 * when empty); else an object of "@attribute"s, children by tag (a list when repeated) and
 * "#text" (the element's character data, stripped, when not blank).
 */
export function xmlToDict(el: XmlElement): unknown {
  const data = [el.text ?? "", ...el.children.map((c) => c.tail ?? "")].join("").trim();
  const attrs = Object.entries(el.attrib);
  if (!attrs.length && !el.children.length) return data === "" ? null : data;
  const out: Record<string, unknown> = {};
  for (const [k, v] of attrs) out[`@${k}`] = v;
  for (const c of el.children) {
    const v = xmlToDict(c);
    if (!(c.tag in out)) out[c.tag] = v;
    else if (Array.isArray(out[c.tag]) && (out[c.tag] as unknown[]).length && grouped.has(out[c.tag] as unknown[])) (out[c.tag] as unknown[]).push(v);
    else {
      const list = [out[c.tag], v];
      grouped.add(list);
      out[c.tag] = list;
    }
  }
  if (data !== "") out["#text"] = data;
  return out;
}

/** The lists xmlToDict() made of repeated children (a child's own list value is not one of them). */
const grouped = new WeakSet<unknown[]>();
