// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmqctl k8s`: Kubernetes manifests for the bots of runtime.yaml, as `intelmqctl compose`
 * makes the docker-compose file: a kustomization (namespace intelmq, runtime.yaml and
 * harmonization.conf as a ConfigMap, the bots' credentials of `intelmqctl nats-config` as a
 * Secret), one Deployment per bot running the image of deploy/Dockerfile (`instances` as
 * replicas, 0 for a disabled bot), and the values of the official NATS Helm chart: three servers
 * with JetStream on file storage, including the authorization that nats-config writes.
 * No Deployment runs intelmq-control: it would start every bot again as its own child process
 * (deploy/k8s/README.md says more).
 */
import { posix } from "node:path";
import { moduleEntrypoint } from "./ctl-compose.js";
import { INTELMQ_OPT_ROOT, OPT_PATH_PARAMETERS, effectiveParams, queueSettings, type RuntimeConfig } from "../shared/config/index.js";

export const K8S_NAMESPACE = "intelmq";
/** The image of deploy/Dockerfile, as docker-compose.yml names it. */
export const K8S_IMAGE = "intelmq-nats:latest";
/** The client Service of the NATS Helm release `nats` in the same namespace. */
export const K8S_NATS_URL = "nats://nats:4222";
export const K8S_CREDS_SECRET = "intelmq-nats-creds";
export const K8S_ETC_CONFIGMAP = "intelmq-etc";
/** Where a bot's container finds its credentials file (INTELMQ_NATS_CREDENTIALS_DIR). */
export const K8S_CREDS_DIR = "/run/intelmq-creds";
/** The labels of a bot's pods (and its Deployment's selector). */
export const BOT_ID_LABEL = "intelmq-nats/bot-id";
/** The image's user, node. */
const UID = 1000;
const VAR = `${INTELMQ_OPT_ROOT}/var`;

export interface K8sOptions {
  /** The output folder as the headers name it (relative to the project's root, e.g. deploy/k8s). */
  outName: string;
  /** The text of runtime.yaml, copied into etc/ of the folder (kustomize reads no file outside it). */
  runtimeYaml: string;
  /** The text of harmonization.conf beside runtime.yaml; null: there is none, the image's own is used. */
  harmonization: string | null;
}

/** A name Kubernetes takes for a Deployment and a label value (RFC 1123 label). */
const K8S_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * The files of the folder, by path relative to it: kustomization.yaml, bots.yaml,
 * nats-values.yaml and the copies etc/runtime.yaml and etc/harmonization.conf.
 */
export function k8sFiles(config: RuntimeConfig, o: K8sOptions): Record<string, string> {
  const ids = Object.keys(config.bots);
  if (ids.length === 0) throw new Error(`${config.file ?? "runtime.yaml"} has no bots: nothing to deploy`);
  const bad = ids.filter((id) => !K8S_NAME.test(id));
  if (bad.length) {
    throw new Error(`bot ids ${bad.map((id) => JSON.stringify(id)).join(", ")} cannot name Kubernetes Deployments: lowercase letters, digits and '-', at most 63 characters`);
  }
  const files: Record<string, string> = {
    "kustomization.yaml": kustomization(config, o),
    "bots.yaml": bots(config, o),
    "nats-values.yaml": natsValues(config, o),
    "etc/runtime.yaml": o.runtimeYaml,
  };
  if (o.harmonization !== null) files["etc/harmonization.conf"] = o.harmonization;
  return files;
}

function generated(o: K8sOptions): string[] {
  return [
    `# Generated from runtime.yaml by \`npx intelmqctl k8s --out ${o.outName}\`: do not edit, change`,
    "# runtime.yaml and generate it again (a test fails when the committed files are stale).",
  ];
}

function kustomization(config: RuntimeConfig, o: K8sOptions): string {
  const lines = [
    "# The bots of runtime.yaml on Kubernetes, in the namespace intelmq beside the NATS Helm release",
    `# \`nats\` (nats-values.yaml); ${o.outName}/README.md has the steps. First the credentials:`,
    `#   npx intelmqctl nats-config --out ${o.outName}/nats   # not in git: the files are secrets`,
    `#   kubectl apply -k ${o.outName}`,
    ...generated(o),
    "apiVersion: kustomize.config.k8s.io/v1beta1",
    "kind: Kustomization",
    `namespace: ${K8S_NAMESPACE}`,
    "resources:",
    "  - bots.yaml",
    "configMapGenerator:",
    `  # ${o.harmonization !== null ? "copies of runtime.yaml and harmonization.conf" : "a copy of runtime.yaml"}: kustomize reads no file outside this folder`,
    `  - name: ${K8S_ETC_CONFIGMAP}`,
    "    files:",
    "      - etc/runtime.yaml",
  ];
  if (o.harmonization !== null) lines.push("      - etc/harmonization.conf");
  lines.push(
    "secretGenerator:",
    "  # one credentials file per bot; each bot's pod mounts only its own",
    `  - name: ${K8S_CREDS_SECRET}`,
    "    files:",
    ...Object.keys(config.bots).map((id) => `      - nats/creds/${id}.creds`),
    "",
  );
  return lines.join("\n");
}

