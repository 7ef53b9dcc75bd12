// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Harmonization: IntelMQ's field types (is_valid/sanitize), DateTime converters and the
 * compiled field table of harmonization.conf.
 */
export { types, isFloatType, TAXONOMY_VALUES, CLASSIFICATION_TYPES, CLASSIFICATION_TYPE_LEGACY, checkAsn } from "./types.js";
export { genericSanitize } from "./generic.js";
export { base64Decode, base64Encode, b64Decodable } from "./base64.js";
export { idnaEncode } from "./network.js";
export { jsonLoads } from "./json.js";
export type { HarmonizationType } from "./types.js";
export { callTypeMethod, convertDateTime, ipToInt, fromPyData } from "./methods.js";
export { loadHarmonization, createHarmonization, defaultHarmonizationPath, KEY_FORMAT } from "./table.js";
export type { FieldSpec, Harmonization, CompiledField } from "./table.js";
export {
  fromTimestamp, fromEpochMillis, fromWindowsNt, fromFormat, fromFormatMidnight, fromFuzzy, fromIsoformat,
  fromIsoformat as parseUtcIsoformat, generateDatetimeNow, sanitizeDateTime, parseFuzzy, matchesIsoFormat, isoformat, strptime,
} from "./datetime.js";
export type { UtcTime } from "./datetime.js";
export { dateutilParse } from "./dateutil.js";
export type { DateutilOptions } from "./dateutil.js";
export { parseIp, parseNetwork, formatIp, formatNetwork, reverseName } from "./ip.js";
export type { IpAddr, IpNet } from "./ip.js";
export { urlsplit, urlunsplit } from "./urlsplit.js";
export type { SplitResult } from "./urlsplit.js";
export { PyFloat, pyEquals, pyRepr, pyReprStr, pyFloatRepr, pyStr, pyJsonDumps, pyJsonStr, pyCompare, pyRegex, pyStrip, pyLen, pyParseFloat, pyParseInt } from "./py.js";
export type { DumpsOptions } from "./py.js";
