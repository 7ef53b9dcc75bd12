// SPDX-License-Identifier: AGPL-3.0-only
/** Public entry of the configuration module: paths, runtime.yaml, parameters, NATS settings. */
export { BOT_NODE_FLAGS, PROJECT_ROOT, botCommand, botNodeFlags, rootDir, intelmqPaths } from "./paths.js";
export type { IntelmqPaths } from "./paths.js";
export { heapSettingsHeld, holdBotHeap } from "./heap.js";
export {
  BOT_ID_RE, SYSTEM_KEYS, IGNORED_SYSTEM_KEYS,
  loadRuntimeConfig, parseRuntimeConfig, runtimeConfigFromObject, runtimeConfigToObject,
  effectiveParams, envParams, convertEnvValue, getBot,
} from "./runtime-config.js";
export { saveRuntimeConfig, setBotEnabled, setBotEnabledText, backupFile } from "./runtime-config-write.js";
export type { BotEntry, ConfigWarning, RunMode, RuntimeConfig } from "./runtime-config.js";
export { p, coerce, secretKeys } from "./coerce.js";
export {
  OWN_GLOBAL_KEYS, QUEUE_LIMIT_KEYS, INTELMQ_GLOBAL_FAMILIES, ownGlobalSchema, intelmqGlobalSchema, queueLimitsSchema,
  checkGlobal, globalSettings, isIntelmqGlobalKey, isOwnGlobalKey,
} from "./global.js";
export type { GlobalSettings, OwnGlobalKey } from "./global.js";
export {
  ADMIN_IDENTITY, CONTROL_IDENTITY, DEFAULT_NATS_URL, LOCAL_AUTH_DIR, brokerLimits, credentialsDir, credentialsFile, inboxPrefixOf, collectorQueues, maskUrl, natsOptions, splitCredentials, natsUrlFile, queueLimitsFor, queueSettings, queueSettingsFor, sourceQueueOf,
} from "./nats.js";
export type { NatsSettings } from "./nats.js";
export { INTELMQ_OPT_ROOT, OPT_PATH_PARAMETERS, optPathUnderRoot, remappedPaths, remappedPathLines } from "./opt-paths.js";
export type { RemappedPath } from "./opt-paths.js";