/** Parameters naming files a bot writes, by module: those of the outputs that runtime.yaml may put anywhere, and two collectors'. */
function writtenPaths(config: RuntimeConfig, id: string): [string, string][] {
  const module = config.bots[id]!.module;
  const p = effectiveParams(config, id, {});
  const out: [string, string][] = [];
  const add = (param: string, value: unknown) => { if (typeof value === "string" && value !== "") out.push([param, value]); };
  if (module.startsWith("intelmq.bots.outputs.")) {
    for (const [param, dflt] of Object.entries(OPT_PATH_PARAMETERS[module] ?? {})) add(param, p[param] ?? dflt);
  }
  if (module === "intelmq.bots.collectors.file.collector_file" && p["delete_file"] === true) add("path", p["path"]);
  if (module === "intelmq.bots.collectors.rsync.collector_rsync") add("temp_directory", p["temp_directory"]);
  return out;
}

/** Where a path of runtime.yaml lies in the container: relative ones and /opt/intelmq/... under INTELMQ_ROOT_DIR, /opt/intelmq. */
function inImage(path: string): string {
  return posix.resolve(INTELMQ_OPT_ROOT, path);
}

/** The written paths outside the container's writable folders (var/ and /tmp, emptyDirs): the bot needs a writable root filesystem. */
export function writesOutsideVar(config: RuntimeConfig, id: string): [string, string][] {
  const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);
  return writtenPaths(config, id).filter(([, v]) => !under(inImage(v), VAR) && !under(inImage(v), "/tmp"));
}

function bots(config: RuntimeConfig, o: K8sOptions): string {
  const lines = [
    "# One Deployment per bot of runtime.yaml, each running `intelmq-bot <bot-id>` from the image of",
    "# deploy/Dockerfile; a bot's `instances` are its replicas, a disabled bot has none",
    "# (`kubectl -n intelmq scale deployment/<bot-id> --replicas=1` starts it until the next apply).",
    "# Bots reach NATS at the Service of the Helm release `nats`, each with its own credentials file.",
    ...generated(o),
  ];
  for (const [id, bot] of Object.entries(config.bots)) {
    const labels = (indent: string) => [`${indent}app.kubernetes.io/name: intelmq-nats`, `${indent}app.kubernetes.io/component: bot`, `${indent}${BOT_ID_LABEL}: ${id}`];
    const outside = writesOutsideVar(config, id);
    const entry = moduleEntrypoint(bot.module);
    const replicas = bot.enabled ? bot.instances : 0;
    let why = "";
    if (!bot.enabled) why = "   # enabled: false";
    else if (bot.instances > 1) why = `   # instances: ${bot.instances}, sharing the bot's queue`;
    lines.push(
      "---",
      `# ${id}: ${bot.module}`,
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata:",
      `  name: ${id}`,
      "  labels:",
      ...labels("    "),
      "    app.kubernetes.io/part-of: intelmq-nats",
      "spec:",
      `  replicas: ${replicas}${why}`,
      "  selector:",
      "    matchLabels:",
      ...labels("      "),
      "  template:",
      "    metadata:",
      "      labels:",
      ...labels("        "),
      "    spec:",
    );
    if (bot.run_mode === "scheduled") {
      lines.push(
        "      # run_mode: scheduled: the bot ends after one round and Kubernetes starts it again with a",
        "      # growing delay (at most 5 minutes; the pod shows CrashLoopBackOff in between)",
      );
    }
    lines.push(
      "      automountServiceAccountToken: false",
      "      enableServiceLinks: false   # no NATS_* or INTELMQ_* variables for the namespace's Services",
      "      securityContext:",
      "        runAsNonRoot: true",
      `        runAsUser: ${UID}   # node, the image's user`,
      `        runAsGroup: ${UID}`,
      `        fsGroup: ${UID}   # the group of the credentials file`,
      "        seccompProfile: { type: RuntimeDefault }",
      "      containers:",
      "        - name: bot",
      `          image: ${K8S_IMAGE}`,
      "          imagePullPolicy: IfNotPresent",
      ...(entry ? [`          command: [${entry.map((x) => JSON.stringify(x)).join(", ")}]   # the module's V8 settings (MODULE_NODE_FLAGS)`] : []),
      `          args: [${JSON.stringify(id)}]`,
      "          env:",
      `            - { name: NATS_URL, value: "${K8S_NATS_URL}" }`,
      `            - { name: INTELMQ_NATS_CREDENTIALS_DIR, value: ${K8S_CREDS_DIR} }`,
      "          securityContext:",
      "            allowPrivilegeEscalation: false",
    );
    if (outside.length) {
      lines.push(`            readOnlyRootFilesystem: false   # writes ${outside.map(([k, v]) => `${k} ${v}`).join(", ")} outside var/`);
    } else lines.push("            readOnlyRootFilesystem: true");
    lines.push(
      "            capabilities: { drop: [ALL] }",
      "          resources:   # a bot of the benchmark pipeline peaks under 100 MiB (test/e2e/memory.test.ts)",
      "            requests: { cpu: 50m, memory: 64Mi }",
      "            limits: { memory: 128Mi }",
      "          volumeMounts:",
      `            - { name: etc, mountPath: ${INTELMQ_OPT_ROOT}/etc/runtime.yaml, subPath: runtime.yaml, readOnly: true }`,
    );
    if (o.harmonization !== null) {
      lines.push(`            - { name: etc, mountPath: ${INTELMQ_OPT_ROOT}/etc/harmonization.conf, subPath: harmonization.conf, readOnly: true }`);
    }
    lines.push(
      `            - { name: creds, mountPath: ${K8S_CREDS_DIR}, readOnly: true }`,
      `            - { name: var, mountPath: ${VAR} }`,
      "            - { name: tmp, mountPath: /tmp }",
      "      volumes:",
      "        - name: etc",
      `          configMap: { name: ${K8S_ETC_CONFIGMAP} }`,
      "        - name: creds",
      "          secret:",
      `            secretName: ${K8S_CREDS_SECRET}`,
      "            defaultMode: 288   # 0440",
      `            items: [{ key: ${id}.creds, path: ${id}.creds }]`,
      "        - { name: var, emptyDir: {} }   # kept while the pod lives",
      "        - { name: tmp, emptyDir: {} }",
    );
  }
  lines.push("");
  return lines.join("\n");
}

