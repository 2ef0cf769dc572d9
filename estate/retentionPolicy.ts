/**
 * From a stack's plan and settings to the {@link RetentionPolicy} `npm run prune` applies. Pure.
 *
 * Stages: {@link planRefs} (what the current plan uses, as `repository:tag` without the registry)
 * → {@link releasesNewestFirst} (the current release first, then earlier ones found in the registry's
 * tags or named on the command line) → {@link retentionPolicyFor}.
 */
import { FlatPlan } from "./planner";
import { RetentionPolicy, parseMaxAge } from "./retention";
import { EstateSettings } from "./settings";

/** `registry/repo:tag` → `repo:tag` (the registry API names repositories without the host). */
function withoutRegistry(registry: string, ref: string): string {
  return ref.startsWith(`${registry}/`) ? ref.slice(registry.length + 1) : ref;
}

/** `repo:tag` → `repo`. */
function repositoryOf(ref: string): string {
  return ref.slice(0, ref.lastIndexOf(":"));
}

/**
 * Every `repository:tag` the plan uses: each index tag, each build's per-arch tag and cache ref, each
 * mirror tag, and the repositories they live in. These are always kept, whatever the release.
 */
export function planRefs(plan: FlatPlan): { inUse: string[]; repositories: string[] } {
  const refs = [
    ...plan.indexes.map((i) => i.ref),
    ...plan.builds.flatMap((b) => [b.archRef, b.cacheRef]),
    ...plan.mirrors.flatMap((m) => m.refs),
  ].map((r) => withoutRegistry(plan.registry, r));
  const inUse = [...new Set(refs)].sort();
  return { inUse, repositories: [...new Set(inUse.map(repositoryOf))].sort() };
}

/**
 * The release tag templates of the plan (`${release}`, `${release}-jp5`, ...): each release index's
 * tag with the current release put back as the placeholder.
 */
export function releaseTemplates(plan: FlatPlan): string[] {
  const templates = plan.indexes
    .filter((i) => i.release && i.tag.includes(plan.release))
    .map((i) => i.tag.replace(plan.release, "${release}"));
  return [...new Set(templates)].sort();
}

/**
 * The releases a registry's index tags show, by the plan's templates. Only version-like names count
 * (`v1.3`, `2024.06`: an optional `v`, a digit, then letters, digits, `_`, `.`), so a hand-pushed
 * tag (`foo`, `latest`) is never mistaken for an old release and deleted. A release with a `-`
 * (`v1.3-rc1`) is ambiguous with a variant suffix: name it with `--releases`.
 */
export function releasesInTags(plan: FlatPlan, tags: Iterable<string>): string[] {
  const patterns = releaseTemplates(plan).map((t) => {
    const [before, after] = t
      .split("${release}")
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    return new RegExp(`^${before}(v?\\d[0-9A-Za-z_.]*)${after}$`);
  });
  const found = new Set<string>();
  for (const tag of tags)
    for (const p of patterns) {
      const m = p.exec(tag);
      if (m) found.add(m[1]);
    }
  return [...found];
}

/** The current release first, then the others newest first (natural order: v1.10 after v1.9). */
export function releasesNewestFirst(current: string, others: Iterable<string>): string[] {
  const rest = [...new Set(others)].filter((r) => r !== current);
  rest.sort((a, b) => b.localeCompare(a, "en", { numeric: true }));
  return [current, ...rest];
}

/** The policy for one stack: its settings' `retention` over its plan. */
export function retentionPolicyFor(
  plan: FlatPlan,
  retention: EstateSettings["retention"],
  releases: string[],
): RetentionPolicy {
  const { inUse, repositories } = planRefs(plan);
  return {
    releases: releasesNewestFirst(plan.release, releases),
    keepReleases: retention.keepReleases,
    ...(retention.maxAge ? { maxAgeMs: parseMaxAge(retention.maxAge) } : {}),
    neverTouch: retention.neverTouch,
    pruneRemoved: retention.pruneRemoved,
    inUse,
    catalogRepositories: repositories,
  };
}
