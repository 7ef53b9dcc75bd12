// SPDX-License-Identifier: AGPL-3.0-only
/**
 * MaxMind GeoIP expert (IntelMQ's intelmq.bots.experts.maxmind_geoip.expert): country, city,
 * latitude and longitude of source/destination.ip from a local GeoLite2/GeoIP2 City database
 * (.mmdb). Reloads the file when it is replaced.
 */
import { Reader, type CityResponse } from "maxmind";
import { z } from "zod";
import { databasePath, defineBot, p, readDatabase, watchDatabase, type Event, databaseCheck, databaseCommands, type DatabaseSpec } from "../../../shared/sdk/index.js";

export const params = z.object({
  database: z.string().default("/opt/intelmq/var/lib/bots/maxmind_geoip/GeoLite2-City.mmdb")
    .describe("The City database (.mmdb); /opt/intelmq/... and relative paths are taken under INTELMQ_ROOT_DIR"),
  license_key: p.secret(z.string()).default("<insert Maxmind license key>").describe("MaxMind license key, for --update-database"),
  overwrite: p.bool().default(false).describe("Replace geolocation fields the event already has"),
  use_registered: p.bool().default(false).describe("Take the country the network is registered in instead of the one it is located in"),
  autoupdate_cached_database: p.bool().default(true).describe("Whether --update-database updates this bot's file"),
  database_url: z.string().default("https://download.maxmind.com/app/geoip_download?edition_id=GeoLite2-City&suffix=tar.gz&license_key={license_key}")
    .describe("Ours: where --update-database downloads the database ({license_key} is replaced; a tar.gz holding GeoLite2-City.mmdb, gzip or plain .mmdb)"),
}).strict();

type Params = z.infer<typeof params>;

function open(data: Buffer): Reader<CityResponse> {
  return new Reader<CityResponse>(data);
}

/** The local database: --update-database and intelmqctl check (see databaseCommands in the SDK). */
export const database: DatabaseSpec<Params> = {
  file: (prm: Params) => prm.database,
  enabled: (prm: Params) => prm.autoupdate_cached_database,
  source: (prm: Params) => {
    if (prm.database_url.includes("{license_key}") && prm.license_key.startsWith("<")) {
      return "the parameter license_key is not set: MaxMind requires a (free) license key to download GeoLite2";
    }
    return { url: prm.database_url.replaceAll("{license_key}", encodeURIComponent(prm.license_key)), member: "GeoLite2-City.mmdb" };
  },
  verify: (data) => {
    const m = open(data).metadata;
    return `${m.databaseType}, built ${m.buildEpoch.toISOString()}`;
  },
};

export default defineBot({
  kind: "expert",
  name: "maxmind_geoip",
  intelmq: "intelmq.bots.experts.maxmind_geoip.expert",
  description: "Adds geolocation (country, city, latitude, longitude) of source/destination.ip from a local MaxMind GeoLite2/GeoIP2 City database",
  params,
  commands: databaseCommands(database),
  check: databaseCheck(database),
  create: (prm, ctx) => {
    const file = databasePath(prm.database, ctx.rootDir);
    const load = () => {
      const reader = open(readDatabase(file, "GeoIP database"));
      ctx.log.info(`Loaded ${reader.metadata.databaseType} of ${reader.metadata.buildEpoch.toISOString()} from ${file}.`);
      return reader;
    };
    let db = load();
    const unwatch = watchDatabase(file, () => { db = load(); }, ctx.log);
    const add = (event: Event, key: string, value: unknown) => { event.add(key, value, { overwrite: prm.overwrite }); };
    return {
      process(event) {
        for (const key of ["source.", "destination."]) {
          const ip = event.get(`${key}ip`);
          if (ip === undefined) continue;
          const info = db.get(String(ip));
          if (!info) continue;
          const geo = `${key}geolocation.`;
          const cc = prm.use_registered ? info.registered_country?.iso_code : info.country?.iso_code;
          if (cc) add(event, `${geo}cc`, cc);
          // as IntelMQ: 0 counts as no value
          if (info.location?.latitude) add(event, `${geo}latitude`, info.location.latitude);
          if (info.location?.longitude) add(event, `${geo}longitude`, info.location.longitude);
          const city = (info.city?.names as Record<string, string> | undefined)?.en;
          if (city) add(event, `${geo}city`, city);
        }
        return event;
      },
      shutdown: unwatch,
    };
  },
});

