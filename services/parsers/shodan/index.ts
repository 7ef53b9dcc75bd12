// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Shodan parser: one banner of the Shodan stream/API (a JSON object per report) into one event,
 * either with its known fields mapped to event and extra fields, or in minimal mode with a few
 * core fields and the whole banner in extra.shodan (IntelMQ's intelmq.bots.parsers.shodan.parser).
 */
import { z } from "zod";
import { type Event, type Report, DecodingError, pyCompare, pyStr, types, defineParser, p, parserParams, type BotContext } from "../../../shared/sdk/index.js";

export const params = z.object({
  ...parserParams,
  ignore_errors: p.bool().default(true).describe("Kept for configuration compatibility; the parser does not use it"),
  minimal_mode: p.bool().default(false).describe("Only core fields, with the whole banner in extra.shodan"),
}).strict();

export type Params = z.infer<typeof params>;

type Json = Record<string, unknown>;
/** A nested table: banner key -> event field, or -> the table of the object under that key. */
interface Mapping { [key: string]: string | Mapping }

/** `extra.<prefix>.<key in lower case>` for each key: the common shape of protocol sections. */
function lowered(prefix: string, keys: readonly string[]): Mapping {
  return Object.fromEntries(keys.map((k) => [k, `extra.${prefix}.${k.toLowerCase()}`]));
}

/**
 * The banner's keys that are kept, as IntelMQ maps them. Keys absent here (ip, html, _shodan,
 * country names, hashes of robots/sitemap/favicon, ...) are dropped. The certificate's
 * organisation (O) shares the country's field with C, as in IntelMQ; when both are present the
 * country is kept (in IntelMQ it depends on Python's set order), so O comes first here.
 */
export const MAPPING: Mapping = {
  hash: "extra.shodan.event_hash",
  hostnames: "source.reverse_dns",
  org: "event_description.target",
  data: "extra.data",
  port: "source.port",
  transport: "protocol.transport",
  isp: "extra.isp",
  platform: "extra.platform",
  product: "extra.product",
  device: "extra.device",
  devicetype: "extra.devicetype",
  info: "extra.info",
  mac: "extra.mac",
  version: "extra.version",
  vulns: "extra.vulns",
  ftp: lowered("ftp", ["features", "anonymous"]),
  http: {
    title: "extra.http.html.title",
    html: "extra.http.html.data",
    location: "extra.http.location",
    components: "extra.http.components",
    server: "extra.http.server",
    host: "extra.http.host",
    waf: "extra.http.waf",
  },
  isakmp: {
    ...lowered("isakmp", ["initiator_spi", "responder_spi", "msg_id", "next_payload", "exchange_type", "length", "version"]),
    flags: lowered("isakmp", ["encryption", "authentication", "commit"]),
  },
  asn: "source.asn",
  location: {
    city: "source.geolocation.city",
    region_code: "extra.region_code",
    postal_code: "extra.postal_code",
    longitude: "source.geolocation.longitude",
    country_code: "source.geolocation.cc",
    latitude: "source.geolocation.latitude",
    area_code: "extra.area_code",
    dma_code: "extra.dma_code",
  },
  timestamp: "time.source",
  domains: "source.fqdn",
  ip_str: "source.ip",
  os: "extra.os_name",
  opts: {
    amqp: {
      mechanisms: "extra.amqp.mechanism",
      server_properties: {
        capabilities: {
          "basic.nack": "extra.amqp.capabilities.nack",
          ...lowered("amqp.capabilities", ["consumer_cancel_notify", "exchange_exchange_bindings", "publisher_confirms"]),
          ...lowered("amqp", ["copyright", "information", "platform", "product", "version"]),
        },
      },
    },
    dhcp: lowered("dhcp", ["broadcast", "chaddr", "ciaddr", "file", "giaddr", "siaddr", "sname", "yiaddr"]),
    heartbleed: "extra.heartbleed",
    ip: "extra.ip",
    ldap: lowered("ldap", ["configurationNamingContext", "defaultNamingContext", "dnsHostName", "dsServiceName",
      "errorMessage", "ldapServiceName", "namingContexts", "resultCode", "rootDomainNamingContext", "schemaNamingContext",
      "serverName", "subschemaSubentry", "supportedCapabilities", "supportedControl", "supportedExtension",
      "supportedLDAPPolicies", "supportedLDAPVersion", "supportedSASLMechanisms"]),
    raw: "extra.raw",
    text: "extra.text",
  },
  tags: "extra.tags",
  telnet: lowered("telnet", ["do", "dont", "will", "wont"]),
  afp: { ...lowered("afp", ["machine_type", "network_addresses", "uams"]), utf8_server_name: "extra.afp.server_name" },
  checkpoint: lowered("checkpoint", ["firewall_host", "smartcenter_host"]),
  coap: lowered("coap", ["resources"]),
  dns: lowered("dns", ["recursive", "resolver_hostname", "resolver_id", "software"]),
  elastic: { cluster: lowered("elastic.cluster", ["cluster_name", "status"]) },
  etcd: lowered("etcd", ["api", "clientURLs", "name", "peerURLs", "state", "version"]),
  ethernetip: lowered("ethernetip", ["device_type", "ip", "product_name", "revision_major", "revision_minor", "serial", "vendor_id", "version"]),
  hp_ilo: lowered("hp_ilo", ["ilo_firmware", "ilo_serial_number", "ilo_type", "server_type"]),
  influxdb: lowered("influxdb", ["bind_address", "build", "databases", "go_arch", "go_os", "version"]),
  knx: {
    device: lowered("knx.device", ["friendly_name", "knx_address", "mac", "multicast_address", "serial"]),
    supported_services: lowered("knx.supported_services", ["core", "device_management", "routing", "tunneling"]),
  },
  lantronix: lowered("lantronix", ["gateway", "ip", "mac", "type", "version"]),
  mongodb: {
    authentication: "extra.mongodb.authentication",
    buildInfo: {
      buildEnvironment: lowered("mongodb", ["target_arch", "target_os"]),
      openssl: lowered("mongodb.openssl", ["compiled", "running"]),
      ...lowered("mongodb", ["debug", "gitVersion", "version"]),
    },
  },
  mssql: lowered("mssql", ["dns_computer_name", "dns_domain_name", "dns_forest_name", "netbios_computer_name",
    "netbios_domain_name", "os_version", "target_realm"]),
  netbios: lowered("netbios", ["mac", "networks", "server_name"]),
  ntp: lowered("ntp", ["digest", "host", "processor", "stratum", "system", "version"]),
  redis: {
    keys: lowered("redis.keys", ["data"]),
    replication: lowered("redis.replication", ["master_host", "role"]),
    server: { ...lowered("redis.server", ["os", "tcp_port"]), redis_mode: "extra.redis.mode", redis_version: "extra.redis.version" },
  },
  rsync: lowered("rsync", ["modules"]),
  smb: lowered("smb", ["anonymous", "capabilities", "os", "smb_version", "software"]),
  snmp: lowered("snmp", ["contact", "description", "location", "name", "objectid", "ordescr"]),
  ssh: lowered("ssh", ["cipher", "fingerprint", "mac", "type"]),
  ssl: {
    cert: {
      expired: "extra.ssl.cert.expired",
      issuer: { O: "extra.ssl.cert.issuer.c", C: "extra.ssl.cert.issuer.c", OU: "extra.ssl.cert.issuer.ou", CN: "extra.ssl.cert.issuer.cn" },
      pubkey: lowered("ssl.cert.pubkey", ["bits", "type"]),
      serial: "extra.ssl.cert.serial",
      subject: { O: "extra.ssl.cert.subject.c", C: "extra.ssl.cert.subject.c", OU: "extra.ssl.cert.subject.ou", CN: "extra.ssl.cert.subject.cn" },
      version: "extra.ssl.cert.version",
    },
    cipher: lowered("ssl.cipher", ["bits", "name", "version"]),
    dhparams: lowered("ssl.dhparams", ["bits", "fingerprint", "generator", "prime", "public_key"]),
  },
  ubiquiti: lowered("ubiquiti", ["hostname", "ip", "ip_alt", "mac", "mac_alt", "product", "version"]),
  unitronics_pcom: lowered("unitronics_pcom", ["hardware_version", "model", "os_build", "os_version", "plc_name", "plc_unique_id", "uid_master"]),
  upnp: lowered("upnp", ["device_type", "friendly_name", "manufacturer", "model_description", "model_name",
    "model_number", "serial_number", "udn", "upc"]),
  vmware: lowered("vmware", ["api_type", "api_version", "build", "full_name", "name", "os_type", "product_line_id", "vendor", "version"]),
};

/** Minimal mode: event field <- top-level banner key, set only when the value is truthy. */
const MINIMAL: readonly [field: string, key: string][] = [
  ["source.ip", "ip_str"], ["source.asn", "asn"], ["source.port", "port"], ["protocol.transport", "transport"],
  ["event_description.target", "org"], ["extra.data", "data"], ["extra.html_title", "title"], ["extra.tags", "tags"],
];

/** Banner keys every module has: the others name the module (protocol) that made the banner. */
const COMMON_KEYS = new Set(["_id", "_shodan", "asn", "data", "device", "devicetype", "domains", "hash", "hostnames",
  "html", "ip", "ip_str", "isp", "location", "opts", "org", "os", "port", "tags", "timestamp", "transport"]);

/** Module keys that are application protocols, for protocol.application. */
const PROTOCOLS = new Set(["ftp", "http", "isakmp", "afp", "bgp", "coap", "dns", "ethernetip", "hp_ilo", "iscsi", "knx",
  "lantronix", "minecraft", "mqtt", "msrpc", "netbios", "ntp", "redis", "rip", "rsync", "smb", "snmp", "ssh", "telnet",
  "unitronics_pcom", "upnp"]);

/** A conversion found nothing usable: the field is left out, the banner is still parsed. */
class NoValue extends Error {
  override readonly name = "NoValue";
}

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Python's truthiness of a JSON value. */
function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return Object.keys(v).length > 0;
  return v !== null && v !== undefined && v !== false && v !== 0 && v !== "";
}

