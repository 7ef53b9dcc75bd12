// SPDX-License-Identifier: AGPL-3.0-only
/**
 * deploy/k8s: the Kubernetes manifests stay what `intelmqctl k8s` makes of etc/runtime.yaml, and
 * they hold together: every manifest parses, each Deployment runs one bot of runtime.yaml with
 * only its own credentials, the NATS chart's values ask for three servers with JetStream.
 * No cluster runs here: the checks are structural (and `kubectl kustomize` renders the folder
 * where kubectl is installed).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { loadRuntimeConfig, parseRuntimeConfig } from "../shared/config/index.js";
import { k8sFiles, writesOutsideVar } from "../cli/ctl-k8s.js";
import { writeNatsConfig } from "../cli/ctl-nats-config.js";
import { src } from "./helpers/paths.js";

const DIR = src("deploy", "k8s");

interface Container {
  name?: string;
  image?: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
}
interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  configMap?: { name: string };
  emptyDir?: object;
}
interface Deployment {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> };
    template?: {
      metadata?: { labels?: Record<string, string> };
      spec?: { securityContext?: { runAsNonRoot?: boolean; runAsUser?: number }; containers?: Container[]; volumes?: Volume[] };
    };
  };
}

/** Every document of a YAML file; fails on a syntax error. */
function documents(text: string, file: string): unknown[] {
  return parseAllDocuments(text).map((d) => {
    assert.deepEqual(d.errors, [], `${file} parses`);
    return d.toJS() as unknown;
  }).filter((d) => d !== null);
}

/** The Deployments of bots.yaml text, checked for what every Deployment needs. */
function deployments(text: string): Deployment[] {
  const docs = documents(text, "bots.yaml") as Deployment[];
  for (const d of docs) {
    assert.equal(d.apiVersion, "apps/v1");
    assert.equal(d.kind, "Deployment");
    const name = d.metadata?.name;
    assert.ok(name, "metadata.name");
    assert.ok(d.spec?.selector?.matchLabels && Object.keys(d.spec.selector.matchLabels).length > 0, `${name}: a selector`);
    assert.deepEqual(d.spec.selector.matchLabels, d.spec.template?.metadata?.labels, `${name}: the selector matches the pods' labels`);
    const containers = d.spec.template?.spec?.containers ?? [];
    assert.equal(containers.length, 1, `${name}: one container`);
    assert.ok(containers[0]!.image, `${name}: an image`);
    assert.ok(Array.isArray(containers[0]!.args) && containers[0]!.args.length > 0, `${name}: args`);
  }
  return docs;
}

function node(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, args, { encoding: "utf8", cwd: src(), env, timeout: 60_000 });
}

