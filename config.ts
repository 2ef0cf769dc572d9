/**
 * Stack config, read once: every setting (validated by estate/settings.ts), every file the config
 * names (the registry's CA, the modes' certificates) and every secret (as secret Outputs, read with
 * `getSecret` only). `index.ts` only wires what this returns. Every user mistake found here is
 * collected and thrown once, as a {@link ConfigError}.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ModeFiles, loadModeFiles } from "./estate/backends";
import { diskFiles } from "./estate/files";
import { EstateInputError, Problems } from "./estate/problems";
import { PromoteFiles, loadPromoteFiles } from "./estate/promote";
import {
  ConfigError,
  EstateSettings,
  fromConfigText,
  parseStackConfig,
  runsDaemon,
  runsRegistry,
  stackFileProblems,
  stackProblems,
} from "./estate/settings";
import { SigningKey } from "./lib/supplyChain";

/** Everything the program reads from the stack. */
export interface StackConfig {
  settings: EstateSettings;
  /** Files the config names, read and checked (certificates only; keys are secrets). */
  files: ModeFiles;
  /** Registry password (secret); empty when the registry has no auth (dev only) or in ecr mode. */
  registryPassword: pulumi.Output<string>;
  /** docker-host / kubernetes registry: its htpasswd file and TLS key (secrets). */
  registryServer?: { htpasswd: pulumi.Output<string>; tlsKey: pulumi.Output<string> };
  /** kubernetes registry with `pullUsername`: the read-only pull identity (secrets). */
  registryPull?: { pullPassword: pulumi.Output<string>; pullHtpasswd: pulumi.Output<string> };
  /** By builder name, for docker-host and kubernetes builders: the daemon's TLS key (secret). */
  builderKeys: Record<string, pulumi.Output<string>>;
  /** Promote mode: the source registry's password (secret; empty without a username). */
  promotePassword?: pulumi.Output<string>;
  /** Promote mode: the source registry's CA and the digest file. */
  promoteFiles: PromoteFiles;
  /** The cosign key pair (secret) when `supplyChain.enabled`; undefined otherwise. */
  signingKey?: pulumi.Output<SigningKey>;
  /** The checkout the program runs from (provenance's source), when it is a git checkout. */
  source?: { uri: string; revision: string };
}

/** The `<project>:` keys of the stack's config, values as text, the project prefix removed. */
function projectConfig(project: string): Record<string, string> {
  const prefix = `${project}:`;
  return Object.fromEntries(
    Object.entries(pulumi.runtime.allConfig())
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );
}

/** Reads each secret the settings need; a missing one is a problem naming its key. */
function readSecrets(settings: EstateSettings, problems: Problems) {
  const config = new pulumi.Config();
  const required = (key: string, why: string): pulumi.Output<string> => {
    const value = config.getSecret(key);
    if (value === undefined) {
      problems.at(key, `is required (a secret) ${why}: pulumi config set --secret ${key} ...`);
      return pulumi.secret("");
    }
    return value;
  };
  const reg = settings.registry;
  const registryPassword =
    reg.mode !== "ecr" && (reg.username ?? "") !== ""
      ? required("registryPassword", `for registry.username "${reg.username}"`)
      : pulumi.secret(config.getSecret("registryPassword") ?? pulumi.output(""));
  const registryServer = runsRegistry(reg.mode)
    ? {
        htpasswd: required("registryHtpasswd", `in ${reg.mode} mode`),
        tlsKey: required("registryTlsKey", `in ${reg.mode} mode`),
      }
    : undefined;
  const promote = settings.promote?.registry;
  const promotePassword = !promote
    ? undefined
    : promote.username
      ? required("promoteRegistryPassword", `for promote.registry.username "${promote.username}"`)
      : pulumi.secret("");
  const pullUser = reg.mode === "kubernetes" ? reg.kubernetes?.pullUsername : undefined;
  const registryPull = pullUser
    ? {
        pullPassword: required(
          "registryPullPassword",
          `for registry.kubernetes.pullUsername "${pullUser}"`,
        ),
        pullHtpasswd: required(
          "registryPullHtpasswd",
          `for registry.kubernetes.pullUsername "${pullUser}"`,
        ),
      }
    : undefined;
  const builderKeys: Record<string, pulumi.Output<string>> = {};
  settings.builders.forEach((b, i) => {
    if (runsDaemon(b.mode) && b.tls) {
      builderKeys[b.name] = required(b.tls.keySecret, `(named by builders[${i}].tls.keySecret)`);
    }
  });
  const signingKey = settings.supplyChain.enabled
    ? signingKeyOf(settings, required, problems)
    : undefined;
  return {
    registryPassword,
    registryServer,
    registryPull,
    builderKeys,
    promotePassword,
    signingKey,
  };
}

