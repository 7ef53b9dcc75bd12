// SPDX-License-Identifier: AGPL-3.0-only
/** The memory broker's connection state, shared by its parts. */
import { BrokerUnavailableError } from "../../errors/index.js";
import type { BrokerState } from "../types.js";

export class MemState {
  state: BrokerState = "connected";
  readonly listeners = new Set<(s: BrokerState) => void>();

  live(): void {
    if (this.state !== "connected") throw new BrokerUnavailableError("memory broker is closed");
  }

  close(): void {
    this.state = "closed";
    for (const l of this.listeners) l("closed");
  }
}
