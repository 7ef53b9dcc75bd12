// SPDX-License-Identifier: AGPL-3.0-only
/** The options of IntelMQ's message methods, as keyword arguments are in message.py. */
import type { Harmonization } from "../harmonization/index.js";

export type MessageKind = "Event" | "Report";

/** IntelMQ's add() keyword arguments. */
export interface AddOptions {
  /** Sanitize before validating (default true). */
  sanitize?: boolean;
  /** undefined/null: KeyExists on a present key; false: keep and return false; true: replace. */
  overwrite?: boolean | null;
  /** Extra values treated like None ("", "-", "N/A" always are). */
  ignore?: readonly unknown[] | Iterable<unknown> | string;
  /** false: return false instead of throwing InvalidValue. */
  raiseFailure?: boolean;
}

export interface ToDictOptions {
  hierarchical?: boolean;
  withType?: boolean;
  jsondictAsString?: boolean;
}

export interface HashOptions {
  /** Keys to leave out (blacklist) or to use only (whitelist). time.observation is always left out. */
  filterKeys?: Iterable<string>;
  filterType?: "blacklist" | "whitelist";
}

export interface MessageOptions {
  harmonization?: Harmonization;
  /** Report only: add time.observation = now when absent (default true, IntelMQ's auto=False). */
  autoObservation?: boolean;
}
