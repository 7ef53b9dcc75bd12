// SPDX-License-Identifier: AGPL-3.0-only
/** Recorded Future's IP risk list: CSV with a header naming "Name" (the address) and "Risk" (0-99). */

/** RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks. */
export function* csvRecords(text: string): Generator<string[]> {
  let field = "";
  let row: string[] = [];
  let quoted = false;
  let any = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') { field += '"'; i++; } else quoted = false;
      continue;
    }
    if (c === '"') { quoted = true; any = true; } else if (c === ",") { row.push(field); field = ""; any = true; } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      if (any || field !== "") { row.push(field); yield row; }
      row = []; field = ""; any = false;
    } else { field += c; any = true; }
  }
  if (quoted) throw new Error("a quoted field is not closed at the end of the file");
  if (any || field !== "") { row.push(field); yield row; }
}

/** address -> risk; throws on a file without the columns or with a risk that is no integer. */
export function parseRiskList(text: string): Map<string, number> {
  const db = new Map<string, number>();
  let name = -1, risk = -1, line = 0;
  for (const rec of csvRecords(text.replace(/^\uFEFF/, ""))) {
    line++;
    if (line === 1) {
      name = rec.indexOf("Name");
      risk = rec.indexOf("Risk");
      if (name < 0 || risk < 0) throw new Error(`the header names no "Name" and "Risk" columns: ${JSON.stringify(rec.slice(0, 6))}`);
      continue;
    }
    const r = rec[risk];
    if (r === undefined || !/^\s*-?\d+\s*$/.test(r)) throw new Error(`record ${line}: the risk ${JSON.stringify(r)} is no integer`);
    db.set(rec[name]!, Number(r));
  }
  if (line === 0) throw new Error("the file is empty");
  return db;
}
