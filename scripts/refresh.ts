/**
 * `npm run refresh -- --stack <stack> [pulumi refresh flags...]`: `pulumi refresh`, also right after
 * the registry password was rotated.
 *
 * A plain `pulumi refresh` reads every resource with the inputs stored in state, and configures the
 * providers with the stack config stored at the last `up`: docker-build reads with the old password
 * (an Index it cannot read loses its digest from state), and the guards are refused. So when the
 * password in the stack's config (`dayu-estate:registryPassword`) differs from the one stored in
 * state, this first stores the new one the only way Pulumi has, an `up`, and only when the preview
 * shows that this `up` changes nothing (it builds and pushes nothing; it also runs the pre-flight,
 * which checks the new password against the registry); then it refreshes. Otherwise it is
 * `pulumi refresh` with the given flags. Secrets are compared here and never printed.
 */
import { spawnSync } from "child_process";

/** Registry credentials as stored in a resource's inputs, with the resource they belong to. */
export interface StoredCredentials {
  urn: string;
  address: string;
  username: string;
  password: string;
}

/** The registry credentials in the stack config (`registry.address`, `registry.username`, `registryPassword`). */
export interface ConfiguredCredentials {
  address: string;
  username: string;
  password: string;
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** A secret as `pulumi stack export --show-secrets` prints it, unwrapped; anything else as is. */
function unwrap(v: unknown): unknown {
  if (v && typeof v === "object" && (v as Record<string, unknown>)[SECRET_SIG] !== undefined) {
    const plaintext = (v as { plaintext?: unknown }).plaintext;
    if (typeof plaintext !== "string") return undefined;
    try {
      return unwrap(JSON.parse(plaintext));
    } catch {
      return plaintext;
    }
  }
  return v;
}

/** Every `{address, username, password}` object in some inputs, at any depth, secrets unwrapped. */
function credentialsIn(v: unknown, found: Omit<StoredCredentials, "urn">[]): void {
  const value = unwrap(v);
  if (Array.isArray(value)) {
    for (const item of value) credentialsIn(item, found);
    return;
  }
  if (!value || typeof value !== "object") return;
  const o = value as Record<string, unknown>;
  const [address, username, password] = [unwrap(o.address), unwrap(o.username), unwrap(o.password)];
  if (typeof address === "string" && typeof password === "string") {
    found.push({ address, username: typeof username === "string" ? username : "", password });
  }
  for (const [k, item] of Object.entries(o)) {
    if (k !== "address" && k !== "username" && k !== "password") credentialsIn(item, found);
  }
}

/** The registry credentials each resource of a `pulumi stack export --show-secrets` holds in its inputs. */
export function storedCredentials(exported: unknown): StoredCredentials[] {
  const resources = (exported as { deployment?: { resources?: unknown[] } })?.deployment?.resources;
  const out: StoredCredentials[] = [];
  for (const r of Array.isArray(resources) ? resources : []) {
    const { urn, inputs } = (r ?? {}) as { urn?: unknown; inputs?: unknown };
    if (typeof urn !== "string") continue;
    const found: Omit<StoredCredentials, "urn">[] = [];
    credentialsIn(inputs, found);
    out.push(...found.map((c) => ({ urn, ...c })));
  }
  return out;
}

/**
 * The credentials of `pulumi config --json --show-secrets`: the registry's address and username and
 * the `registryPassword` secret. Undefined when the stack has no password (ECR: a token from AWS;
 * a registry without authentication), so there is nothing to rotate.
 */
export function configuredCredentials(
  configJson: unknown,
  project = "dayu-estate",
): ConfiguredCredentials | undefined {
  const entry = (key: string) =>
    (configJson as Record<string, { value?: unknown; objectValue?: unknown } | undefined>)?.[
      `${project}:${key}`
    ];
  const password = entry("registryPassword")?.value;
  const registry = entry("registry")?.objectValue as
    { address?: unknown; username?: unknown } | undefined;
  if (typeof password !== "string" || !password) return undefined;
  if (typeof registry?.address !== "string") return undefined;
  return {
    address: registry.address,
    username: typeof registry.username === "string" ? registry.username : "",
    password,
  };
}

/** The resources that hold credentials for the configured registry other than the configured ones. */
export function staleResources(
  stored: StoredCredentials[],
  configured: ConfiguredCredentials | undefined,
): string[] {
  if (!configured) return [];
  const stale = stored.filter(
    (c) =>
      c.address === configured.address &&
      (c.password !== configured.password || c.username !== configured.username),
  );
  return [...new Set(stale.map((c) => c.urn))];
}

/** Runs the Pulumi CLI; `capture` keeps its output (it may hold secrets) instead of showing it. */
function pulumi(
  args: string[],
  capture = false,
): { status: number; stdout: string; stderr: string } {
  const run = spawnSync(process.env.DAYU_PULUMI ?? "pulumi", args, {
    encoding: "utf8",
    stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit",
    maxBuffer: 512 << 20,
  });
  if (run.error) throw new Error(`cannot run pulumi: ${run.error.message}`);
  return { status: run.status ?? 1, stdout: run.stdout ?? "", stderr: run.stderr ?? "" };
}

function readJson(args: string[], what: string): unknown {
  const run = pulumi(args, true);
  if (run.status !== 0) throw new Error(`${what} failed:\n${run.stderr.trim()}`);
  return JSON.parse(run.stdout) as unknown;
}

function main(argv: string[]): number {
  const at = argv.indexOf("--stack");
  const stack = at >= 0 ? argv[at + 1] : undefined;
  if (!stack || stack.startsWith("--")) {
    console.error("usage: npm run refresh -- --stack <stack> [pulumi refresh flags, e.g. --yes]");
    return 2;
  }
  const passThrough = argv.filter((_, i) => i !== at && i !== at + 1);
  const common = ["--stack", stack, ...passThrough.filter((a) => a === "--non-interactive")];

  const configured = configuredCredentials(
    readJson(["config", "--json", "--show-secrets", "--stack", stack], `pulumi config of ${stack}`),
  );
  const stale = staleResources(
    storedCredentials(
      readJson(["stack", "export", "--show-secrets", "--stack", stack], `exporting ${stack}`),
    ),
    configured,
  );
  if (stale.length > 0 && configured) {
    console.log(
      `${stale.length} resources of ${stack} hold registry credentials for ${configured.address} other ` +
        `than the stack config's (dayu-estate:registryPassword or registry.username changed since the ` +
        `last up). A refresh would read with those, so first an up that changes nothing stores the ` +
        `new ones.`,
    );
    const preview = pulumi(["preview", "--expect-no-changes", "--suppress-outputs", ...common]);
    if (preview.status !== 0) {
      console.error(
        `not refreshing ${stack}: its preview (above) failed or shows changes, and this script runs ` +
          `only an up that changes nothing. Run pulumi up --stack ${stack} (it stores the new ` +
          `credentials too), then npm run refresh -- --stack ${stack}`,
      );
      return 1;
    }
    const up = pulumi(["up", "--yes", "--skip-preview", "--suppress-outputs", ...common]);
    if (up.status !== 0) {
      console.error(
        `not refreshing ${stack}: the up that stores the new credentials failed (above)`,
      );
      return up.status;
    }
  }
  return pulumi(["refresh", "--stack", stack, ...passThrough]).status;
}

if (require.main === module) {
  try {
    process.exit(main(process.argv.slice(2)));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
