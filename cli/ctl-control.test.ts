// SPDX-License-Identifier: AGPL-3.0-only
// How intelmqctl merges what control services, bot instances and heartbeats say about a bot.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { InstanceStatus } from "../shared/control-protocol/index.js";
import { buildView, errorOf, mergeStatuses, parseHostReply, statusFromInstances, type HostView } from "./ctl-control.js";

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

function inst(botId: string, host: string, pid: number, state: InstanceStatus["state"]): InstanceStatus {
  return { bot_id: botId, instance: `${host}-${pid}`, host, pid, state, started: "2024-01-01T00:00:00.000Z", counters: { success: 0, failure: 0, paths: {} } };
}

describe("intelmqctl control merging", () => {
  it("a bot nobody manages runs if any instance runs; paused instances mean stopped", () => {
    assert.equal(statusFromInstances([]), "stopped");
    assert.equal(statusFromInstances(["paused", "running"]), "running");
    assert.equal(statusFromInstances(["paused", "paused"]), "stopped");
    assert.equal(statusFromInstances(["starting"]), "starting");
    assert.equal(statusFromInstances(["error", "paused"]), "error");
  });

  it("several control services: running wins, then transitions, then stopped", () => {
    assert.equal(mergeStatuses(["stopped", "running"]), "running");
    assert.equal(mergeStatuses(["stopped", "stopping"]), "stopping");
    assert.equal(mergeStatuses(["stopped", "stopped"]), "stopped");
    assert.equal(mergeStatuses([]), "unknown");
  });

  it("parses HostReply, tolerates extra or missing fields, and recognises error replies", () => {
    const strict = parseHostReply(enc({ host: "h1", bots: { a: { bot_id: "a", status: "running", enabled: true, instances_wanted: 1, instances: [{ pid: 7, state: "running", restarts: 0, since: "x" }] } } }));
    assert.deepEqual(strict, { host: "h1", bots: { a: { status: "running", enabled: true, instances: [{ pid: 7, state: "running" }] } } });
    const loose = parseHostReply(enc({ host: "h2", bots: { b: { status: "weird" } }, extra: 1 }));
    assert.deepEqual(loose, { host: "h2", bots: { b: { status: "unknown", enabled: true, instances: [] } } });
    assert.equal(parseHostReply(enc({ error: { code: "X", message: "nope" } })), null);
    assert.equal(errorOf(enc({ error: { code: "IMQ_ERR_X", message: "nope" } })), "nope (IMQ_ERR_X)");
    assert.equal(errorOf(enc({ host: "h" })), null);
  });

  it("builds a view: managed status, instances from answers, control services and heartbeats, runtime.yaml's enabled", () => {
    const hosts: HostView[] = [
      { host: "h1", bots: { a: { status: "running", enabled: true, instances: [{ pid: 10, state: "running" }, { pid: 11, state: "starting" }] } } },
      { host: "h2", bots: { a: { status: "stopped", enabled: true, instances: [] } } },
    ];
    const v = buildView("a", hosts, [inst("a", "h1", 10, "running"), inst("a", "h3", 30, "running")], [inst("a", "h4", 40, "running")], true);
    assert.equal(v.status, "running");
    assert.deepEqual(v.managedBy, ["h1", "h2"]);
    assert.deepEqual(v.instances.map((i) => [i.instance, i.managed, i.answered]), [
      ["h1-10", true, true], ["h1-11", true, false], ["h3-30", false, true], ["h4-40", false, false],
    ]);
    assert.deepEqual(v.instances.map((i) => i.counters !== undefined), [true, false, true, true], "counters from answers and heartbeats, none from a control service's list");

    const stopped = buildView("a", [{ host: "h2", bots: { a: { status: "stopped", enabled: true, instances: [] } } }], [], [], false);
    assert.equal(stopped.status, "disabled", "runtime.yaml disables it now");
    const reEnabled = buildView("a", [{ host: "h2", bots: { a: { status: "disabled", enabled: false, instances: [] } } }], [], [], true);
    assert.equal(reEnabled.status, "stopped", "enabled again in runtime.yaml, not yet re-read by the control service");
    const outside = buildView("a", [{ host: "h2", bots: { a: { status: "stopped", enabled: true, instances: [] } } }], [inst("a", "h9", 1, "running")], [], true);
    assert.equal(outside.status, "running", "an instance outside the control services still runs the bot");
    const unmanaged = buildView("b", hosts, [inst("b", "h5", 5, "paused")], [], true);
    assert.equal(unmanaged.status, "stopped");
    assert.deepEqual(unmanaged.managedBy, []);
  });
});
