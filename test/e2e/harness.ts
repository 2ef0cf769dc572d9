/**
 * The end-to-end harness: a separate `e2e` stack in its own file backend (.local/e2e/state) whose
 * images live under the `e2e/` repository prefix of the local registry and build from a scratch copy
 * of dockerfiles/ (so the test can edit Dockerfiles without touching the checkout or the dev stack):
 * one repository-shaped tree, the context of every image, as a Dayu checkout is.
 */
import { execFile, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { stringify as toYaml, parse as parseYaml } from "yaml";
import { RegistryClient } from "../../lib/registry";

export const ROOT = path.resolve(__dirname, "../..");
export const WORK = path.join(ROOT, ".local/e2e");
export const STACK = "e2e";
export const STACK_FILE = path.join(ROOT, `Pulumi.${STACK}.yaml`);
export const TOOLS = path.join(ROOT, ".tools/bin");

let sourced: NodeJS.ProcessEnv | undefined;

/**
 * The environment of every command the test runs: scripts/env.sh (the one definition of the local
 * estate's environment, sourced once) with the e2e stack and its own state folder instead of `local`.
 */
export function env(): NodeJS.ProcessEnv {
  if (!sourced) {
    const out = spawnSync("bash", ["-c", "source scripts/env.sh >/dev/null && env -0"], {
      cwd: ROOT,
      env: process.env,
      maxBuffer: 16 << 20,
    });
    if (out.status !== 0)
      throw new Error(`source scripts/env.sh failed: ${out.stderr.toString().trim()}`);
    sourced = Object.fromEntries(
      out.stdout
        .toString()
        .split("\0")
        .filter((kv) => kv.includes("="))
        .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    );
  }
  return {
    ...sourced,
    PULUMI_BACKEND_URL: `file://${path.join(WORK, "state")}`,
    PULUMI_STACK: STACK,
    // The CLI defines --event-log (the PR comment's policy results) only with debug commands on.
    PULUMI_DEBUG_COMMANDS: "true",
  };
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Where and how {@link runPulumi} runs the CLI. */
export interface PulumiTarget {
  stack: string;
  /** The test's work folder: logs go to `<work>/logs`, an own backend lives in `<work>/state`. */
  work: string;
  /** The longest one command may take; a CLI killed at it fails the step instead of hanging it. */
  timeoutMs: number;
  /** A file backend of the test's own under `<work>/state` (else the e2e backend of {@link env}). */
  ownBackend?: boolean;
  /** The project directory (default this checkout). */
  cwd?: string;
  /** A command that stands in for the CLI and takes its flags (e.g. scripts/refresh.ts). */
  command?: string[];
}

/** Runs the Pulumi CLI on `target`'s stack, bounded in time; its output goes to a log as well. */
export function runPulumi(target: PulumiTarget, args: string[], input?: string): Promise<Run> {
  const { stack, work, timeoutMs, ownBackend, cwd = ROOT } = target;
  const [file, ...prefix] = target.command ?? [path.join(TOOLS, "pulumi")];
  const backend = ownBackend
    ? { PULUMI_BACKEND_URL: `file://${work}/state`, PULUMI_STACK: stack }
    : {};
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile(
      file,
      [...prefix, ...args, "--stack", stack, "--non-interactive"],
      { cwd, env: { ...env(), ...backend }, maxBuffer: 256 << 20, timeout: timeoutMs },
      (err, stdout, stderr) => {
        const run = {
          code: err ? ((err as { code?: number }).code ?? 1) : 0,
          stdout,
          stderr,
          seconds: (Date.now() - started) / 1000,
        };
        // A CLI killed at the time limit leaves its stack locked in the test's own backend: the
        // lock goes with it, so the next step is not refused for it.
        if (ownBackend && (err as { killed?: boolean } | null)?.killed) {
          const locks = path.join(work, "state/.pulumi/locks/organization/dayu-estate", stack);
          fs.rmSync(locks, { recursive: true, force: true });
        }
        const log = path.join(work, "logs", `${String(Date.now())}-${stack}-${args[0]}.log`);
        fs.mkdirSync(path.dirname(log), { recursive: true });
        fs.writeFileSync(
          log,
          `$ ${target.command ? prefix.join(" ") : "pulumi"} ${args.join(" ")}\n# exit ${run.code} in ${run.seconds}s\n${stdout}\n${stderr}`,
        );
        resolve(run);
      },
    );
    child.stdin?.end(input ?? "");
  });
}

/**
 * Runs the Pulumi CLI on the e2e stack; output goes to .local/e2e/logs as well. `cwd` is the
 * project directory (default this checkout; a second checkout for the path-independence step).
 */
export function pulumi(args: string[], input?: string, cwd: string = ROOT): Promise<Run> {
  return runPulumi({ stack: STACK, work: WORK, timeoutMs: 15 * 60 * 1000, cwd }, args, input);
}

/** Fails with the tail of the output when a command did not succeed. */
export function ok(run: Run, what: string): Run {
  if (run.code !== 0) {
    throw new Error(
      `${what} exited ${run.code}:\n${(run.stdout + run.stderr).split("\n").slice(-40).join("\n")}`,
    );
  }
  return run;
}

export function credentials(): { username: string; password: string } {
  return credentialsFile(".local/credentials.env", "REGISTRY");
}

