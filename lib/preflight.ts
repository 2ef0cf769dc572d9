/**
 * Pre-flight checks, run before any build is sent: the registry answers with the configured
 * credentials, and every builder is reachable and serves the platform it is declared for (buildx would
 * otherwise fall back to emulation or another node without a word).
 */
import { execFile } from "child_process";
import { RegistryClient, RegistryAuth } from "./registry";

export interface BuilderCheck {
  name: string;
  platform: string;
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

/** Checks each builder with `buildx inspect --bootstrap`. Throws naming the builder and platform. */
export async function checkBuilders(
  builders: BuilderCheck[],
  run: Runner = execRunner,
  buildx = "buildx",
): Promise<void> {
  const problems: string[] = [];
  await Promise.all(
    builders.map(async (b) => {
      let out: string;
      try {
        out = await run(buildx, ["inspect", "--bootstrap", b.name], 60000);
      } catch (err) {
        problems.push(
          `builder "${b.name}" (for ${b.platform}) is not reachable: ${(err as Error).message}`,
        );
        return;
      }
      const { status, platforms } = parseBuildxInspect(out);
      if (status && status !== "running")
        problems.push(`builder "${b.name}" (for ${b.platform}) is ${status}`);
      else if (!platforms.includes(b.platform)) {
        problems.push(
          `builder "${b.name}" is declared for ${b.platform} but serves ${platforms.join(", ") || "no platform"}`,
        );
      }
    }),
  );
  if (problems.length)
    throw new Error(
      `pre-flight failed, nothing was built:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
}

/** `GET /v2/` with the credentials: fails fast on a down registry or wrong credentials. */
export async function checkRegistry(auth: RegistryAuth): Promise<void> {
  try {
    await new RegistryClient({ ...auth, timeoutMs: auth.timeoutMs ?? 10000 }).ping();
  } catch (err) {
    throw new Error(`pre-flight failed, nothing was built: ${(err as Error).message}`);
  }
}
