// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The changes IntelMQ's own upgrade-config makes between 1.0 and 3.3 that matter for a converted
 * configuration: renamed modules and parameters, changed feed URLs and names, and the bots and
 * feeds IntelMQ removed (reported, not deleted: the operator decides). Each step is written so
 * that running it on a configuration it already applied to changes nothing; only the steps that
 * pin an old default depend on the version the configuration comes from.
 */

export type Params = Record<string, unknown>;
export interface UpgradeBot {
  module: string;
  group?: unknown;
  parameters: Params;
  [key: string]: unknown;
}

/** What a step reports: a change it made, or something the operator must do. */
export interface StepNote {
  botId: string | null;
  kind: "changed" | "removed" | "action";
  message: string;
}

/** [major, minor, patch] of the IntelMQ the configuration comes from (as far as it can be told). */
export type Version = readonly [number, number, number];
export const versionBefore = (v: Version, w: Version): boolean => v[0] !== w[0] ? v[0] < w[0] : v[1] !== w[1] ? v[1] < w[1] : v[2] < w[2];

/** Old module name -> the module IntelMQ replaced it with (IntelMQ 1.1, 2.1, 3.2.2). */
export const RENAMED_MODULES: Readonly<Record<string, string>> = {
  "intelmq.bots.collectors.n6.collector_stomp": "intelmq.bots.collectors.stomp.collector",
  "intelmq.bots.parsers.cymru_full_bogons.parser": "intelmq.bots.parsers.cymru.parser_full_bogons",
  "intelmq.bots.experts.ripencc_abuse_contact.expert": "intelmq.bots.experts.ripe.expert",
  "intelmq.bots.outputs.postgresql.output": "intelmq.bots.outputs.sql.output",
  "intelmq.bots.experts.url2fqdn.expert": "intelmq.bots.experts.url.expert",
};

/** Modules IntelMQ removed with the feeds they parsed, and the release that removed them. */
export const REMOVED_MODULES: Readonly<Record<string, string>> = {
  "intelmq.bots.parsers.nothink.parser": "2.1.3 (Nothink feeds discontinued)",
  "intelmq.bots.parsers.urlvir.parser": "2.2.0 (URLVir discontinued)",
  "intelmq.bots.parsers.hphosts.parser": "2.2.1 (HP Hosts discontinued)",
  "intelmq.bots.parsers.malwaredomainlist.parser": "2.3.0 (Malware Domain List discontinued)",
  "intelmq.bots.parsers.malwaredomains.parser": "3.0.1 (Malware Domains discontinued)",
  "intelmq.bots.parsers.malc0de.parser": "3.1.0 (Malc0de discontinued)",
  "intelmq.bots.parsers.autoshun.parser": "3.1.0 (Autoshun discontinued)",
  "intelmq.bots.parsers.dshield.parser_domain": "3.1.0 (DShield Suspicious Domains discontinued)",
  "intelmq.bots.parsers.abusech.parser_ip": "3.1.0 (use the Feodo Tracker parser)",
  "intelmq.bots.parsers.abusech.parser_domain": "3.1.0 (Abuse.ch domain feeds discontinued)",
  "intelmq.bots.parsers.taichung.parser": "3.1.0 (Taichung feed discontinued)",
  "intelmq.bots.parsers.netlab_360.parser": "3.2.2 (Netlab 360 feeds discontinued)",
  "intelmq.bots.parsers.webinspektor.parser": "3.2.2 (WebInspektor feed discontinued)",
  "intelmq.bots.parsers.sucuri.parser": "3.2.2 (Sucuri feed discontinued)",
};

/** Feed URLs (prefixes) that no longer deliver, with the feed's name. */
const DISCONTINUED_URLS: readonly [string, string][] = [
  ["https://zeustracker.abuse.ch/", "Zeus Tracker"],
  ["https://bitcash.cz/misc/log/blacklist", "Bitcash.cz"],
  ["https://ransomwaretracker.abuse.ch/feeds/csv/", "Abuse.ch Ransomware Tracker"],
  ["http://www.nothink.org/", "Nothink Honeypot"],
  ["https://www.nothink.org/", "Nothink Honeypot"],
  ["https://feed.caad.fkie.fraunhofer.de/ddosattackfeed", "Fraunhofer DDoS Attack"],
  ["http://www.urlvir.com/export-", "URLVir"],
  ["http://hosts-file.net/download/hosts.txt", "HP Hosts File"],
  ["http://www.malwaredomainlist.com/updatescsv.php", "Malware Domain List"],
  ["http://mirror1.malwaredomains.com/files/domains.txt", "Malware Domains"],
  ["https://malc0de.com/bl", "Malc0de"],
  ["https://www.autoshun.org/download", "Autoshun"],
  ["https://feodotracker.abuse.ch/blocklist/?download=domainblocklist", "Feodo Tracker Domains"],
  ["https://feodotracker.abuse.ch/browse", "Abuse.ch Feodo Tracker Browse (use the Feodo Tracker feed)"],
  ["https://feodotracker.abuse.ch/downloads/ipblocklist.csv", "Abuse.ch Feodo Tracker IPs (use the Feodo Tracker feed)"],
  ["http://data.netlab.360.com/", "Netlab 360"],
  ["https://data.netlab.360.com/", "Netlab 360"],
  ["https://www.tc.edu.tw/net/netflow/lkout/recent", "Taichung"],
  ["http://labs.sucuri.net/?malware", "Sucuri"],
  ["https://app.webinspector.com/public/recent_detections/", "WebInspektor"],
];

