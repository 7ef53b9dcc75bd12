// SPDX-License-Identifier: AGPL-3.0-only
/** The command line of `intelmqctl upgrade-config`: read, convert, report, and write (or diff). */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { backupFile, type IntelmqPaths } from "../shared/config/index.js";
import { parseVersion, readIntelmqConfig, unifiedDiff, upgradeConfig } from "./ctl-upgrade.js";

export interface UpgradeOut {
  paths: IntelmqPaths;
  json: boolean;
  info(line: string): void;
  result(value: unknown, text?: () => string[]): void;
}

export async function upgradeConfigCmd(out: UpgradeOut, o: { from?: string; to?: string; previous?: string; dryRun?: boolean }): Promise<number> {
  const from = resolve(o.from ?? out.paths.configDir);
  const target = resolve(o.to ?? out.paths.runtimeConfFile);
  const src = readIntelmqConfig(from);
  const r = await upgradeConfig(src, o.previous ? { previous: parseVersion(o.previous) } : {});
  const write = (file: string, text: string): { diff: string; written: string | null; backup: string | null } => {
    const before = existsSync(file) ? readFileSync(file, "utf8") : "";
    const diff = unifiedDiff(before, text, before ? file : "/dev/null", file);
    if (o.dryRun || before === text) return { diff, written: null, backup: null };
    mkdirSync(dirname(file), { recursive: true });
    let backup: string | null = null;
    if (before) {
      backup = backupFile(file);
      copyFileSync(file, backup);
    }
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
    return { diff, written: file, backup };
  };
  const { diff, written, backup } = write(target, r.text);
  // The harmonization goes beside the runtime.yaml it belongs to.
  const hTarget = join(dirname(target), "harmonization.conf");
  const h = r.harmonizationText !== null ? write(hTarget, r.harmonizationText) : null;
  const lines = (): string[] => {
    const t: string[] = [`Read ${src.files.join(", ")} (IntelMQ ${r.version.join(".")} layout${o.previous ? ", as given" : ""}).`];
    for (const n of r.notes) t.push(`${n.kind === "changed" ? "CHANGED" : n.kind === "removed" ? "REMOVED" : "ACTION"}: ${n.botId ? `${n.botId}: ` : ""}${n.message}`);
    for (const m of r.missing) t.push(`NOT AVAILABLE: ${m.id}: ${m.message}`);
    for (const i of r.invalid) t.push(`INVALID: ${i.id}: ${i.message}`);
    if (o.dryRun) {
      t.push(diff ? diff.replace(/\n$/, "") : `${target} would not change.`);
      if (h) t.push(h.diff ? h.diff.replace(/\n$/, "") : `${hTarget} would not change.`);
      t.push("Dry run: nothing written.");
    } else {
      for (const [file, w] of [[target, { written, backup }], [hTarget, h]] as const) {
        if (!w) continue;
        if (w.written) t.push(`Wrote ${w.written}${w.backup ? ` (the previous version is kept as ${w.backup})` : ""}.`);
        else t.push(`${file} is up to date.`);
      }
    }
    const convertible = Object.keys(r.config).length - 1 - r.missing.length;
    t.push(`${convertible} bots converted, ${r.missing.length} not available here, ${r.invalid.length} with parameters to fix. Next: intelmqctl check.`);
    return t;
  };
  out.result({
    status: r.invalid.length ? "error" : "success", version: r.version.join("."), files: src.files, target, written, backup,
    notes: r.notes, missing: r.missing, invalid: r.invalid, ...(o.dryRun ? { diff } : {}),
    harmonization: h ? { target: hTarget, written: h.written, backup: h.backup, ...(o.dryRun ? { diff: h.diff } : {}) } : null,
  }, lines);
  return r.invalid.length ? 1 : 0;
}
