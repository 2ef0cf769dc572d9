/**
 * Stack config, read once: the typed, validated settings (see estate/settings.ts for every key) and
 * the secrets, which stay Outputs and are read with `requireSecret`/`getSecret` only.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { EstateSettings, parseSettings } from "./estate/settings";

export interface StackConfig {
  settings: EstateSettings;
  /** Registry password (secret); empty when the registry has no auth (dev only). */
  registryPassword: pulumi.Output<string>;
  /** PEM of `registry.caFile`, when set. */
  registryCa?: string;
  /** Reads a secret config key by name (builder TLS keys name theirs in config). */
  secret: (key: string) => pulumi.Output<string>;
}

export function loadStackConfig(projectDir: string): StackConfig {
  const config = new pulumi.Config();
  const stack = pulumi.getStack();
  const settings = parseSettings(
    (key) => {
      const raw = config.get(key);
      if (raw === undefined) return undefined;
      try {
        return JSON.parse(raw);
      } catch {
        return raw;
      }
    },
    stack,
    pulumi.getProject(),
  );

  const passphraseSet =
    process.env.PULUMI_CONFIG_PASSPHRASE || process.env.PULUMI_CONFIG_PASSPHRASE_FILE;
  if (
    settings.environment !== "dev" &&
    process.env.PULUMI_CONFIG_PASSPHRASE === "" &&
    !passphraseSet
  ) {
    throw new Error(
      `stack ${stack} (${settings.environment}) holds real secrets: an empty PULUMI_CONFIG_PASSPHRASE is refused; use a passphrase or a cloud secrets provider`,
    );
  }
  const needsPassword =
    settings.registry.mode !== "ecr" && (settings.registry.username ?? "") !== "";
  const registryPassword = needsPassword
    ? config.requireSecret("registryPassword")
    : pulumi.secret(config.getSecret("registryPassword") ?? pulumi.output(""));

  let registryCa: string | undefined;
  if (settings.registry.caFile) {
    const caPath = path.resolve(projectDir, settings.registry.caFile);
    if (!fs.existsSync(caPath)) {
      throw new Error(
        `${pulumi.getProject()}:registry.caFile in Pulumi.${stack}.yaml: ${caPath} does not exist`,
      );
    }
    registryCa = fs.readFileSync(caPath, "utf8");
  }
  return { settings, registryPassword, registryCa, secret: (key) => config.requireSecret(key) };
}