/** Feed URLs that moved: the old URL (prefix) and the new one. */
const MOVED_URLS: readonly [string, string][] = [
  ["https://feodotracker.abuse.ch/blocklist/?download=ipblocklist", "https://feodotracker.abuse.ch/downloads/ipblocklist.csv"],
  ["https://osint.bambenekconsulting.com/feeds/dga-feed.txt", "https://faf.bambenekconsulting.com/feeds/dga-feed.txt"],
  ["https://project.turris.cz/greylist-data/greylist-latest.csv", "https://view.sentinel.turris.cz/greylist-data/greylist-latest.csv"],
];

/** Shadowserver feed names renamed (1.1.0, 2.2.2) and the legacy ones Shadowserver stopped (3.1.0). */
const SHADOWSERVER_RENAMED: Readonly<Record<string, string>> = {
  "Botnet-Drone-Hadoop": "Drone",
  "DNS-open-resolvers": "DNS-Open-Resolvers",
  "Open-NetBIOS": "Open-NetBIOS-Nameservice",
  "Ssl-Freak-Scan": "SSL-FREAK-Vulnerable-Servers",
  "Ssl-Scan": "SSL-POODLE-Vulnerable-Servers",
  "Blacklisted-IP": "Blocklist",
};
const SHADOWSERVER_LEGACY = new Set([
  "Amplification-DDoS-Victim", "CAIDA-IP-Spoofer", "Darknet", "Drone", "Drone-Brute-Force", "HTTP-Scanners", "ICS-Scanners",
  "IPv6-Sinkhole-HTTP-Drone", "Microsoft-Sinkhole", "Outdated-DNSSEC-Key", "Outdated-DNSSEC-Key-IPv6", "Sinkhole-HTTP-Drone",
]);

/** The URLhaus CSV columns before and after IntelMQ 2.2.1. */
const URLHAUS_OLD = ["time.source", "source.url", "status", "extra.urlhaus.threat_type", "source.fqdn", "source.ip", "source.asn", "source.geolocation.cc"];
const URLHAUS_NEW = ["time.source", "source.url", "status", "classification.type|__IGNORE__", "source.fqdn|__IGNORE__", "source.ip", "source.asn", "source.geolocation.cc"];

/** The fields url2fqdn left alone: the url expert with these skipped does what it did. */
const URL2FQDN_SKIP = [
  "source.ip", "source.port", "source.urlpath", "source.account", "destination.ip", "destination.port",
  "destination.urlpath", "destination.account", "protocol.application", "protocol.transport",
];

/** Move parameter `from` to `to` (kept if `to` is set already, then `from` just goes). */
function rename(p: Params, from: string, to: string): boolean {
  if (!(from in p)) return false;
  if (!(to in p)) p[to] = p[from];
  delete p[from];
  return true;
}

const isCollector = (b: UpgradeBot) => b.group === "Collector" || b.module.includes(".collectors.");

