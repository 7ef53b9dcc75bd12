// SPDX-License-Identifier: AGPL-3.0-only
/** The keys of an AnubisNetworks Cyberfeed object and the fields they go to, as IntelMQ maps them. */
import { InvalidKey, LineError, fromTimestamp, type Event } from "../../../shared/sdk/index.js";

export type Doc = Record<string, unknown>;

const OLD_GEO: Readonly<Record<string, string>> = {
  country_code: "source.geolocation.cc",
  country_name: "source.geolocation.country",
  region: "source.geolocation.region",
  city: "source.geolocation.city",
  asn_name: "source.as_name",
  asn: "source.asn",
  longitude: "source.geolocation.longitude",
  latitude: "source.geolocation.latitude",
};
const GEO_PLAIN = new Set(["region_code", "postal_code", "region", "city", "latitude", "longitude", "dma_code", "area_code", "metro_code"]);
const EXTRA_KEYS = new Set(["request_method", "cookies", "path_info", "http_referer"]);

function unknown(field: string): never {
  throw new LineError(`unable to parse data field ${field}`);
}

function entries(v: unknown, field: string): [string, unknown][] {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new LineError(`the data field ${field} is no object`);
  return Object.entries(v);
}

/** Python's `event[key] = value`: added, replacing a value there. */
const set = (event: Event, key: string, value: unknown) => event.add(key, value, { overwrite: true });

/** A field of the harmonization, else the same under extra. (IntelMQ's event_add_fallback) */
function setOrExtra(event: Event, key: string, value: unknown): void {
  try {
    set(event, key, value);
  } catch (err) {
    if (!(err instanceof InvalidKey)) throw err;
    set(event, `extra.${key}`, value);
  }
}

/** A _geo_* object: network, location and AS of an address, under `ns` (or extra.<ns> where no such field). */
function geo(event: Event, value: unknown, ns: string, field: string): void {
  const v = Object.fromEntries(entries(value, field));
  for (const [k, x] of Object.entries(v)) {
    if (k === "ip" || k === "path") continue;
    if (k === "netmask") {
      if (!("ip" in v)) throw new LineError(`${field} has a netmask but no ip`);
      setOrExtra(event, `${ns}.network`, `${String(v.ip)}/${String(x)}`);
    } else if (k === "country_code") setOrExtra(event, `${ns}.geolocation.cc`, x);
    else if (k === "country_name") setOrExtra(event, `${ns}.geolocation.country`, x);
    else if (GEO_PLAIN.has(k)) setOrExtra(event, `${ns}.geolocation.${k}`, x);
    else if (k === "asn") setOrExtra(event, `${ns}.asn`, x);
    else if (k === "asn_name") setOrExtra(event, `${ns}.as_name`, x);
    else unknown(`${field}.${k}`);
  }
}

function http(event: Event, http: unknown, comm: Doc, doc: Doc): void {
  const h = Object.fromEntries(entries(http, "comm.http"));
  for (const [k, v] of Object.entries(h)) {
    if (k === "method") event.add("extra.request_method", v);
    else if (k === "host") {
      // a host that is no FQDN is an address: kept in extra unless it is the destination's
      const dst = doc.dst as Doc | undefined;
      if (!event.add("destination.fqdn", v, { raiseFailure: false }) && v !== dst?.ip) event.add("extra.communication.http_host", v);
    } else if (k === "path") event.add("destination.urlpath", v);
    else if (k === "user_agent") event.add("extra.user_agent", v);
    else if (k === "more_headers") event.add("extra.communication.headers", v);
    else if (k === "cookies" || k === "unverified_domain" || k === "x_forwarded_for") event.add(`extra.communication.${k}`, v);
    else unknown(`comm.http.${k}`);
  }
  if ("proto" in comm && "host" in h && "path" in h) event.add("destination.url", `${String(comm.proto)}://${String(h.host)}${String(h.path)}`);
}