/** An object's keys, where only they matter (components, resources, modules, mac addresses). */
function keysOf(v: unknown): string[] {
  if (!isObject(v)) throw new NoValue(`expected an object, got ${JSON.stringify(v)}`);
  return Object.keys(v);
}

/** {name: {...}} -> [{..., identifier: name}] (FTP features, vulnerabilities by CVE). */
function namedList(v: unknown, at: string): Json[] {
  // Not an object at all: the banner is malformed, as IntelMQ fails it.
  if (!isObject(v)) throw new DecodingError(`${at} is not a JSON object`, { object: v });
  return Object.entries(v).map(([name, inner]) => {
    if (!isObject(inner)) throw new NoValue(`expected an object under ${JSON.stringify(name)}`);
    return { ...inner, identifier: name };
  });
}

/** The first name of a list that is a valid FQDN (strings and objects are iterated as Python does). */
function firstFqdn(v: unknown, at: string): string {
  let list: unknown[];
  if (Array.isArray(v)) list = v;
  else if (typeof v === "string") list = [...v];
  else if (isObject(v)) list = Object.keys(v);
  else throw new DecodingError(`${at} is not a list`, { object: v });
  const found = list.find((h) => types.FQDN!.isValid(h, true));
  if (found === undefined) throw new NoValue(`no valid FQDN in ${JSON.stringify(v)}`);
  return found as string;
}