/** Apply the bot steps to every bot; `from` is the version the configuration comes from. */
export function upgradeBots(bots: Record<string, UpgradeBot>, global: Params, from: Version): StepNote[] {
  const notes: StepNote[] = [];
  const changed = (botId: string, message: string) => notes.push({ botId, kind: "changed", message });
  for (const [id, bot] of Object.entries(bots)) {
    const p = bot.parameters;
    const renamed = RENAMED_MODULES[bot.module];
    if (renamed) {
      const old = bot.module;
      bot.module = renamed;
      if (old.endsWith("postgresql.output") && !("engine" in p)) p.engine = "postgresql";
      if (old.endsWith("url2fqdn.expert") && !("skip_fields" in p)) p.skip_fields = [...URL2FQDN_SKIP];
      changed(id, `module ${old} is now ${renamed}`);
    }
    const m = bot.module;
    if (isCollector(bot) && p.feed && rename(p, "feed", "name")) changed(id, "parameter feed is now name");
    if (m === "intelmq.bots.experts.ripe.expert") {
      if ("query_ripe_stat" in p) {
        p.query_ripe_stat_asn ??= p.query_ripe_stat;
        p.query_ripe_stat_ip ??= p.query_ripe_stat;
        delete p.query_ripe_stat;
        changed(id, "parameter query_ripe_stat is now query_ripe_stat_asn and query_ripe_stat_ip");
      } else if (versionBefore(from, [2, 0, 2]) && "query_ripe_stat_asn" in p && !("query_ripe_stat_ip" in p)) {
        p.query_ripe_stat_ip = p.query_ripe_stat_asn;
        changed(id, "query_ripe_stat_ip set as query_ripe_stat_asn (its default before IntelMQ 2.0.2)");
      }
    }
    if (versionBefore(from, [2, 0, 2]) && ["intelmq.bots.experts.cymru_whois.expert", "intelmq.bots.experts.reverse_dns.expert", "intelmq.bots.experts.modify.expert"].includes(m)
      && !("overwrite" in p)) {
      p.overwrite = true;
      changed(id, "overwrite set to true (what the bot did before IntelMQ 2.0.2)");
    }
    if (m === "intelmq.bots.collectors.rt.collector_rt") {
      if (rename(p, "extract_files", "extract_attachment")) changed(id, "parameter extract_files is now extract_attachment");
      if (rename(p, "unzip_attachment", "extract_attachment")) changed(id, "parameter unzip_attachment is now extract_attachment");
    }
    if (m === "intelmq.bots.experts.generic_db_lookup.expert" || m === "intelmq.bots.outputs.sql.output") {
      if (!("engine" in p)) {
        p.engine = "postgresql";
        changed(id, "engine set to postgresql (the only engine before IntelMQ 2.1)");
      }
    }
    if (m === "intelmq.bots.collectors.mail.collector_mail_attach" && rename(p, "attach_unzip", "extract_files")) changed(id, "parameter attach_unzip is now extract_files");
    if (m === "intelmq.bots.collectors.misp.collector" && "misp_verify" in p) {
      if (p.misp_verify !== (global.http_verify_cert ?? true)) p.http_verify_cert = p.misp_verify;
      delete p.misp_verify;
      changed(id, "parameter misp_verify is now http_verify_cert");
    }
    if (m === "intelmq.bots.outputs.elasticsearch.output" && "elastic_doctype" in p) {
      delete p.elastic_doctype;
      changed(id, "parameter elastic_doctype removed (Elasticsearch has no document types any more)");
    }
    if (m === "intelmq.bots.collectors.microsoft.collector_azure" && !("connection_string" in p)) {
      notes.push({ botId: id, kind: "action", message: "the Microsoft Azure collector changed incompatibly in IntelMQ 2.2.0: set connection_string and container_name (see its documentation)" });
    }
    if (m === "intelmq.bots.parsers.generic.parser_csv") {
      if (rename(p, "delimeter", "delimiter")) changed(id, "parameter delimeter is now delimiter");
      if (p.type !== undefined && p.type !== null) {
        const dflt = (p.default_fields && typeof p.default_fields === "object" ? p.default_fields : {}) as Params;
        p.default_fields = { ...dflt, "classification.type": p.type };
        delete p.type;
        changed(id, "parameter type is now default_fields {classification.type: ...}");
      }
      const cols = typeof p.columns === "string" ? p.columns.split(",").map((c) => c.trim()) : p.columns;
      if (JSON.stringify(cols) === JSON.stringify(URLHAUS_OLD)) {
        p.columns = [...URLHAUS_NEW];
        changed(id, "URLhaus columns updated (IntelMQ 2.2.1)");
      }
    }
    if (m === "intelmq.bots.parsers.shadowserver.parser" && typeof p.feedname === "string") {
      const to = SHADOWSERVER_RENAMED[p.feedname];
      if (to) {
        changed(id, `Shadowserver feedname ${p.feedname} is now ${to}`);
        p.feedname = to;
      }
      if (SHADOWSERVER_LEGACY.has(p.feedname as string)) {
        notes.push({ botId: id, kind: "removed", message: `the Shadowserver feed ${JSON.stringify(p.feedname)} is discontinued (IntelMQ 3.1.0): remove the bot or choose a current feed name` });
      }
    }
    if (typeof p.http_url === "string") {
      for (const [old, now] of MOVED_URLS) {
        if ((p.http_url as string).startsWith(old)) {
          changed(id, `feed URL ${p.http_url} is now ${now}`);
          p.http_url = now;
        }
      }
      const gone = DISCONTINUED_URLS.find(([prefix]) => (p.http_url as string).startsWith(prefix));
      if (gone) notes.push({ botId: id, kind: "removed", message: `the feed "${gone[1]}" (${String(p.http_url)}) is discontinued: remove the bot` });
    }
    const removed = REMOVED_MODULES[bot.module];
    if (removed) notes.push({ botId: id, kind: "removed", message: `module ${bot.module} was removed from IntelMQ in ${removed}: remove the bot` });
  }
  return notes;
}

/** IntelMQ's renamed global keys (1.1.1, 2.0.0). */
export function upgradeGlobal(global: Params): StepNote[] {
  const notes: StepNote[] = [];
  if (rename(global, "proccess_manager", "process_manager")) notes.push({ botId: null, kind: "changed", message: "global proccess_manager is now process_manager" });
  if ("broker" in global) {
    global.source_pipeline_broker ??= global.broker;
    global.destination_pipeline_broker ??= global.broker;
    delete global.broker;
    notes.push({ botId: null, kind: "changed", message: "global broker is now source_pipeline_broker and destination_pipeline_broker" });
  }
  return notes;
}
