// SPDX-License-Identifier: AGPL-3.0-only
/** The command line of `intelmqctl upgrade-config`: read, convert, report, and write (or diff). */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
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
  const before = existsSync(target) ? readFileSync(target, "utf8") : "";
  const diff = unifiedDiff(before, r.text, before ? target : "/dev/null", target);
  let written: string | null = null;
  let backup: string | null = null;
  if (!o.dryRun && before !== r.text) {
    mkdirSync(dirname(target), { recursive: true });
    if (before) {
      backup = backupFile(target);
      copyFileSync(target, backup);
    }
    const tmp = `${target}.tmp-${process.pid}`;
    writeFileSync(tmp, r.text);
    renameSync(tmp, target);
    written = target;
  }
  const lines = (): string[] => {
    const t: string[] = [`Read ${src.files.join(", ")} (IntelMQ ${r.version.join(".")} layout${o.previous ? ", as given" : ""}).`];
    for (const n of r.notes) t.push(`${n.kind === "changed" ? "CHANGED" : n.kind === "removed" ? "REMOVED" : "ACTION"}: ${n.botId ? `${n.botId}: ` : ""}${n.message}`);
    for (const m of r.missing) t.push(`NOT AVAILABLE: ${m.id}: ${m.message}`);
    for (const i of r.invalid) t.push(`INVALID: ${i.id}: ${i.message}`);
    if (o.dryRun) t.push(diff ? diff.replace(/\n$/, "") : `${target} would not change.`, "Dry run: nothing written.");
    else if (written) t.push(`Wrote ${written}${backup ? ` (the previous version is kept as ${backup})` : ""}.`);
    else t.push(`${target} is up to date.`);
    const convertible = Object.keys(r.config).length - 1 - r.missing.length;
    t.push(`${convertible} bots converted, ${r.missing.length} not available here, ${r.invalid.length} with parameters to fix. Next: intelmqctl check.`);
    return t;
  };
  out.result({
    status: r.invalid.length ? "error" : "success", version: r.version.join("."), files: src.files, target, written, backup,
    notes: r.notes, missing: r.missing, invalid: r.invalid, ...(o.dryRun ? { diff } : {}),
  }, lines);
  return r.invalid.length ? 1 : 0;
}
