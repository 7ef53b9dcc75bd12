// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The control service's NATS side: answers `intelmq.control.host.<host>.<verb>` and
 * `intelmq.control.botnet.<verb>` with HostReply, acting through the local process manager.
 */
import type { Logger } from "pino";
import type { Broker, Service } from "../../shared/broker/index.js";
import { CONTROL_PREFIX, HostRequest, HostVerb, decodeJson, encodeJson, type ErrorReply, type HostReply } from "../../shared/control-protocol/index.js";
import { ErrorCode, errorMessage } from "../../shared/errors/index.js";
import type { RuntimeConfig } from "../../shared/config/index.js";
import type { ProcessManager } from "./manager.js";

export interface ControlServiceOptions {
  broker: Broker;
  manager: ProcessManager;
  host: string;
  log: Logger;
  /** Re-read runtime.yaml (reload); throws when the file is unusable. */
  loadConfig: () => RuntimeConfig;
  /** The bots this service manages when the configuration changes (undefined = every bot of the file). */
  only?: string[];
}

/** Serves the host and botnet control subjects for one process manager. */
export class ControlService {
  readonly #o: ControlServiceOptions;
  readonly #services: Service[] = [];

  constructor(opts: ControlServiceOptions) {
    this.#o = opts;
  }

  /** Subscribe to the host's and the botnet's subjects. */
  async start(): Promise<void> {
    const serve = (subject: string) => this.#o.broker.control.serve(subject, async (data, subj) => {
      const verb = subj.slice(subj.lastIndexOf(".") + 1);
      return encodeJson(await this.handle(verb, data));
    });
    this.#services.push(await serve(`${CONTROL_PREFIX}.host.${this.#o.host}.*`));
    this.#services.push(await serve(`${CONTROL_PREFIX}.botnet.*`));
  }

  async close(): Promise<void> {
    await Promise.all(this.#services.splice(0).map((s) => s.stop().catch(() => undefined)));
  }

  /** Answer one request (also usable without NATS, e.g. for SIGHUP). */
  async handle(verb: string, data: Uint8Array): Promise<HostReply | ErrorReply> {
    let req: HostRequest;
    try {
      req = decodeJson(HostRequest, data);
    } catch (err) {
      return { error: { code: ErrorCode.InvalidArgument, message: `malformed request: ${errorMessage(err)}` } };
    }
    const m = this.#o.manager;
    const named = req.bots !== undefined && req.bots.length > 0;
    // Bots this host does not manage are left to the other hosts (and intelmqctl calls them unknown).
    const ids = named ? req.bots!.filter((id) => m.has(id)) : undefined;
    if (named && ids!.length === 0) return { host: this.#o.host, bots: {} };
    try {
      switch (verb) {
        case HostVerb.status:
        case HostVerb.ping:
          break;
        case HostVerb.start:
          this.#o.log.info({ bots: ids ?? "all" }, "control: start");
          await m.start(ids, named);
          break;
        case HostVerb.stop:
          this.#o.log.info({ bots: ids ?? "all" }, "control: stop");
          await m.stop(ids);
          break;
        case HostVerb.restart:
          this.#o.log.info({ bots: ids ?? "all" }, "control: restart");
          await m.restart(ids, named);
          break;
        case HostVerb.reload:
          this.#o.log.info({ bots: ids ?? "all" }, "control: reload");
          await this.reload(ids);
          break;
        default:
          return { error: { code: ErrorCode.InvalidArgument, message: `unknown verb ${JSON.stringify(verb)} for a control service` } };
      }
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return { error: { code: typeof code === "string" ? code : ErrorCode.PipelineError, message: errorMessage(err) } };
    }
    return { host: this.#o.host, bots: m.status(ids) };
  }

  /** Re-read runtime.yaml for our own view (instances, enabled), then SIGHUP the bots' processes. */
  async reload(ids?: string[]): Promise<void> {
    const config = this.#o.loadConfig();
    await this.#o.manager.setConfig(config, this.#o.only);
    await this.#o.manager.reload(ids?.filter((id) => this.#o.manager.has(id)));
  }
}
