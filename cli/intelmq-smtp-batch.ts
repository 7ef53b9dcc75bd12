// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmq-smtp-batch <bot-id>`: the sending half of an smtp_batch bot (IntelMQ: `--cli` of the
 * bot itself), without IntelMQ's interactive menu: lists the mails waiting (recipient, events),
 * and with --send sends them all, --tester sends them to a tester's address instead (nothing is
 * removed), --clear removes them unsent.
 */
import { Command } from "commander";
import { effectiveParams, loadRuntimeConfig } from "../shared/config/index.js";
import { errorMessage } from "../shared/errors/index.js";
import { batchBucket, params as batchParams } from "../services/outputs/smtp_batch/index.js";
import { prepareMails, sendMails } from "../services/outputs/smtp_batch/batch.js";
import { connectCtl } from "./connect.js";

const program = new Command("intelmq-smtp-batch")
  .description("Send the events an smtp_batch bot kept: one mail per recipient with a zipped CSV")
  .argument("<bot-id>", "the smtp_batch bot of runtime.yaml")
  .option("--send", "send every mail now")
  .option("--tester <address>", "send the mails to this address instead (default: the bot's testing_to); nothing is removed")
  .option("--clear", "remove the kept events without sending")
  .option("--ignore-older-than-days <n>", "leave out events older than n days (0: all)")
  .option("--limit-results <n>", "at most n mails")
  .option("--config <file>", "runtime.yaml (default: $INTELMQ_ROOT_DIR/etc/runtime.yaml)");
program.parse();
const botId = program.args[0]!;
const o = program.opts<{ send?: boolean; tester?: string | boolean; clear?: boolean; ignoreOlderThanDays?: string; limitResults?: string; config?: string }>();

const say = (line: string): void => { process.stdout.write(`${line}\n`); };
const config = loadRuntimeConfig(o.config);
const raw = effectiveParams(config, botId);
const prm = batchParams.strip().parse(Object.fromEntries(Object.entries(raw).filter(([k]) => k in batchParams.shape)));
if (o.ignoreOlderThanDays !== undefined) prm.ignore_older_than_days = Number(o.ignoreOlderThanDays);
if (o.limitResults !== undefined) prm.limit_results = Number(o.limitResults);
const broker = await connectCtl(config, "intelmq-smtp-batch");
let code = 0;
try {
  const store = await broker.kv.open(batchBucket(botId), prm.redis_cache_ttl);
  say("Preparing mail queue...");
  const mails = await prepareMails(store, prm, new Date(), (m) => process.stderr.write(`${m}\n`));
  for (const m of mails) say(`To: ${m.to}; Events: ${m.count}, Size: ${m.zip.length}`);
  if (!mails.length) {
    say(" *** No mails in queue ***");
  } else if (o.clear) {
    for (const m of mails) for (const k of m.keys) await store.delete(k);
    say("Queue cleared.");
  } else if (o.tester !== undefined) {
    const to = typeof o.tester === "string" ? o.tester : prm.testing_to;
    if (!to) throw new Error("no tester's address: give --tester <address> or set testing_to");
    say(`${await sendMails(store, prm, mails, { overrideTo: to })}× mail sent to: ${to}`);
  } else if (o.send) {
    say(`${await sendMails(store, prm, mails)}× mail sent.`);
  } else {
    say(`Number of mails in the queue: ${mails.length} (--send sends them, --tester <address> tries them, --clear removes them)`);
  }
} catch (err) {
  process.stderr.write(`intelmq-smtp-batch: ${errorMessage(err)}\n`);
  code = 1;
} finally {
  await broker.close();
}
process.exit(code);
