/**
 * Retention that never breaks an index: from the registry's tags and the manifests they reach, and the
 * tags the plan keeps, compute what is reachable and an ordered deletion plan. Pure: the caller reads
 * the registry (tags, manifests, children, subjects, blob sizes) and applies the steps.
 *
 * Stages: {@link keptTags} (which tags the policy keeps, and why) → {@link reachableDigests} (closure
 * over index children, OCI referrers and cosign's `sha256-<hex>[.sig|.att|.sbom]` tags) →
 * {@link retentionPlan} (tag deletions first, then manifests parents before children, and the blob
 * bytes a garbage collection would then reclaim).
 *
 * Registry facts this follows (read in distribution's source, v3.1.2, and its issues):
 * - `DELETE /v2/<name>/manifests/<tag>` removes only the tag in distribution v3; 2.8 accepts digests
 *   only, and deleting a manifest by digest untags every tag at that digest. So without tag deletion a
 *   stale tag that shares its digest with a kept tag cannot be removed: it is reported, never deleted.
 * - distribution v3's garbage collector with `--delete-untagged` keeps the untagged children of a
 *   tagged index (it marks references first); 2.8's deletes them (distribution issue 3178). Neither
 *   implements the OCI referrers API, so cosign falls back to tags, which keeps attestations tagged.
 *   A referrer stored untagged would still be removed by `--delete-untagged`: run GC without it after
 *   this plan (the plan deletes the manifests itself), in read-only mode or a maintenance window.
 */

/** One manifest as read from the registry. */
export interface RegistryManifest {
  digest: string;
  mediaType: string;
  /** Manifests an index lists (same repository). Default none. */
  children?: string[];
  /** OCI 1.1 `subject`: the manifest this one is attached to (a referrer). */
  subject?: string;
  /** Size of the manifest itself, in bytes. Default 0. */
  size?: number;
  /** Config and layer blobs (digest and size), for the bytes a garbage collection reclaims. */
  blobs?: { digest: string; size: number }[];
}

/** One repository: its tags and every manifest they reach. */
export interface RepositoryState {
  repository: string;
  /** Tag → digest. */
  tags: Record<string, string>;
  /** Digest → manifest. */
  manifests: Record<string, RegistryManifest>;
}

/** What to keep. */
export interface RetentionPolicy {
  /** Releases, newest (the current one) first. */
  releases: string[];
  /** How many releases to keep, the current one included. Default 2. */
  keepReleases?: number;
  /** Tags never touched: exact names or `*` globs, optionally `repository:` prefixed. Default none. */
  neverTouch?: string[];
  /** `repository:tag` the current plan uses (indexes, per-arch tags, cache refs): always kept. */
  inUse: string[];
  /** Repositories the catalog still has. */
  catalogRepositories: string[];
  /** Prune repositories no longer in the catalog (except never-touch tags). Default false. */
  pruneRemoved?: boolean;
}

/** Why a tag stays or goes. */
export type TagVerdict =
  | { keep: true; reason: "in-use" | "never-touch" | "kept-release" | "unknown" | "attachment" }
  | { keep: false; reason: "old-release" | "unused-cache" | "removed-image" | "orphan-attachment" };

/** One step of the plan, in order. */
export type RetentionStep =
  | { kind: "delete-tag"; repository: string; tag: string; digest: string; reason: string }
  | { kind: "delete-manifest"; repository: string; digest: string; tags: string[] };

/** The plan and what it leaves. */
export interface RetentionPlan {
  steps: RetentionStep[];
  /** Stale tags that cannot be removed without also removing a kept tag (registries without tag delete). */
  blocked: { repository: string; tag: string; digest: string; sharedWith: string[] }[];
  /** Per repository, the digests that stay reachable. */
  reachable: Record<string, string[]>;
  /** Bytes of blobs no remaining manifest uses, freed by the garbage collection after the plan. */
  reclaimableBytes: number;
}

/** What the registry can do. */
export interface RegistryCapabilities {
  /** `DELETE /v2/<name>/manifests/<tag>` removes just the tag (distribution v3: true; 2.8: false). */
  tagDelete: boolean;
}

