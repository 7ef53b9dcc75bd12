// SPDX-License-Identifier: AGPL-3.0-only
/**
 * CSV converter expert: writes chosen fields of the event as one CSV line into `output`
 * (IntelMQ's intelmq.bots.experts.csv_converter.expert), e.g. for outputs that send text.
 */
import { z } from "zod";
import { pyStr, defineBot } from "../../../shared/sdk/index.js";

export const params = z.object({
  fieldnames: z.string().default("time.source,classification.type,source.ip").describe("Comma-separated fields, in column order"),
  delimiter: z.string().length(1, "must be one character").default(",").describe("Column delimiter"),
}).strict();

/** One row as Python's csv.writer writes it (excel dialect, minimal quoting), without the line end. */
export function csvRow(values: readonly string[], delimiter: string): string {
  if (values.length === 1 && values[0] === "") return '""';
  return values.map((v) => (v.includes(delimiter) || /["\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(delimiter);
}

export default defineBot({
  kind: "expert",
  name: "csv_converter",
  intelmq: "intelmq.bots.experts.csv_converter.expert",
  description: "Writes the chosen fields of each event as one CSV line into the output field",
  params,
  create: ({ fieldnames, delimiter }) => {
    const fields = fieldnames.split(",");
    return {
      process(event) {
        // Missing fields are empty columns; other values as Python's str() writes them.
        const row = fields.map((f) => (event.has(f) ? pyStr(event.get(f)) : ""));
        // Python's writer ends the line with \r\n, which IntelMQ strips with any trailing blanks.
        event.add("output", csvRow(row, delimiter).replace(/\s+$/, ""), { overwrite: true });
        return event;
      },
    };
  },
});