/** `<PREFIX>_USERNAME` / `<PREFIX>_PASSWORD` of a credentials file local-services.sh wrote. */
function credentialsFile(file: string, prefix: string): { username: string; password: string } {
  const text = fs.readFileSync(path.join(ROOT, file), "utf8");
  const get = (k: string) => new RegExp(`^${k}=(.*)$`, "m").exec(text)?.[1] ?? "";
  return { username: get(`${prefix}_USERNAME`), password: get(`${prefix}_PASSWORD`) };
}

/**
 * The second registry standing for production (`scripts/local-services.sh start --prod-registry`):
 * its address from scripts/env.sh (`DAYU_PROD_REGISTRY`), its own credentials, a client.
 */
export function prodRegistry(): string {
  const address = env().DAYU_PROD_REGISTRY;
  if (!address)
    throw new Error(
      "the prod registry is off: scripts/local-services.sh start --prod-registry (DAYU_PROD_REGISTRY is unset)",
    );
  return address;
}

export function prodCredentials(): { username: string; password: string } {
  return credentialsFile(".local/prod-credentials.env", "PROD_REGISTRY");
}

export function prodRegistryClient(): RegistryClient {
  return new RegistryClient({
    address: prodRegistry(),
    ...prodCredentials(),
    ca: fs.readFileSync(path.join(ROOT, ".local/pki/ca.crt"), "utf8"),
  });
}

/** The local registry's address, from the committed dev stack. */
export function devConfig(): Record<string, unknown> {
  return (
    parseYaml(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as {
      config: Record<string, unknown>;
    }
  ).config;
}

/**
 * The registry this checkout's services listen on: `DAYU_REGISTRY` from scripts/env.sh (the port the
 * last `local-services.sh start` used; another checkout may hold the default), else the dev stack's.
 */
export function localRegistry(): string {
  const reg = devConfig()["dayu-estate:registry"] as { address: string };
  return env().DAYU_REGISTRY ?? reg.address;
}

export function registryClient(): RegistryClient {
  return new RegistryClient({
    address: localRegistry(),
    ...credentials(),
    ca: fs.readFileSync(path.join(ROOT, ".local/pki/ca.crt"), "utf8"),
  });
}

/**
 * Checks the local services and stand-ins exist; throws saying which command brings them up. With
 * `prodRegistry`, the second registry too. A test whose estate mirrors nothing passes
 * `{ standins: false }`.
 */
export function requirePrerequisites(
  opts: { prodRegistry?: boolean; standins?: boolean } = {},
): void {
  const missing: string[] = [];
  for (const tool of [
    "pulumi",
    "pulumi-language-nodejs",
    "pulumi-resource-docker-build",
    "buildx",
    "buildkitd",
  ]) {
    if (!fs.existsSync(path.join(TOOLS, tool)))
      missing.push(`.tools/bin/${tool} (run scripts/toolchain.sh)`);
  }
  for (const f of [
    ".local/credentials.env",
    ".local/pki/ca.crt",
    ".local/passphrase",
    ...((opts.standins ?? true) ? [".local/standins.txt"] : []),
  ]) {
    if (!fs.existsSync(path.join(ROOT, f)))
      missing.push(`${f} (run scripts/test.sh or npm run local)`);
  }
  const status = spawnSync(path.join(ROOT, "scripts/local-services.sh"), ["status"], {
    encoding: "utf8",
  });
  if (status.status !== 0)
    missing.push(`local services are not all up:\n${status.stdout}${status.stderr}`);
  if (opts.prodRegistry && !/^prod-registry\s+running/m.test(status.stdout))
    missing.push("the prod registry (scripts/local-services.sh start --prod-registry)");
  if (opts.prodRegistry && !fs.existsSync(path.join(ROOT, ".local/prod-credentials.env")))
    missing.push(".local/prod-credentials.env (scripts/local-services.sh start --prod-registry)");
  if (missing.length)
    throw new Error(`end-to-end prerequisites missing:\n  - ${missing.join("\n  - ")}`);
}

/** Writes the e2e stack file: the dev stack's services, the e2e/ prefix, contexts in the scratch copy. */
export function writeStackFile(imageContexts: Record<string, string>): void {
  const dev = devConfig();
  const pins = Object.fromEntries(
    fs
      .readFileSync(path.join(ROOT, ".local/standins.txt"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" ")),
  );
  const config: Record<string, unknown> = {
    "dayu-estate:environment": "dev",
    "dayu-estate:release": "v1.3",
    "dayu-estate:repositoryPrefix": "e2e",
    "dayu-estate:registry": {
      ...(dev["dayu-estate:registry"] as Record<string, unknown>),
      address: localRegistry(),
    },
    "dayu-estate:builders": dev["dayu-estate:builders"],
    "dayu-estate:registryCache": dev["dayu-estate:registryCache"],
    "dayu-estate:contexts": imageContexts,
    "dayu-estate:mirrorSources": pins,
  };
  fs.writeFileSync(
    STACK_FILE,
    `# Written by the end-to-end test (test/e2e); not committed.\n${toYaml({ config })}`,
  );
}

/** The resources a `pulumi preview --json` would change, as `type name` strings, sorted. */
export function changedResources(previewJson: string): string[] {
  const doc = JSON.parse(previewJson) as { steps?: { op: string; urn: string }[] };
  return (doc.steps ?? [])
    .filter((s) => s.op !== "same" && s.op !== "read")
    .map((s) => {
      // urn:pulumi:<stack>::<project>::<parentType$type>::<name>
      const parts = s.urn.split("::");
      const types = parts[2].split("$");
      return `${types[types.length - 1]} ${parts.slice(3).join("::")}`;
    })
    .sort();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
