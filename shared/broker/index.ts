// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The broker module: queues, dumps and caches on NATS JetStream (connectJetStream) or in memory
 * (MemoryBroker, for tests and library mode). The only module that talks to the NATS client.
 */
export type {
  Archive, Broker, BrokerLimits, ClaimLimits, ClaimSet, BrokerState, ConsumeOptions, ControlTransport, Delivery, DumpEntry, DumpStore, JetStreamBroker, KvBuckets, KvCache, KvLimits, KvStore, LogStore, PeekedMessage, QueueInfo, Queues, PublishOptions, QueueSettings,
  ReplayOptions, ReplayResult, RequestHandler, Service, StoredDump, Subscription,
} from "./types.js";
export { MemoryBroker } from "./memory/index.js";
export { composeBroker, type BrokerParts } from "./compose.js";
export { connectJetStream, type JetStreamOptions } from "./jetstream/index.js";
export { newUserNkey, userNkeyFromSeed, type UserNkey } from "./nkeys.js";
export {
  ARCHIVE_STREAM, archiveSubject, checkServerVersion, claimsStream, claimsSubject, ghostPurgeSeq, compareVersions, CONSUMER_NAME, DEFAULTS, DUMPS_STREAM, dumpSubject, LARGE_ARCHIVE_BUCKET, LARGE_BUCKET, LARGE_DUMPS_BUCKET, LOGS_STREAM, logSubject, MIN_SERVER_VERSION, OBJECT_HEADER,
  parseServerVersion, queueStream, queueSubject, resolveLimits, serverHas,
} from "./names.js";