/** Shodan's timestamps are UTC without an offset. */
function utc(v: unknown): string {
  if (typeof v !== "string") throw new DecodingError(`timestamp is not a string: ${JSON.stringify(v)}`, { object: v });
  return `${v}+00`;
}

/** Value conversions by key path (dot-joined banner keys). */
const CONVERSIONS: Readonly<Record<string, (v: unknown, at: string) => unknown>> = {
  "ftp.features": namedList,
  timestamp: utc,
  hostnames: firstFqdn,
  domains: firstFqdn,
  "coap.resources": keysOf,
  "http.components": keysOf,
  mac: keysOf,
  // a single value where Shodan saw only one
  "opts.ldap.supportedControl": (v) => (Array.isArray(v) ? v : [v]),
  "opts.ldap.supportedLDAPVersion": (v) => (Array.isArray(v) ? v : [v]),
  "rsync.modules": keysOf,
  // serials and generators can be longer than a JSON number is precise
  "ssl.cert.serial": (v) => pyStr(v),
  "ssl.dhparams.generator": (v) => pyStr(v),
  vulns: namedList,
};

/** One banner: its JSON text (for raw and dumps) and the parsed object. */
interface Item { text: string; banner: Json }

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function create(prm: Params, ctx: BotContext) {
  /** The mapped fields of `data` under `path`, in the order of the table. */
  function applyMapping(mapping: Mapping, data: unknown, path: readonly string[], out: Json): void {
    if (!isObject(data)) throw new DecodingError(`${path.join(".") || "the banner"} is not a JSON object`, { object: data });
    for (const [key, target] of Object.entries(mapping)) {
      if (!Object.hasOwn(data, key)) continue;
      const value = data[key];
      if (value === null) continue;
      const at = [...path, key];
      if (typeof target !== "string") {
        applyMapping(target, value, at, out);
        continue;
      }
      const name = at.join(".");
      const convert = CONVERSIONS[name];
      try {
        out[target] = convert ? convert(value, name) : value;
      } catch (err) {
        if (!(err instanceof NoValue)) throw err;
        ctx.log.debug(`Error converting data under ${name}: ${err.message}.`);
      }
    }
  }

  function full(event: Event, banner: Json): void {
    const mapped: Json = {};
    applyMapping(MAPPING, banner, [], mapped);
    event.update(mapped);
    event.add("classification.type", "other");
    event.add("classification.identifier", "shodan-scan");
    const unique = Object.keys(banner).filter((k) => !COMMON_KEYS.has(k)).sort(pyCompare);
    event.add("extra.shodan.unique_keys", unique);
    // IntelMQ takes any one of them (a set's pop); here the first in key order.
    const protocol = unique.find((k) => PROTOCOLS.has(k));
    if (protocol !== undefined) event.add("protocol.application", protocol);
    const vulns = event.get("extra.vulns");
    if (vulns !== undefined && vulns !== null) {
      if (!Array.isArray(vulns)) throw new DecodingError("vulns is not a list", { object: vulns });
      event.add("extra.verified_vulns", vulns.filter((v) => {
        if (!isObject(v) || !Object.hasOwn(v, "verified")) throw new DecodingError("a vulnerability has no verified flag", { object: v });
        return truthy(v["verified"]);
      }).map((v) => (v as Json)["identifier"]));
    }
  }

  function minimal(event: Event, banner: Json): void {
    for (const [field, key] of MINIMAL) {
      if (Object.hasOwn(banner, key) && truthy(banner[key])) event.add(field, banner[key], { overwrite: true });
    }
    const location = banner["location"];
    if (location !== undefined) {
      if (!isObject(location)) throw new DecodingError("location is not a JSON object", { object: location });
      if (Object.hasOwn(location, "country_code")) event.add("source.geolocation.cc", location["country_code"], { overwrite: true });
    }
    if (!Object.hasOwn(banner, "timestamp")) throw new DecodingError("the banner has no timestamp", { object: banner });
    event.add("time.source", utc(banner["timestamp"]), { overwrite: true });
    event.add("extra.shodan", banner, { overwrite: true });
    event.add("classification.type", "other", { overwrite: true });
    event.add("classification.identifier", "network-scan", { overwrite: true });
  }

  return {
    // The whole report is one banner; one that cannot be read fails the report, as in IntelMQ.
    *parse(report: Report): Iterable<Item> {
      const raw = report.get("raw");
      let text: string;
      try {
        text = UTF8.decode(Buffer.from(typeof raw === "string" ? raw : "", "base64"));
      } catch (err) {
        throw new DecodingError("the report is not UTF-8", { object: raw, cause: err });
      }
      let banner: unknown;
      try {
        banner = JSON.parse(text);
      } catch (err) {
        throw new DecodingError(`the report is not JSON: ${(err as Error).message}`, { object: text, cause: err });
      }
      if (!isObject(banner)) throw new DecodingError("the report is not a JSON object", { object: text });
      yield { text, banner };
    },

    parseLine(item: unknown, report: Report): Event {
      const { text, banner } = item as Item;
      const event = ctx.newEvent(report);
      event.add("raw", text, { overwrite: true });
      if (prm.minimal_mode) minimal(event, banner);
      else full(event, banner);
      return event;
    },

    recoverLine(item: unknown): string {
      return (item as Item).text;
    },
  };
}

export default defineParser({
  name: "shodan",
  intelmq: "intelmq.bots.parsers.shodan.parser",
  description: "Parse Shodan banners (one JSON object per report) into events",
  params,
  create,
});
