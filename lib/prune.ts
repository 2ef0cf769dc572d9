/**
 * A prune run: read the repositories, find out what the registry can delete, plan (estate/retention.ts)
 * and, unless previewing, apply the steps in order. What `npm run prune` and a retention step of `up`
 * call. Blob garbage collection is the registry's own offline command and is not run from here (see
 * docs/supply-chain.md).
 */
import { RegistryClient } from "./registry";
import { applyStep, probeCapabilities, readRepository } from "./retentionRegistry";
import {
  RegistryCapabilities,
  RetentionPlan,
  RetentionPolicy,
  retentionPlan,
} from "../estate/retention";

/** What to prune. */
export interface PruneOptions {
  /** Repositories to read (the catalog's, plus removed ones when pruning them). */
  repositories: string[];
  policy: RetentionPolicy;
  /** Delete for real. Default false: a preview. */
  apply?: boolean;
  /** Skip the probe (tests, or a registry known to delete tags). */
  capabilities?: RegistryCapabilities;
}

/** What a prune did or would do. */
export interface PruneReport {
  capabilities: RegistryCapabilities;
  plan: RetentionPlan;
  /** Steps applied (0 in a preview). */
  applied: number;
}

/** Plans and (optionally) applies retention over `repositories`. */
export async function prune(client: RegistryClient, opts: PruneOptions): Promise<PruneReport> {
  const capabilities =
    opts.capabilities ??
    (opts.repositories.length
      ? await probeCapabilities(client, opts.repositories[0])
      : { tagDelete: false });
  const states = [];
  // Build times only when an age rule needs them (a config GET per image).
  const created = opts.policy.maxAgeMs !== undefined;
  for (const repo of opts.repositories)
    states.push(await readRepository(client, repo, { created }));
  const plan = retentionPlan(states, opts.policy, capabilities);
  let applied = 0;
  if (opts.apply ?? false) {
    for (const step of plan.steps) {
      await applyStep(client, step);
      applied++;
    }
  }
  return { capabilities: { tagDelete: capabilities.tagDelete }, plan, applied };
}

/** A short report a person reads: one line per step, the blocked tags, the bytes to reclaim. */
export function formatPruneReport(r: PruneReport, preview: boolean): string {
  const verb = preview ? "would delete" : "deleted";
  const why = {
    "kept-release": "one of the newest kept",
    "recent-release": "built within the age limit",
    "age-unknown": "build time unknown",
    "old-release": "outside the newest kept and the age limit",
  };
  const releaseLines = r.plan.releases.map(
    (v) =>
      `release ${v.release}: ${v.keep ? "kept" : preview ? "would go" : "removed"} (${why[v.reason]}${v.builtAt === undefined ? "" : `; built ${new Date(v.builtAt).toISOString()}`})`,
  );
  const lines = r.plan.steps.map((s) =>
    s.kind === "delete-tag"
      ? `${verb} tag ${s.repository}:${s.tag} (${s.reason})`
      : `${verb} manifest ${s.repository}@${s.digest}${s.tags.length ? ` (tags ${s.tags.join(", ")})` : ""}`,
  );
  for (const b of r.plan.blocked)
    lines.push(
      `kept ${b.repository}:${b.tag}: this registry cannot delete a tag alone and ${b.digest} is still used${b.sharedWith.length ? ` by ${b.sharedWith.join(", ")}` : ""}`,
    );
  const kib = (r.plan.reclaimableBytes / 1024).toFixed(1);
  lines.push(
    r.plan.steps.length
      ? `${r.plan.steps.length} step(s); ${kib} KiB of blobs reclaimable by the registry's garbage collection`
      : "nothing to delete",
  );
  return [...releaseLines, ...lines].join("\n");
}
