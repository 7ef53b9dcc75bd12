// SPDX-License-Identifier: AGPL-3.0-only
/** The keys of Microsoft's CTIP data and the fields they go to. */

/** Interflow format (a JSON list of indicators, version 1.5). */
export const INTERFLOW: Readonly<Record<string, string>> = {
  "additionalmetadata": "extra.additionalmetadata", "description": "event_description.text", "externalid": "malware.name",
  "tlplevel": "tlp", "firstreporteddatetime": "time.source", "networksourceipv4": "source.ip", "networksourceport": "source.port",
  "networkdestinationipv4": "destination.ip", "networkdestinationport": "destination.port", "isproductlicensed": "extra.isproductlicensed",
  "ispartnershareable": "extra.ispartnershareable", "networksourceasn": "source.asn", "hostname": "destination.fqdn",
  "useragent": "extra.user_agent", "severity": "extra.severity", "tags": "extra.tags",
};

/**
 * Azure format (a JSON object per line); nested objects are flattened to "Outer.Inner".
 * "__IGNORE__": known and left out.
 */
export const AZURE: Readonly<Record<string, string>> = {
  "DataFeed": "feed.name", "SourcedFrom": "event_description.text", "DateTimeReceivedUtc": "time.source",
  "DateTimeReceivedUtcTxt": "__IGNORE__", "Malware": "extra.malware", "ThreatCode": "malware.name", "ThreatConfidence": "feed.accuracy",
  "TotalEncounters": "extra.total_encounters", "TLP": "tlp", "SourceIp": "source.ip", "SourcePort": "source.port",
  "DestinationIp": "destination.ip", "DestinationIpInfo.DestinationIpAsnNumber": "destination.asn",
  "DestinationIpInfo.DestinationIpAsnOrgName": "destination.as_name",
  "DestinationIpInfo.DestinationIpCountryCode": "destination.geolocation.cc",
  "DestinationIpInfo.DestinationIpRegion": "destination.geolocation.region",
  "DestinationIpInfo.DestinationIpCity": "destination.geolocation.city",
  "DestinationIpInfo.DestinationIpPostalCode": "extra.destination.geolocation.postal_code",
  "DestinationIpInfo.DestinationIpLatitude": "destination.geolocation.latitude",
  "DestinationIpInfo.DestinationIpLongitude": "destination.geolocation.longitude",
  "DestinationIpInfo.DestinationIpMetroCode": "extra.destination.geolocation.metro_code",
  "DestinationIpInfo.DestinationIpAreaCode": "extra.destination.geolocation.area_code",
  "DestinationIpInfo.DestinationIpConnectionType": "extra.destination.connection_type",
  "DestinationIpInfo.DestinationIpv4Int": "__IGNORE__", "DestinationPort": "destination.port", "TargetIp": "__IGNORE__",
  "TargetPort": "__IGNORE__", "Signatures.Sha256": "extra.signatures.sha256", "SourceIpInfo.SourceIpAsnNumber": "source.asn",
  "SourceIpInfo.SourceIpAsnOrgName": "source.as_name", "SourceIpInfo.SourceIpCountryCode": "source.geolocation.cc",
  "SourceIpInfo.SourceIpRegion": "source.geolocation.region", "SourceIpInfo.SourceIpCity": "source.geolocation.city",
  "SourceIpInfo.SourceIpPostalCode": "extra.source.geolocation.postal_code",
  "SourceIpInfo.SourceIpLatitude": "source.geolocation.latitude", "SourceIpInfo.SourceIpLongitude": "source.geolocation.longitude",
  "SourceIpInfo.SourceIpMetroCode": "extra.source.geolocation.metro_code",
  "SourceIpInfo.SourceIpAreaCode": "extra.source.geolocation.area_code",
  "SourceIpInfo.SourceIpConnectionType": "extra.source.connection_type", "SourceIpInfo.SourceIpv4Int": "__IGNORE__",
  "HttpInfo.HttpHost": "extra.http.host", "HttpInfo.HttpRequest": "extra.http.request", "HttpInfo.HttpMethod": "extra.http.method",
  "HttpInfo.HttpReferrer": "extra.http.referrer", "HttpInfo.HttpUserAgent": "extra.user_agent",
  "HttpInfo.HttpVersion": "extra.http.version", "CustomInfo.CustomField1": "extra.custom_field1",
  "CustomInfo.CustomField2": "extra.custom_field2", "CustomInfo.CustomField3": "extra.custom_field3",
  "CustomInfo.CustomField4": "extra.custom_field4", "CustomInfo.CustomField5": "extra.custom_field5",
  "Payload.ts": "extra.payload.timestamp", "Payload.ip": "extra.payload.ip", "Payload.port": "extra.payload.port",
  "Payload.serverIp": "extra.payload.server.ip", "Payload.serverPort": "extra.payload.server.port", "Payload.domain": "destination.fqdn",
  "Payload.family": "extra.payload.family", "Payload.malware": "extra.payload.malware", "Payload.response": "extra.payload.response",
  "Payload.handler": "extra.payload.handler", "Payload.type": "protocol.application", "Payload": "extra.payload.text",
  "Payload.Time": "extra.payload.time", "Payload.SourceIP": "extra.payload.source.ip", "Payload.DestIP": "extra.payload.destination.ip",
  "Payload.RemotePort": "extra.payload.remote.port", "Payload.RemoteHost": "extra.payload.remote.host",
  "Payload.ServerPort": "extra.payload.server.port", "Payload.BCode": "extra.payload.b_code", "Payload.Protocol": "extra.payload.protocol",
  "Payload.Length": "extra.payload.length", "Payload.URI": "destination.urlpath", "Payload.Referer": "extra.http_referer",
  "Payload.UserAgent": "extra.user_agent", "Payload.RequestMethod": "extra.http.method", "Payload.HTTPHost": "extra.http.host",
  "Payload.http_host": "extra.payload.http_host", "Payload.Custom1": "extra.payload.custom_field1",
  "Payload.Custom2": "extra.payload.custom_field2", "Payload.Custom3": "extra.payload.custom_field3",
  "Payload.Custom4": "extra.payload.custom_field4", "Payload.Custom5": "extra.payload.custom_field5",
  "Payload.timestamp": "extra.payload.timestamp", "Payload.timestamp_utc": "extra.payload.timestamp_utc",
  "Payload.source_ip": "extra.payload.source.ip", "Payload.source_port": "extra.payload.source.port",
  "Payload.src_port": "extra.payload.source.port", "Payload.destination_ip": "extra.payload.destination.ip",
  "Payload.dst_ip": "extra.payload.destination.ip", "Payload.destination_port": "extra.payload.destination.port",
  "Payload.dst_port": "extra.payload.destination.port", "Payload.computer_name": "extra.payload.computer_name",
  "Payload.bot_id": "extra.payload.bot_id", "Payload.asn": "extra.payload.source.asn", "Payload.dst_asn": "extra.payload.destination.asn",
  "Payload.geo": "extra.payload.source.geolocation.cc", "Payload.dst_geo": "extra.payload.destination.geolocation.cc",
  "Payload.url": "extra.request_raw", "Payload.http_agent": "extra.http_agent", "Payload.p0f_genre": "extra.os.name",
  "Payload.p0f_detail": "extra.os.version", "Payload.http_post": "extra.payload.http_post", "Payload.naics": "extra.naics",
  "Payload.sector": "extra.sector", "Payload.ssl_cipher": "extra.ssl_cipher",
};

/** ThreatConfidence -> percentage of feed.accuracy. */
export const CONFIDENCE: Readonly<Record<string, number>> = { High: 100, Medium: 50, Low: 20, Informational: 10 };