test("deploy/k8s is what `intelmqctl k8s` makes of etc/runtime.yaml", { timeout: 60_000 }, () => {
  const env = { ...process.env, INTELMQ_ROOT_DIR: src() };
  const r = node([src("bin", "intelmqctl.mjs"), "k8s", "--check", "--type", "json"], env);
  const out = JSON.parse(r.stdout || "{}") as { stale?: string[] };
  assert.deepEqual(out.stale, [], `deploy/k8s is stale: run npx intelmqctl k8s (${r.stderr})`);
  assert.equal(r.status, 0, r.stderr);
  // --check tells a stale folder by its exit code
  const empty = mkdtempSync(join(tmpdir(), "intelmq-k8s-"));
  try {
    const stale = node([src("bin", "intelmqctl.mjs"), "k8s", "--check", "--out", empty], env);
    assert.equal(stale.status, 1);
    assert.match(stale.stdout, /bots\.yaml is stale/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("every manifest of deploy/k8s parses; each Deployment runs one bot of etc/runtime.yaml with only its own credentials", () => {
  const config = loadRuntimeConfig(src("etc", "runtime.yaml"));
  const deps = deployments(readFileSync(join(DIR, "bots.yaml"), "utf8"));
  const ids = new Set<string>();
  for (const d of deps) {
    const c = d.spec!.template!.spec!.containers![0]!;
    const id = c.args![0]!;
    assert.equal(c.args!.length, 1);
    assert.ok(Object.hasOwn(config.bots, id), `${id} is a bot of runtime.yaml`);
    assert.equal(d.metadata!.name, id);
    assert.ok(!ids.has(id), `one Deployment for ${id}`);
    ids.add(id);
    const bot = config.bots[id]!;
    assert.equal(d.spec!.replicas, bot.enabled ? bot.instances : 0, `${id}: replicas`);
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env["NATS_URL"], "nats://nats:4222");
    assert.equal(env["INTELMQ_NATS_CREDENTIALS_DIR"], "/run/intelmq-creds");
    assert.equal(c.resources?.limits?.["memory"], "128Mi");
    assert.ok(c.resources?.requests?.["memory"] && c.resources.requests["cpu"]);
    const pod = d.spec!.template!.spec!;
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext?.runAsUser, 1000, "the image's user by number (runAsNonRoot cannot check a user name)");
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, writesOutsideVar(config, id).length === 0);
    const mounts = new Map((c.volumeMounts ?? []).map((m) => [m.mountPath, m]));
    for (const f of ["runtime.yaml", "harmonization.conf"]) {
      const m = mounts.get(`/opt/intelmq/etc/${f}`);
      assert.ok(m && m.readOnly === true && m.subPath === f, `${id}: ${f} mounted read-only`);
    }
    assert.ok(mounts.get("/run/intelmq-creds")?.readOnly);
    const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
    assert.ok(volumes.get(mounts.get("/opt/intelmq/var")!.name)?.emptyDir, `${id}: var/ is an emptyDir`);
    const creds = volumes.get(mounts.get("/run/intelmq-creds")!.name)!.secret!;
    assert.equal(creds.secretName, "intelmq-nats-creds");
    assert.deepEqual(creds.items, [{ key: `${id}.creds`, path: `${id}.creds` }], `${id} gets its own credentials file only`);
  }
  for (const [id, bot] of Object.entries(config.bots)) if (bot.enabled) assert.ok(ids.has(id), `enabled bot ${id} has a Deployment`);

  const kust = documents(readFileSync(join(DIR, "kustomization.yaml"), "utf8"), "kustomization.yaml")[0] as {
    namespace?: string; resources?: string[];
    configMapGenerator?: { name: string; files: string[] }[]; secretGenerator?: { name: string; files: string[] }[];
  };
  assert.equal(kust.namespace, "intelmq");
  assert.deepEqual(kust.resources, ["bots.yaml"]);
  const etc = kust.configMapGenerator?.find((g) => g.name === "intelmq-etc");
  assert.deepEqual(etc?.files, ["etc/runtime.yaml", "etc/harmonization.conf"]);
  for (const f of etc.files) assert.ok(existsSync(join(DIR, f)), f);
  const secret = kust.secretGenerator?.find((g) => g.name === "intelmq-nats-creds");
  assert.deepEqual(secret?.files, [...ids].map((id) => `nats/creds/${id}.creds`), "the Secret holds every bot's credentials and nothing else");

  const values = parse(readFileSync(join(DIR, "nats-values.yaml"), "utf8")) as {
    config?: {
      cluster?: { enabled?: boolean; replicas?: number };
      jetstream?: { enabled?: boolean; fileStore?: { enabled?: boolean; pvc?: { size?: string } } };
      merge?: Record<string, unknown>;
    };
  };
  assert.equal(values.config?.jetstream?.enabled, true);
  assert.equal(values.config?.jetstream?.fileStore?.enabled, true);
  assert.match(values.config?.jetstream?.fileStore?.pvc?.size ?? "", /^\d+Gi$/);
  assert.equal(values.config?.cluster?.enabled, true);
  assert.equal(values.config?.cluster?.replicas, 3);
  assert.equal(values.config?.merge?.["$include"], "authorization.conf", "the servers include nats-config's authorization");
});

test("intelmqctl k8s: instances are replicas, a disabled bot has none, a bot writing outside var/ keeps a writable root", () => {
  const config = parseRuntimeConfig([
    "global: {queue_replicas: 3}",
    "a-collector:\n  module: intelmq.bots.collectors.http.collector_http\n  run_mode: scheduled\n  parameters: {destination_queues: [p-queue]}",
    "p:\n  module: intelmq.bots.parsers.json.parser\n  instances: 3\n  parameters: {destination_queues: [o-queue, s-queue, v-queue]}",
    "o:\n  module: intelmq.bots.outputs.file.output\n  enabled: false\n  parameters: {file: /srv/events.txt}",
    "s:\n  module: intelmq.bots.outputs.file.output\n  parameters: {file: /opt/intelmq/var/lib/bots/s/events.txt}",
    "v:\n  module: intelmq.bots.outputs.file.output\n  parameters: {file: var/lib/bots/v/events.txt}",
  ].join("\n") + "\n");
  const files = k8sFiles(config, { outName: "deploy/k8s", runtimeYaml: "x: 1\n", harmonization: null });
  assert.deepEqual(Object.keys(files).sort(), ["bots.yaml", "etc/runtime.yaml", "kustomization.yaml", "nats-values.yaml"]);
  assert.equal(files["etc/runtime.yaml"], "x: 1\n");
  const deps = new Map(deployments(files["bots.yaml"]!).map((d) => [d.metadata!.name!, d]));
  assert.deepEqual([...deps.keys()], ["a-collector", "p", "o", "s", "v"]);
  assert.equal(deps.get("p")!.spec!.replicas, 3);
  assert.equal(deps.get("o")!.spec!.replicas, 0);
  assert.equal(deps.get("a-collector")!.spec!.replicas, 1);
  const ro = (id: string) => deps.get(id)!.spec!.template!.spec!.containers![0]!.securityContext!.readOnlyRootFilesystem;
  assert.equal(ro("o"), false, "/srv/events.txt is on the root filesystem");
  assert.equal(ro("s"), true);
  assert.equal(ro("v"), true, "relative to /opt/intelmq");
  assert.equal(ro("p"), true);
  assert.deepEqual(writesOutsideVar(config, "o"), [["file", "/srv/events.txt"]]);
  // Without harmonization.conf beside runtime.yaml the image's own is used: nothing mounted over it.
  assert.ok(!files["bots.yaml"]!.includes("harmonization.conf"));
  assert.ok(!files["kustomization.yaml"]!.includes("harmonization.conf"));
  assert.match(files["bots.yaml"]!, /run_mode: scheduled/);
  assert.match(files["nats-values.yaml"]!, /queue_replicas: 3: every queue is a replicated stream/);
  assert.throws(() => k8sFiles(parseRuntimeConfig("Big-Bot:\n  module: intelmq.bots.experts.taxonomy.expert\n"), { outName: "k", runtimeYaml: "", harmonization: null }), /"Big-Bot" cannot name Kubernetes Deployments/);
  assert.throws(() => k8sFiles(parseRuntimeConfig(""), { outName: "k", runtimeYaml: "", harmonization: null }), /no bots/);
});

const KUBECTL = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;

test("kubectl kustomize renders deploy/k8s with the credentials of nats-config: the Deployments use the generated ConfigMap and Secret", { skip: KUBECTL ? false : "kubectl is not installed", timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "intelmq-k8s-"));
  try {
    for (const f of ["kustomization.yaml", "bots.yaml", "etc"]) cpSync(join(DIR, f), join(dir, f), { recursive: true });
    const config = loadRuntimeConfig(src("etc", "runtime.yaml"));
    writeNatsConfig(config, join(dir, "nats"));
    const r = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const docs = documents(r.stdout, "kubectl kustomize") as (Deployment & { metadata: { name: string; namespace?: string }; data?: Record<string, string> })[];
    const secret = docs.find((d) => d.kind === "Secret")!;
    const cm = docs.find((d) => d.kind === "ConfigMap")!;
    assert.match(secret.metadata.name, /^intelmq-nats-creds-/);
    assert.deepEqual(Object.keys(secret.data!).sort(), Object.keys(config.bots).map((id) => `${id}.creds`).sort());
    assert.deepEqual(Object.keys(cm.data!).sort(), ["harmonization.conf", "runtime.yaml"]);
    const deps = docs.filter((d) => d.kind === "Deployment");
    assert.equal(deps.length, Object.keys(config.bots).length);
    for (const d of deps) {
      assert.equal(d.metadata.namespace, "intelmq");
      const volumes = d.spec!.template!.spec!.volumes!;
      assert.equal(volumes.find((v) => v.secret)!.secret!.secretName, secret.metadata.name);
      assert.equal(volumes.find((v) => v.configMap)!.configMap!.name, cm.metadata.name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