export const DEFAULT_KEEP_RELEASES = 2;
const COSIGN_TAG = /^sha256-([0-9a-f]{64})(\.sig|\.att|\.sbom)?$/;
const CACHE_TAG = /^buildcache(-|$)/;

/** The digest a cosign tag (`sha256-<hex>.sig` etc., or the referrers fallback tag) is attached to. */
export function cosignSubject(tag: string): string | undefined {
  const m = COSIGN_TAG.exec(tag);
  return m ? `sha256:${m[1]}` : undefined;
}

function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split("*")
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  return re.test(text);
}

/** The release a tag belongs to (`v1.3`, `v1.3-jp5`, `v1.3-jp5-arm64` → `v1.3`); longest match wins. */
export function releaseOf(tag: string, releases: readonly string[]): string | undefined {
  return releases
    .filter((r) => tag === r || tag.startsWith(`${r}-`))
    .sort((a, b) => b.length - a.length)[0];
}

/**
 * Stage 1: the verdict on every plain tag of a repository (cosign tags are decided by reachability in
 * {@link retentionPlan}). A tag the policy cannot place (hand-pushed, another tool's) is kept: this
 * program deletes only what it recognises as its own.
 */
export function keptTags(repo: RepositoryState, policy: RetentionPolicy): Map<string, TagVerdict> {
  const keepN = policy.keepReleases ?? DEFAULT_KEEP_RELEASES;
  const keptReleases = new Set(policy.releases.slice(0, Math.max(1, keepN)));
  const inUse = new Set(policy.inUse);
  const removed =
    (policy.pruneRemoved ?? false) && !policy.catalogRepositories.includes(repo.repository);
  const verdicts = new Map<string, TagVerdict>();
  for (const tag of Object.keys(repo.tags).sort()) {
    if (cosignSubject(tag)) continue;
    const never = (policy.neverTouch ?? []).some(
      (p) => globMatch(p, tag) || globMatch(p, `${repo.repository}:${tag}`),
    );
    const release = releaseOf(tag, policy.releases);
    let v: TagVerdict;
    if (never) v = { keep: true, reason: "never-touch" };
    else if (inUse.has(`${repo.repository}:${tag}`)) v = { keep: true, reason: "in-use" };
    else if (removed) v = { keep: false, reason: "removed-image" };
    else if (release && keptReleases.has(release)) v = { keep: true, reason: "kept-release" };
    else if (release) v = { keep: false, reason: "old-release" };
    else if (CACHE_TAG.test(tag)) v = { keep: false, reason: "unused-cache" };
    else v = { keep: true, reason: "unknown" };
    verdicts.set(tag, v);
  }
  return verdicts;
}

/**
 * Stage 2: every digest reachable from the kept tags: index children, referrers (manifests whose
 * subject is reachable) and cosign tags attached to a reachable digest, to a fixed point (a signature
 * of an attestation is reached too). Returns the digests and the cosign tags that stay.
 */
export function reachableDigests(
  repo: RepositoryState,
  kept: Iterable<string>,
): { digests: Set<string>; attachmentTags: Set<string> } {
  const digests = new Set<string>();
  const attachmentTags = new Set<string>();
  const queue: string[] = [];
  const reach = (d: string | undefined) => {
    if (d && !digests.has(d)) {
      digests.add(d);
      queue.push(d);
    }
  };
  for (const tag of kept) reach(repo.tags[tag]);
  const referrers = new Map<string, string[]>();
  for (const m of Object.values(repo.manifests))
    if (m.subject) referrers.set(m.subject, [...(referrers.get(m.subject) ?? []), m.digest]);
  const cosignTags = new Map<string, string[]>();
  for (const tag of Object.keys(repo.tags)) {
    const s = cosignSubject(tag);
    if (s) cosignTags.set(s, [...(cosignTags.get(s) ?? []), tag]);
  }
  while (queue.length) {
    const d = queue.shift() as string;
    (repo.manifests[d]?.children ?? []).forEach(reach);
    (referrers.get(d) ?? []).forEach(reach);
    for (const tag of cosignTags.get(d) ?? []) {
      attachmentTags.add(tag);
      reach(repo.tags[tag]);
    }
  }
  return { digests, attachmentTags };
}

