// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Geohash expert: extra.source.geolocation.geohash and extra.destination.geolocation.geohash
 * from the geolocation's latitude and longitude (IntelMQ's intelmq.bots.experts.geohash.expert).
 */
import { z } from "zod";
import { defineBot, p } from "../../../shared/sdk/index.js";

const BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz";

/** The geohash of a point (geohash.org): longitude and latitude bits interleaved, base32. */
export function geohash(latitude: number, longitude: number, precision: number): string {
  let lat: [number, number] = [-90, 90];
  let lon: [number, number] = [-180, 180];
  let out = "";
  let bits = 0;
  let n = 0;
  let even = true; // longitude first
  while (out.length < precision) {
    const range = even ? lon : lat;
    const value = even ? longitude : latitude;
    const mid = (range[0] + range[1]) / 2;
    bits <<= 1;
    if (value >= mid) { bits |= 1; range[0] = mid; } else range[1] = mid;
    if (even) lon = range; else lat = range;
    even = !even;
    if (++n === 5) {
      out += BASE32[bits];
      bits = 0;
      n = 0;
    }
  }
  return out;
}

export const params = z.object({
  overwrite: p.bool().default(false).describe("Replace an existing geohash"),
  precision: p.int().pipe(z.number().int().min(1).max(22)).default(7).describe("Length of the geohash (7: about 150 m)"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "geohash",
  intelmq: "intelmq.bots.experts.geohash.expert",
  description: "Computes the geohash of source and destination geolocation into extra.(source|destination).geolocation.geohash",
  params,
  create: ({ overwrite, precision }) => ({
    process(event) {
      for (const key of ["source.geolocation.", "destination.geolocation."]) {
        const lat = event.get(`${key}latitude`);
        const lon = event.get(`${key}longitude`);
        if (lat === undefined || lat === null || lon === undefined || lon === null) continue;
        event.add(`extra.${key}geohash`, geohash(Number(lat), Number(lon), precision), { overwrite });
      }
      return event;
    },
  }),
});