function natsValues(config: RuntimeConfig, o: K8sOptions): string {
  const replicas = queueSettings(config).replicas ?? 1;
  return [
    "# Values of the official NATS Helm chart (https://github.com/nats-io/k8s, chart `nats`; the keys",
    "# are those of its 1.x and 2.x values.yaml): three servers with JetStream on file storage, and the",
    "# authorization of `intelmqctl nats-config` included from the chart's ConfigMap:",
    `#   npx intelmqctl nats-config --out ${o.outName}/nats`,
    "#   helm repo add nats https://nats-io.github.io/k8s/helm/charts/",
    `#   helm install nats nats/nats --namespace ${K8S_NAMESPACE} --create-namespace -f ${o.outName}/nats-values.yaml \\`,
    `#     --set-file 'configMap.merge.data.authorization\\.conf=${o.outName}/nats/authorization.conf'`,
    "# The release's name makes the Service the bots connect to (nats://nats:4222).",
    replicas >= 3
      ? `# runtime.yaml has queue_replicas: ${replicas}: every queue is a replicated stream.`
      : `# runtime.yaml has queue_replicas: ${replicas}: set \`queue_replicas: 3\` under global so that every queue is an R3 stream.`,
    ...generated(o),
    "config:",
    "  cluster:",
    "    enabled: true",
    "    replicas: 3",
    "  jetstream:",
    "    enabled: true",
    "    fileStore:",
    "      enabled: true",
    "      dir: /data",
    "      pvc:",
    "        # per server: the archive (archive_max_bytes, 10 GiB by default), queues, dumps and logs;",
    "        # every server keeps a replica of each R3 stream",
    "        size: 20Gi",
    "  merge:",
    "    # include authorization.conf; (--set-file above puts it into the ConfigMap, beside nats.conf)",
    "    $include: authorization.conf",
    "    max_payload: << 8MB >>   # as deploy/nats/nats.conf",
    "podTemplate:",
    "  topologySpreadConstraints:",
    "    kubernetes.io/hostname:",
    "      maxSkew: 1",
    "      whenUnsatisfiable: ScheduleAnyway",
    "natsBox:",
    "  enabled: false   # it would have no credentials on this server; operators use intelmqctl with admin.creds",
    "",
  ].join("\n");
}