/** Fill the event from a Cyberfeed object, key by key in its order; an unknown key fails the report. */
export function buildEvent(event: Event, doc: Doc, familyAsIdentifier: boolean): void {
  for (const [key, value] of Object.entries(doc)) {
    if (key === "_ts") event.add("time.source", fromTimestamp(Math.trunc(Number(value))));
    else if (key === "trojanfamily") event.add("malware.name", value);
    else if (key === "env") {
      for (const [k, v] of entries(value, key)) {
        if (k === "remote_addr") event.add("source.ip", v);
        else if (k === "remote_port") event.add("source.port", v);
        else if (k === "server_addr") event.add("destination.ip", v);
        else if (k === "server_port") event.add("destination.port", v);
        else if (k === "server_name") event.add("destination.fqdn", v, { raiseFailure: false });
        else if (EXTRA_KEYS.has(k)) set(event, `extra.${k}`, v);
        else unknown(`env.${k}`);
      }
    } else if (key === "src" || key === "dst") {
      const side = key === "src" ? "source" : "destination";
      for (const [k, v] of entries(value, key)) {
        if (k === "ip" || k === "port") event.add(`${side}.${k}`, v);
        else unknown(`${key}.${k}`);
      }
    } else if (key === "_geo_env_remote_addr") {
      const v = Object.fromEntries(entries(value, key));
      for (const [k, field] of Object.entries(OLD_GEO)) if (k in v) set(event, field, v[k]);
      if ("ip" in v && "netmask" in v) event.add("source.network", `${String(v.ip)}/${String(v.netmask)}`);
    } else if (key === "qtype") set(event, "extra.dns_query_type", value);
    else if (key === "app_proto") set(event, "protocol.application", value);
    else if (key === "malw") {
      const m = Object.fromEntries(entries(value, key));
      for (const [k, v] of Object.entries(m)) {
        if (k === "severity") event.add("extra.malware.severity", v);
        else if (k === "family") {
          if (familyAsIdentifier) event.add("classification.identifier", v);
          else {
            if (!("variant" in m)) throw new LineError("malw has a family but no variant");
            if (v !== m.variant) event.add("extra.malware.family", v);
          }
        } else if (k === "variant") event.add("malware.name", v);
        else if (k === "categories") event.add("extra.malware.categories", v);
        else if (EXTRA_KEYS.has(k)) set(event, `extra.${k}`, v);
        else unknown(`malw.${k}`);
      }
    } else if (key === "comm") {
      const c = Object.fromEntries(entries(value, key));
      for (const [k, v] of Object.entries(c)) {
        if (k === "proto") set(event, "protocol.application", v);
        else if (k === "method") event.add("extra.communication.type", v);
        else if (k === "http") http(event, v, c, doc);
        else if (k === "dns") {
          for (const [dk, dv] of entries(v, "comm.dns")) {
            if (dk === "name") event.add("destination.fqdn", dv);
            else if (dk === "qtype") set(event, "extra.dns_query_type", dv);
            else unknown(`comm.dns.${dk}`);
          }
        } else if (k === "categories") event.add("extra.malware.categories", v);
        else if (EXTRA_KEYS.has(k)) set(event, `extra.${k}`, v);
        else unknown(`comm.${k}`);
      }
    } else if (key === "tracking") {
      const fields: Record<string, string> = {
        id: "extra.tracking.id", last_ip: "extra.tracking.last.ip", first: "extra.first_seen", seen: "extra.last_seen",
        changes: "extra.tracking.changes", checkins: "extra.tracking.checkins", days: "extra.days_seen",
        same_ip: "extra.tracking.same_ip", tr: "extra.tracking.tr",
      };
      for (const [k, v] of entries(value, key)) {
        if (!Object.hasOwn(fields, k)) unknown(`tracking.${k}`);
        event.add(fields[k]!, v);
      }
    } else if (key === "_geo_src_ip") geo(event, value, "source", key);
    else if (key === "_geo_tracking_last_ip") {
      geo(event, value, "tracking.last", key);
      if ((value as Doc).path !== "tracking.last_ip") throw new LineError(`${key}.path is not 'tracking.last_ip' (${JSON.stringify((value as Doc).path)})`);
    } else if (key === "_geo_comm_http_host") {
      geo(event, value, "communication.http.host", key);
      if ((value as Doc).path !== "comm.http.host") throw new LineError(`${key}.path is not 'comm.http.host' (${JSON.stringify((value as Doc).path)})`);
    } else if (key.startsWith("_geo_comm_http_x_forwarded_for_")) {
      // "_geo_comm_http_x_forwarded_for_#1" -> communication.http.x_forwarded_for_1
      geo(event, value, `communication.http.${key.replaceAll("#", "").slice(15)}`, "_geo_comm_http_x_forwarded_for_");
    } else if (key === "_origin" || key === "_provider" || key === "pattern_verified") set(event, `extra.${key}`, value);
    else if (key === "metadata") {
      for (const [k, v] of entries(value, key)) set(event, `extra.metadata.${k}`, v);
    } else unknown(key);
  }
}