/** The cosign key pair: the public key is plain config, the private key and its password secrets. */
function signingKeyOf(
  settings: EstateSettings,
  required: (key: string, why: string) => pulumi.Output<string>,
  problems: Problems,
): pulumi.Output<SigningKey> {
  const why = "while supplyChain.enabled is on (cosign generate-key-pair)";
  if (!settings.cosignPublicKey.includes("-----BEGIN PUBLIC KEY-----")) {
    problems.at(
      "cosignPublicKey",
      `must be the PEM of the cosign public key ${why}; got ${settings.cosignPublicKey ? "text without a PUBLIC KEY block" : "nothing"}`,
    );
  }
  return pulumi.secret(
    pulumi
      .all([required("cosignPrivateKey", why), required("cosignPassword", why)])
      .apply(([privateKey, password]) => ({
        privateKey,
        password,
        publicKey: settings.cosignPublicKey,
      })),
  );
}

/**
 * The source revision provenance names: `git rev-parse HEAD` of the project, read once. Undefined
 * outside a git checkout (provenance then has no source, which it allows). The URI is the origin
 * remote when there is one, else a URN naming the project, never a host we would have to guess.
 */
export function sourceRevision(projectDir: string, project: string) {
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", projectDir, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  try {
    const revision = git("rev-parse", "HEAD");
    let uri = `urn:dayu-estate:source:${project}`;
    try {
      // A remote URL may carry credentials (https://user:token@host/...): never into provenance.
      uri = git("config", "--get", "remote.origin.url").replace(/\/\/[^/@]*@/, "//") || uri;
    } catch {
      // no origin remote: keep the URN
    }
    return { uri, revision };
  } catch {
    return undefined;
  }
}

/**
 * A stack that holds real secrets must not be encrypted with an empty passphrase (anyone could
 * decrypt its state).
 */
function passphraseProblem(settings: EstateSettings, problems: Problems): void {
  const env = process.env;
  if (
    settings.environment !== "dev" &&
    env.PULUMI_CONFIG_PASSPHRASE === "" &&
    !env.PULUMI_CONFIG_PASSPHRASE_FILE
  ) {
    problems.add(
      `stack ${settings.stack} (${settings.environment}) holds real secrets: an empty PULUMI_CONFIG_PASSPHRASE is refused; use a passphrase or a cloud secrets provider`,
    );
  }
}

/**
 * Reads the whole stack config. Throws one {@link ConfigError} listing every problem: the settings',
 * the stack file's (numbers where text belongs, which the CLI hides), the files' and the secrets'.
 */
export function loadStackConfig(projectDir: string): StackConfig {
  const stack = pulumi.getStack();
  const project = pulumi.getProject();
  const problems = stackProblems(stack, project);

  // The CLI turns an unquoted YAML number into text; only the stack file still shows it.
  const stackFile = path.join(projectDir, `Pulumi.${stack}.yaml`);
  if (fs.existsSync(stackFile)) {
    stackFileProblems(fs.readFileSync(stackFile, "utf8"), problems, project);
  }
  const raw = Object.fromEntries(
    Object.entries(projectConfig(project)).map(([k, v]) => [k, fromConfigText(k, v)]),
  );
  const settings = parseStackConfig(raw, stack, project, problems);

  passphraseProblem(settings, problems);
  const files = loadModeFiles(settings, projectDir, diskFiles, problems, project);
  const promoteFiles = loadPromoteFiles(settings.promote, projectDir, diskFiles, problems);
  const secrets = readSecrets(settings, problems);
  problems.throwIfAny(ConfigError);
  const source = settings.supplyChain.enabled ? sourceRevision(projectDir, project) : undefined;
  return { settings, files, promoteFiles, ...secrets, source };
}

/**
 * Runs `read` and turns a user's mistake (config, catalog, plan: an {@link EstateInputError}) into a
 * `pulumi.RunError`, which the language host prints as its message alone: one block listing every
 * problem, no stack trace, no "unhandled exception". Any other error is a bug and keeps its trace.
 */
export function asRunError<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof EstateInputError) throw runError(err.message);
    throw err;
  }
}

/**
 * A `pulumi.RunError` whose message stays as written. When the error rejects an Output that many
 * resources take (the pre-flight checks gate every build's credentials), the SDK prefixes
 * `error serializing property "…": ` to the same error object once per resource; with the message
 * fixed, the block is printed once, as written.
 */
export function runError(message: string): pulumi.RunError {
  const err = new pulumi.RunError(message);
  Object.defineProperty(err, "message", { get: () => message, set: () => undefined });
  return err;
}