/**
 * Manifests to delete, each after every other deleted manifest that points at it (an index before its
 * children, a referrer before its subject), so that no step leaves an index with a missing child. Ties
 * in digest order, for a stable plan.
 */
export function parentFirst(repo: RepositoryState, doomed: Set<string>): string[] {
  const pointers = new Map<string, number>();
  const edges = new Map<string, string[]>();
  for (const d of doomed) pointers.set(d, 0);
  for (const d of doomed) {
    const m = repo.manifests[d];
    const targets = [...(m?.children ?? []), ...(m?.subject ? [m.subject] : [])].filter((t) =>
      doomed.has(t),
    );
    edges.set(d, targets);
    for (const t of targets) pointers.set(t, (pointers.get(t) ?? 0) + 1);
  }
  const ready = [...doomed].filter((d) => pointers.get(d) === 0).sort();
  const order: string[] = [];
  while (ready.length) {
    const d = ready.shift() as string;
    order.push(d);
    for (const t of edges.get(d) ?? []) {
      const left = (pointers.get(t) ?? 0) - 1;
      pointers.set(t, left);
      if (left === 0) {
        ready.push(t);
        ready.sort();
      }
    }
  }
  // A cycle cannot come from content addressing; were one there, its members are left out (kept).
  return order;
}

/** Stage 3: the ordered plan for all repositories. */
export function retentionPlan(
  repos: RepositoryState[],
  policy: RetentionPolicy,
  caps: RegistryCapabilities,
): RetentionPlan {
  const steps: RetentionStep[] = [];
  const manifestSteps: RetentionStep[] = [];
  const blocked: RetentionPlan["blocked"] = [];
  const reachable: Record<string, string[]> = {};
  const liveBlobs = new Set<string>();
  const doomedBlobs = new Map<string, number>();
  for (const repo of [...repos].sort((a, b) => a.repository.localeCompare(b.repository))) {
    const verdicts = keptTags(repo, policy);
    const kept = [...verdicts].filter(([, v]) => v.keep).map(([t]) => t);
    const { digests, attachmentTags } = reachableDigests(repo, kept);
    reachable[repo.repository] = [...digests].sort();
    const keptTagSet = new Set([...kept, ...attachmentTags]);
    const staleTags = Object.keys(repo.tags)
      .filter((t) => !keptTagSet.has(t))
      .sort();
    const reasonOf = (t: string) => {
      const v = verdicts.get(t);
      return v && !v.keep ? v.reason : "orphan-attachment";
    };
    const doomed = new Set(Object.keys(repo.manifests).filter((d) => !digests.has(d)));
    for (const tag of staleTags) {
      const digest = repo.tags[tag];
      if (caps.tagDelete) {
        steps.push({
          kind: "delete-tag",
          repository: repo.repository,
          tag,
          digest,
          reason: reasonOf(tag),
        });
      } else if (digests.has(digest)) {
        const sharedWith = [...keptTagSet].filter((k) => repo.tags[k] === digest).sort();
        blocked.push({ repository: repo.repository, tag, digest, sharedWith });
      }
      // Without tag delete, a stale tag on a doomed digest goes with its manifest below.
    }
    for (const digest of parentFirst(repo, doomed)) {
      const tags = Object.keys(repo.tags)
        .filter((t) => repo.tags[t] === digest)
        .sort();
      manifestSteps.push({ kind: "delete-manifest", repository: repo.repository, digest, tags });
    }
    for (const [d, m] of Object.entries(repo.manifests)) {
      for (const b of m.blobs ?? []) {
        if (digests.has(d)) liveBlobs.add(b.digest);
        else doomedBlobs.set(b.digest, b.size);
      }
      // A manifest is a blob too, and the same one may live on in another repository.
      if (digests.has(d)) liveBlobs.add(d);
      else doomedBlobs.set(d, m.size ?? 0);
    }
  }
  let reclaimableBytes = 0;
  for (const [d, size] of doomedBlobs) if (!liveBlobs.has(d)) reclaimableBytes += size;
  return { steps: [...steps, ...manifestSteps], blocked, reachable, reclaimableBytes };
}
