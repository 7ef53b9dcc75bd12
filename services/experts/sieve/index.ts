// SPDX-License-Identifier: AGPL-3.0-only
import {
  ConfigurationError, INTELMQ_ROOT, defineBot, errorMessage, outputPath, z,
  type BotCheckLine, type Emit, type Harmonization, type Routed,
} from "../../../shared/sdk/index.js";
import { CONTINUE, DROP, type State } from "./compile.js";
import { compileFiles, lintFiles, readSieveFiles } from "./load.js";

export const params = z.object({
  file: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .default(`${INTELMQ_ROOT}/var/lib/bots/sieve/filter.sieve`)
    .describe("Sieve file with the rules, or a list of them run in order as one rule set (IntelMQ takes one); "
      + "/opt/intelmq/ at its start and relative paths mean the project's root (INTELMQ_ROOT_DIR)"),
}).strict();

type Params = z.infer<typeof params>;

/** The configured files as paths on this machine. */
export function sieveFiles(prm: Params, rootDir: string): string[] {
  return (Array.isArray(prm.file) ? prm.file : [prm.file]).map((f) => outputPath(f, rootDir));
}

const floatLookup = (h: Harmonization) => {
  const lookup = h.lookup("Event");
  return (key: string) => lookup(key)?.float ?? false;
};

export default defineBot({
  kind: "expert",
  name: "sieve",
  intelmq: "intelmq.bots.experts.sieve.expert",
  description: "Filters, modifies and routes events by rules in IntelMQ's sieve language (conditions on fields; add, update, remove, append, path, keep, drop)",
  params,
  create: (prm, ctx) => {
    let top;
    try {
      const files = readSieveFiles(sieveFiles(prm, ctx.rootDir), ctx.harmonization);
      const isFloat = floatLookup(ctx.harmonization);
      top = compileFiles(files, { isFloat, warn: (m) => ctx.log.warn(m) });
    } catch (err) {
      throw new ConfigurationError("sieve", errorMessage(err), { cause: err });
    }
    const runs = top.map((s) => s.run);
    const debug = ctx.log.isLevelEnabled("debug");

    return {
      process(event): Emit {
        const st: State = { vars: null, paths: null };
        for (let i = 0; i < runs.length; i++) {
          const r = runs[i]!(event, st);
          if (r === CONTINUE) continue;
          if (debug) ctx.log.debug("%s event based on the statement at %s.", r === DROP ? "Dropped" : "Kept", top[i]!.where);
          if (r === DROP) return null;
          break;
        }
        const paths = st.paths;
        if (paths === null) return event;
        // Named paths as IntelMQ's sieve sends them: skipped when not configured (path-permissive).
        if (paths.length === 1) return { path: paths[0]!, msg: event, permissive: true } satisfies Routed;
        return paths.map((path): Routed => ({ path, msg: event, permissive: true }));
      },
    };
  },
  check: (prm, ctx) => {
    const lines: BotCheckLine[] = [];
    try {
      const files = readSieveFiles(sieveFiles(prm, ctx.rootDir), ctx.harmonization);
      for (const w of lintFiles(files, ctx.harmonization)) lines.push(["warning", w]);
    } catch (err) {
      lines.push(["error", errorMessage(err)]);
    }
    return lines;
  },
});
