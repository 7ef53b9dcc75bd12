// SPDX-License-Identifier: AGPL-3.0-only
/**
 * GitHub contents API collector (IntelMQ's intelmq.bots.collectors.github_api.collector_github_contents_api):
 * walks a repository's tree through the contents API and sends every file whose name matches
 * `regex` as a report (feed.url: its download URL). The files of a round are downloaded first and
 * sent after, as IntelMQ does: a download failing midway sends nothing of the round.
 */
import { z } from "zod";
import { InvalidArgument, collectorParams, defineBot, httpParams, p, pyRegex, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { ApiFormatError, ApiStatusError, apiClient, joinUrl } from "../lib/api-client.js";

export const params = z.object({
  ...collectorParams,
  ...httpParams,
  personal_access_token: p.secret(z.string().nullable().default(null))
    .describe("Sent as the Authorization header of API requests (e.g. \"token ghp_...\"); without it GitHub allows 60 requests an hour"),
  repository: z.string().nullable().default(null).describe("The repository, <owner>/<name>"),
  regex: z.string().nullable().default(null).describe("Files whose name matches this regular expression (searched, not anchored) are sent"),
  extra_fields: p.list().nullable().default(null).describe("Fields of GitHub's file data (e.g. size, sha) copied into extra.file_metadata; comma-separated"),
  api_url: z.string().default("https://api.github.com").describe("Ours: root of the GitHub API"),
}).strict();

export type Params = z.infer<typeof params>;

interface GitHubEntry { type?: string; name?: string; url?: string; download_url?: string; [k: string]: unknown }

function create(prm: Params, ctx: BotContext): CollectorImpl {
  if (!prm.repository) throw new InvalidArgument("repository", prm.repository, "string");
  if (prm.regex === null) throw new InvalidArgument("regex", null, "string");
  let regex: RegExp;
  try {
    regex = pyRegex(prm.regex);
  } catch (err) {
    throw new InvalidArgument("regex", prm.regex, "a regular expression", undefined, { cause: err });
  }
  const extraFields = (prm.extra_fields ?? []).map((f) => f.trim()).filter((f) => f);
  const apiHeaders: Record<string, string> = { accept: "application/vnd.github.v3.text-match+json" };
  if (prm.personal_access_token) apiHeaders.authorization = prm.personal_access_token;
  else ctx.log.warn("Using unauthenticated API access, means the request limit is at 60 per hour.");
  const http = apiClient(prm, ctx.log);
  const root = joinUrl(prm.api_url, `repos/${prm.repository}/contents`);

  async function listing(url: string): Promise<GitHubEntry[]> {
    const res = await http.request(url, { headers: apiHeaders, accept: [401, 404] });
    const body = res.json<unknown>();
    if (res.status === 401) throw new ApiStatusError(url, 401, String((body as { message?: unknown })?.message ?? "bad credentials"));
    if (res.status === 404) throw new ApiFormatError(`Unknown repository ${JSON.stringify(prm.repository)} (or path): ${url}`);
    if (!Array.isArray(body)) throw new ApiFormatError(`The contents of ${url} are not a list: ${res.text().slice(0, 200)}`);
    return body as GitHubEntry[];
  }

  async function walk(url: string, out: Report[]): Promise<void> {
    for (const entry of await listing(url)) {
      if (entry.type === "dir" && typeof entry.url === "string") {
        await walk(entry.url, out);
      } else if (entry.type === "file" && typeof entry.name === "string" && regex.test(entry.name) && typeof entry.download_url === "string") {
        const content = (await http.request(entry.download_url)).body;
        const meta: Record<string, unknown> = {};
        for (const f of extraFields) {
          if (f in entry) meta[f] = entry[f];
          else ctx.log.warn(`Field '${f}' does not exist in the Github file data.`);
        }
        const report = ctx.newReport();
        report.add("raw", content.toString("base64"), { sanitize: false });
        report.add("feed.url", entry.download_url);
        if (Object.keys(meta).length) report.add("extra.file_metadata", meta);
        out.push(report);
      }
    }
  }

  return {
    async collect(): Promise<Report[]> {
      const reports: Report[] = [];
      await walk(root, reports);
      ctx.log.info(`Downloaded ${reports.length} files of ${prm.repository}.`);
      return reports;
    },
    shutdown: () => http.close(),
  };
}

export default defineBot({
  kind: "collector",
  name: "github_api",
  intelmq: "intelmq.bots.collectors.github_api.collector_github_contents_api",
  description: "Collect the files of a GitHub repository matching a regular expression through the contents API",
  params,
  create,
});
