/**
 * `npm run prune [-- --stack <name>] [--apply] [--releases v1.3,v1.2]`: retention for one stack
 * (docs/supply-chain.md, "Retention"). `npm run prune -- --gc <registry config.yml>`: the blob
 * garbage collection afterwards, on its own.
 *
 * Reads the stack file like `npm run plan` (no Pulumi CLI), builds the retention policy from its plan
 * and its `retention` settings (estate/retentionPolicy.ts), reads the registry, and prints what it
 * would delete: a preview unless `--apply`. With `--apply` the steps run in the planned order (tags,
 * then manifests parents before children: a kept index never points at a missing child).
 *
 * `--gc` is a separate run because it needs the opposite registry state: the deletes need the
 * registry serving, the collection needs it stopped or read-only (`storage.maintenance.readonly`).
 * It refuses while the registry listens and is not read-only, runs the registry's own
 * `garbage-collect --delete-untagged` on that config (`DAYU_REGISTRY_BIN` names the binary, default
 * `registry`; `--keep-untagged` drops `--delete-untagged` for a registry with the referrers API), and
 * reports what it removed and the storage bytes before and after (lib/registryGc.ts).
 *
 * Credentials: DAYU_REGISTRY_USERNAME / DAYU_REGISTRY_PASSWORD, else `.local/credentials.env` (the
 * local services'). The registry's CA: `registry.caFile` of the stack.
 */
import * as fs from "fs";
import * as path from "path";
import { EstateInputError } from "../estate/problems";
import { flatPlan, planForSettings } from "../estate/planner";
import { releasesInTags, retentionPolicyFor } from "../estate/retentionPolicy";
import { settingsFromStackFile } from "../estate/settings";
import { diskFiles } from "../estate/files";
import { formatPruneReport, prune } from "../lib/prune";
import { RegistryClient } from "../lib/registry";
import { listTags } from "../lib/retentionRegistry";
import { formatGcReport, garbageCollect, readGcConfig } from "../lib/registryGc";

const root = path.resolve(__dirname, "..");

/** Options of one prune run (what the command line gives). */
export interface PruneArgs {
  stack: string;
  apply: boolean;
  /** Releases named on the command line, in addition to those found in the registry. */
  releases: string[];
  /** Registry config file: run only the garbage collection on it. */
  gcConfig?: string;
  /** With `gcConfig`: keep untagged manifests (a registry with the referrers API). */
  keepUntagged?: boolean;
  /** Project directory holding the stack file. Default: this checkout. */
  projectDir?: string;
}

/** Parses `process.argv.slice(2)`. */
export function parseArgs(argv: string[]): PruneArgs {
  const value = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  return {
    stack: value("--stack") ?? process.env.PULUMI_STACK ?? "dev",
    apply: argv.includes("--apply"),
    releases: (value("--releases") ?? "").split(",").filter((r) => r !== ""),
    gcConfig: value("--gc"),
    keepUntagged: argv.includes("--keep-untagged"),
    projectDir: value("--project-dir"),
  };
}

/** Registry credentials from the environment, else the local services' credentials file. */
function credentials(dir: string): { username?: string; password?: string } {
  const env = process.env;
  if (env.DAYU_REGISTRY_PASSWORD !== undefined)
    return { username: env.DAYU_REGISTRY_USERNAME, password: env.DAYU_REGISTRY_PASSWORD };
  const file = path.join(dir, ".local/credentials.env");
  if (!fs.existsSync(file)) return {};
  const text = fs.readFileSync(file, "utf8");
  const get = (k: string) => new RegExp(`^${k}=(.*)$`, "m").exec(text)?.[1]?.replace(/^'|'$/g, "");
  return { username: get("REGISTRY_USERNAME"), password: get("REGISTRY_PASSWORD") };
}

export { directoryBytes } from "../lib/registryGc";

/** One prune run; returns the report text. */
export async function runPrune(args: PruneArgs): Promise<string> {
  if (args.gcConfig) {
    const deleteUntagged = !(args.keepUntagged ?? false);
    const report = await garbageCollect(readGcConfig(path.resolve(args.gcConfig)), {
      // The registry binary of the toolchain (distribution v3), else one on PATH.
      bin: process.env.DAYU_REGISTRY_BIN ?? "registry",
      deleteUntagged,
    });
    return formatGcReport(report, deleteUntagged);
  }
  const dir = args.projectDir ?? root;
  const file = path.join(dir, `Pulumi.${args.stack}.yaml`);
  if (!fs.existsSync(file)) throw new Error(`no stack file ${file}`);
  const settings = settingsFromStackFile(fs.readFileSync(file, "utf8"), args.stack);
  const plan = flatPlan(planForSettings(settings, dir, diskFiles, true));
  const reg = settings.registry;
  const ca = reg.caFile ? path.resolve(dir, reg.caFile) : undefined;
  if (ca && !fs.existsSync(ca))
    throw new EstateInputError([`registry.caFile in ${path.basename(file)}: ${ca} does not exist`]);
  const client = new RegistryClient({
    address: reg.address,
    ...credentials(dir),
    ca: ca ? fs.readFileSync(ca, "utf8") : undefined,
    insecure: reg.insecure,
  });
  // Earlier releases are found in the index tags of the catalog's repositories.
  const seed = retentionPolicyFor(plan, settings.retention, args.releases);
  const tags: string[] = [];
  for (const repo of seed.catalogRepositories) tags.push(...(await listTags(client, repo)));
  const policy = retentionPolicyFor(plan, settings.retention, [
    ...args.releases,
    ...releasesInTags(plan, tags),
  ]);
  // Images removed from the catalog: repositories the registry lists under the catalog's top-level
  // folders (the namespace, the repository prefix, a mirror's root) that the plan no longer has.
  const repositories = [...policy.catalogRepositories];
  if (policy.pruneRemoved) {
    const res = await client.call("GET", "/v2/_catalog");
    const listed = (JSON.parse(res.body.toString()) as { repositories?: string[] }).repositories;
    const tops = new Set(repositories.map((r) => r.split("/")[0]));
    for (const r of listed ?? [])
      if (tops.has(r.split("/")[0]) && !repositories.includes(r)) repositories.push(r);
  }
  const report = await prune(client, {
    repositories,
    policy,
    apply: args.apply,
  });
  const lines = [
    `stack ${args.stack}: releases ${policy.releases.join(", ")} (keeping the newest ${policy.keepReleases}${settings.retention.maxAge ? ` and any built within ${settings.retention.maxAge}` : ""})`,
    formatPruneReport(report, !args.apply),
  ];
  return lines.join("\n");
}

if (require.main === module) {
  runPrune(parseArgs(process.argv.slice(2)))
    .then((text) => console.log(text))
    .catch((err: unknown) => {
      // A user's mistake (stack file, catalog) is one block; anything else keeps its trace.
      console.error(err instanceof EstateInputError ? err.message : err);
      process.exitCode = 1;
    });
}
