// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmq-api-adduser --user NAME [--password PW]`: add an API user (or set a user's password),
 * as intelmq-api's tool of that name. Without --password it asks for one (not echoed on a
 * terminal; one line from stdin otherwise). Users live in the api-users KV bucket.
 */
import { createInterface } from "node:readline";
import { Command } from "commander";
import { intelmqPaths, loadRuntimeConfig } from "../../shared/config/index.js";
import { errorMessage } from "../../shared/errors/index.js";
import { connectCtl } from "../../cli/connect.js";
import { parseArgs } from "../../cli/args.js";
import { SessionStore } from "./sessions.js";

/** Ask for a password; on a terminal nothing is echoed. */
async function askPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const rl = createInterface({ input: stdin });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    return "";
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding("utf8");
  return await new Promise<string>((resolve, reject) => {
    let pw = "";
    const onData = (chunk: string) => {
      for (const c of chunk) {
        if (c === "\r" || c === "\n" || c === "\u0004") {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off("data", onData);
          process.stderr.write("\n");
          resolve(pw);
          return;
        }
        if (c === "\u0003") {
          stdin.setRawMode(false);
          reject(new Error("interrupted"));
          return;
        }
        if (c === "\u007f") pw = pw.slice(0, -1);
        else pw += c;
      }
    };
    stdin.on("data", onData);
  });
}

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name("intelmq-api-adduser")
    .description("Add a user of the API (intelmq-api), or set a user's password")
    .requiredOption("--user <name>", "the user name")
    .option("--password <password>", "the password (asked for when not given)")
    .showHelpAfterError()
    .exitOverride();
  const code = parseArgs(program, argv);
  if (code !== null) return code;
  const o = program.opts<{ user: string; password?: string }>();
  if (!o.user.trim()) {
    process.stderr.write("intelmq-api-adduser: the user name is empty\n");
    return 2;
  }
  let password = o.password;
  if (password === undefined) {
    password = await askPassword("Password: ");
    if (process.stdin.isTTY && password !== (await askPassword("Password (again): "))) {
      process.stderr.write("intelmq-api-adduser: the passwords differ, nothing was changed\n");
      return 1;
    }
  }
  if (!password) {
    process.stderr.write("intelmq-api-adduser: the password is empty, nothing was changed\n");
    return 1;
  }
  const config = loadRuntimeConfig(intelmqPaths().runtimeConfFile, { missingOk: true });
  const broker = await connectCtl(config, "intelmq-api-adduser");
  try {
    await new SessionStore(broker, 86400).addUser(o.user, password);
  } finally {
    await broker.close().catch(() => undefined);
  }
  process.stdout.write(`User ${o.user} can log in to the API now.\n`);
  return 0;
}

main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`intelmq-api-adduser: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
