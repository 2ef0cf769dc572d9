/**
 * Pre-flight checks, run before any build is sent: the registry answers with the configured
 * credentials, and every builder is reachable and serves the platform it is declared for (buildx would
 * otherwise fall back to emulation or another node without a word).
 */
import { execFile } from "child_process";
import { EstateInputError, KeyFormatter, Problems } from "../estate/problems";
import { RegistryClient, RegistryAuth, RegistryError } from "./registry";

export interface BuilderCheck {
  name: string;
  platform: string;
  /** The stack key that declares it, e.g. `builders[1]`, to name in a problem. Default none. */
  key?: string;
}

/** What failed before any build: a builder or the registry did not answer as declared. */
export class PreflightError extends EstateInputError {
  constructor(problems: string[]) {
    const headline = "pre-flight failed, nothing was built";
    super(problems, headline);
    // One problem reads best on one line.
    if (problems.length === 1) this.message = `${headline}: ${problems[0]}`;
  }
}

/**
 * A collector for pre-flight problems: with `where` (the stack's key formatter) each problem names
 * the stack key to fix; without it, the problem text alone.
 */
function collector(where?: KeyFormatter) {
  const problems = new Problems(where);
  const at = (key: string | undefined, msg: string) =>
    where && key !== undefined ? problems.at(key, msg) : problems.add(msg);
  return { problems, at };
}

/** Runs a command and returns stdout; rejects with stderr. Injectable for tests. */
export type Runner = (cmd: string, args: string[], timeoutMs: number) => Promise<string>;

export const execRunner: Runner = (cmd, args, timeoutMs) =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
  });

/** Parses `buildx inspect` output: status and the platforms of every node. */
export function parseBuildxInspect(text: string): { status?: string; platforms: string[] } {
  const platforms: string[] = [];
  let status: string | undefined;
  for (const line of text.split("\n")) {
    const m = /^\s*(Status|Platforms):\s*(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === "Status") status = status ?? m[2].trim();
    else
      platforms.push(
        ...m[2]
          .split(",")
          .map((p) => p.trim().replace(/\*$/, ""))
          .filter(Boolean),
      );
  }
  return { status, platforms };
}

/**
 * Checks each builder with `buildx inspect --bootstrap`. Throws a {@link PreflightError} naming each
 * builder, its platform and (with `where`) its stack key.
 */
export async function checkBuilders(
  builders: BuilderCheck[],
  run: Runner = execRunner,
  buildx = "buildx",
  where?: KeyFormatter,
): Promise<void> {
  const { problems, at } = collector(where);
  await Promise.all(
    builders.map(async (b) => {
      let out: string;
      try {
        out = await run(buildx, ["inspect", "--bootstrap", b.name], 60000);
      } catch (err) {
        at(
          b.key,
          `builder "${b.name}" (for ${b.platform}) is not reachable: ${(err as Error).message}`,
        );
        return;
      }
      const { status, platforms } = parseBuildxInspect(out);
      if (status && status !== "running")
        at(b.key, `builder "${b.name}" (for ${b.platform}) is ${status}`);
      else if (!platforms.includes(b.platform)) {
        at(
          b.key,
          `builder "${b.name}" is declared for ${b.platform} but serves ${platforms.join(", ") || "no platform"}`,
        );
      }
    }),
  );
  problems.throwIfAny(PreflightError);
}

/**
 * `GET /v2/` with the credentials: fails fast on a down registry or wrong credentials. With `where`,
 * the problem names the stack key to fix: `registryPassword` when the registry refused the
 * credentials, `registry.address` when it did not answer. With `probeRepository` (a repository the
 * estate pushes to, without the registry address), then a test upload there, cancelled
 * ({@link RegistryClient.probeUpload}): a registry whose storage is full or read-only is refused
 * before any build time is spent, quoting the registry's answer, under `registry.address`.
 */
export async function checkRegistry(
  auth: RegistryAuth,
  where?: KeyFormatter,
  probeRepository?: string,
): Promise<void> {
  const { problems, at } = collector(where);
  const client = new RegistryClient({ ...auth, timeoutMs: auth.timeoutMs ?? 10000 });
  try {
    await client.ping();
    if (probeRepository !== undefined) await client.probeUpload(probeRepository);
  } catch (err) {
    const refused = err instanceof RegistryError && err.status === 401;
    at(refused ? "registryPassword" : "registry.address", (err as Error).message);
  }
  problems.throwIfAny(PreflightError);
}

/**
 * The repository the pre-flight's test upload goes to: the first one the plan pushes to (a build's,
 * else a mirror's), without the registry address; undefined when the plan pushes nothing.
 */
export function probeRepository(
  address: string,
  repositories: readonly string[],
): string | undefined {
  const first = repositories[0];
  if (first === undefined) return undefined;
  return first.startsWith(`${address}/`) ? first.slice(address.length + 1) : first;
}
