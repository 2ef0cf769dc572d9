/**
 * The checks and catalog reads the local shell tooling needs, through the same code the program uses
 * (lib/registry.ts, lib/preflight.ts, estate/catalog.ts), so the scripts never re-implement them:
 *
 *   local-check.ts registry <host:port> [--wait SECONDS]
 *       the registry refuses anonymous requests (401), accepts REGISTRY_USERNAME / REGISTRY_PASSWORD
 *       (from the environment, never the command line) with the CA in DAYU_REGISTRY_CA, and, when
 *       DAYU_CHECK_SYSTEM_TRUST=1, is also trusted through the system store alone (what Go programs
 *       such as the docker-build provider use; run node with --use-openssl-ca for that);
 *   local-check.ts builders <name=platform>... [--wait SECONDS]
 *       `buildx inspect --bootstrap` of each builder (buildx from DAYU_BUILDX, default `buildx`);
 *   local-check.ts mirrors <catalog>
 *       `<name> <platforms, comma separated> <source>` for each mirror of the catalog.
 *
 * Run with `node -r ts-node/register/transpile-only scripts/local-check.ts ...`. Exit 0 when healthy,
 * 1 with the reasons on stderr otherwise, 2 on a usage error. With --wait the checks are repeated
 * every second until they pass or the time is up (one node start instead of one per poll).
 */
import * as fs from "fs";
import { parseCatalog } from "../estate/catalog";
import { checkBuilders, checkRegistry, execRunner } from "../lib/preflight";
import { RegistryAuth, RegistryClient, RegistryError } from "../lib/registry";

/** A check: resolves when healthy, rejects with a reason a person can act on. */
export type Check = () => Promise<void>;

/** Parsed command line. */
export interface Command {
  verb: "registry" | "builders" | "mirrors";
  args: string[];
  /** Seconds to keep retrying a failing check. Default 0: one attempt. */
  waitSeconds: number;
}

/** Parses argv (without node and the script); throws a usage message on anything unexpected. */
export function parseArgs(argv: string[]): Command {
  const args: string[] = [];
  let waitSeconds = 0;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--wait") {
      waitSeconds = Number(argv[++i]);
      if (!Number.isFinite(waitSeconds) || waitSeconds < 0)
        throw new Error(`--wait needs a number of seconds, got "${argv[i] ?? ""}"`);
    } else args.push(argv[i]);
  }
  const [verb, ...rest] = args;
  if (verb !== "registry" && verb !== "builders" && verb !== "mirrors")
    throw new Error(
      "usage: local-check.ts registry <host:port> | builders <name=platform>... | mirrors <catalog> [--wait SECONDS]",
    );
  if (rest.length === 0) throw new Error(`local-check.ts ${verb}: missing arguments`);
  return { verb, args: rest, waitSeconds };
}

/** `name=linux/arch` pairs into builder checks; throws naming a malformed pair. */
export function parseBuilders(pairs: string[]): { name: string; platform: string }[] {
  return pairs.map((pair) => {
    const m = /^([^=]+)=(\w+\/\w+(?:\/\w+)?)$/.exec(pair);
    if (!m)
      throw new Error(`builder "${pair}": expected name=os/arch, e.g. dayu-amd64=linux/amd64`);
    return { name: m[1], platform: m[2] };
  });
}

/** The mirrors of a catalog file as `name platforms source` lines, through the catalog's own loader. */
export function mirrorLines(catalogText: string, file: string): string[] {
  return (parseCatalog(catalogText, file).mirrors ?? []).map(
    (m) => `${m.name} ${m.platforms.join(",")} ${m.source}`,
  );
}

/**
 * The registry checks: auth enforced, credentials accepted (the program's pre-flight check), and
 * optionally the system trust store. `ping` and `checkCredentials` are injectable for tests.
 */
export function registryCheck(
  address: string,
  env: NodeJS.ProcessEnv,
  ping: (client: RegistryClient) => Promise<void> = (c) => c.ping(),
  checkCredentials: (auth: RegistryAuth) => Promise<void> = checkRegistry,
): Check {
  const ca = env.DAYU_REGISTRY_CA ? fs.readFileSync(env.DAYU_REGISTRY_CA, "utf8") : undefined;
  const username = env.REGISTRY_USERNAME;
  if (!username || !env.REGISTRY_PASSWORD)
    throw new Error("REGISTRY_USERNAME and REGISTRY_PASSWORD must be set in the environment");
  return async () => {
    try {
      await ping(new RegistryClient({ address, ca, timeoutMs: 5000 }));
      throw new Error(`registry ${address} answers anonymous requests: auth is not enforced`);
    } catch (err) {
      if (!(err instanceof RegistryError && err.status === 401)) throw err;
    }
    await checkCredentials({
      address,
      ca,
      username,
      password: env.REGISTRY_PASSWORD,
      timeoutMs: 5000,
    });
    if (env.DAYU_CHECK_SYSTEM_TRUST === "1") {
      try {
        await ping(new RegistryClient({ address, username, password: env.REGISTRY_PASSWORD }));
      } catch (err) {
        throw new Error(
          `registry ${address} is not trusted through the system store (is this checkout's CA installed?): ${(err as Error).message}`,
        );
      }
    }
  };
}

/** Runs a check until it passes or `waitSeconds` are over; rejects with the last reason. */
export async function retry(check: Check, waitSeconds: number, pauseMs = 1000): Promise<void> {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() + pauseMs > deadline) throw err;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}

async function main(argv: string[]): Promise<number> {
  let cmd: Command;
  try {
    cmd = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  try {
    if (cmd.verb === "mirrors") {
      const file = cmd.args[0];
      for (const line of mirrorLines(fs.readFileSync(file, "utf8"), file))
        process.stdout.write(`${line}\n`);
      return 0;
    }
    const check: Check =
      cmd.verb === "registry"
        ? registryCheck(cmd.args[0], process.env)
        : () =>
            checkBuilders(parseBuilders(cmd.args), execRunner, process.env.DAYU_BUILDX ?? "buildx");
    await retry(check, cmd.waitSeconds);
    return 0;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
