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
  /**
   * When the image was built: its config's `created` (RFC 3339), read only for an age limit. Absent
   * for indexes, attestations, cache manifests, and configs without the field.
   */
  created?: string;
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
  /**
   * Also keep every release built less than this long ago (milliseconds), beyond `keepReleases`: a
   * release is kept when it is one of the newest `keepReleases` OR younger than this (the current
   * release always). Its age comes from the newest `created` of the images its tags reach, in any
   * repository; a release whose age cannot be read is kept. Default: no age rule.
   */
  maxAgeMs?: number;
  /** The time ages are measured at (milliseconds since the epoch). Default: now. */
  now?: number;
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
  | {
      keep: true;
      reason:
        | "in-use"
        | "never-touch"
        | "kept-release"
        | "recent-release"
        | "age-unknown"
        | "unknown"
        | "attachment";
    }
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
  /** The verdict on each release, newest first (the report says why each stays or goes). */
  releases: ReleaseVerdict[];
}

/** One release: whether it stays, why, and when it was built (when an age rule needed it). */
export type ReleaseVerdict = {
  release: string;
  /** Milliseconds since the epoch; absent when not read or not readable. */
  builtAt?: number;
} & (
  | { keep: true; reason: "kept-release" | "recent-release" | "age-unknown" }
  | { keep: false; reason: "old-release" }
);

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

/** `maxAge` as written in the stack config: a whole number of hours, days or weeks (`36h`, `90d`, `8w`). */
export const MAX_AGE_PATTERN = "^[1-9][0-9]{0,5}[hdw]$";
const HOUR_MS = 3_600_000;
const UNIT_MS: Record<string, number> = { h: HOUR_MS, d: 24 * HOUR_MS, w: 7 * 24 * HOUR_MS };

/** `90d` → milliseconds; throws on anything {@link MAX_AGE_PATTERN} refuses. */
export function parseMaxAge(text: string): number {
  if (!new RegExp(MAX_AGE_PATTERN).test(text))
    throw new Error(`"${text}" is not an age like 36h, 90d or 8w`);
  return Number(text.slice(0, -1)) * UNIT_MS[text.slice(-1)];
}

/**
 * When each release was built: the newest image config `created` among the manifests its plain tags
 * reach (an index through its children), across all repositories. A release's unchanged images keep
 * their old build time, so the newest one is the release's. Releases with no readable time are absent.
 */
export function releaseBuildTimes(
  repos: readonly RepositoryState[],
  releases: readonly string[],
): Map<string, number> {
  const times = new Map<string, number>();
  for (const repo of repos) {
    const seen = new Map<string, number | undefined>();
    const builtAt = (digest: string, depth = 0): number | undefined => {
      if (seen.has(digest)) return seen.get(digest);
      const m = repo.manifests[digest];
      let t = m?.created ? Date.parse(m.created) : NaN;
      if (Number.isNaN(t) && depth < 4)
        for (const c of m?.children ?? []) {
          const ct = builtAt(c, depth + 1);
          if (ct !== undefined && (Number.isNaN(t) || ct > t)) t = ct;
        }
      const result = Number.isNaN(t) ? undefined : t;
      seen.set(digest, result);
      return result;
    };
    for (const [tag, digest] of Object.entries(repo.tags)) {
      if (cosignSubject(tag)) continue;
      const release = releaseOf(tag, releases);
      const t = release ? builtAt(digest) : undefined;
      if (release && t !== undefined && t > (times.get(release) ?? -Infinity))
        times.set(release, t);
    }
  }
  return times;
}

/**
 * The verdict on each release that has tags, newest first: the newest `keepReleases` stay; with an age rule, so does
 * every other release built within `maxAgeMs` of `now`, and one whose build time is unknown (this
 * program deletes only what it can show is old).
 */
export function releaseVerdicts(
  policy: RetentionPolicy,
  repos: readonly RepositoryState[],
): ReleaseVerdict[] {
  const keepN = Math.max(1, policy.keepReleases ?? DEFAULT_KEEP_RELEASES);
  // Repositories being removed do not count: their tags go now, and a second run must agree.
  const counted = repos.filter(
    (r) => !(policy.pruneRemoved ?? false) || policy.catalogRepositories.includes(r.repository),
  );
  const times =
    policy.maxAgeMs === undefined
      ? new Map<string, number>()
      : releaseBuildTimes(counted, policy.releases);
  const now = policy.now ?? Date.now();
  // Releases with no tag left anywhere have nothing to decide (they still count towards keepReleases).
  const present = new Set(
    repos.flatMap((r) =>
      Object.keys(r.tags)
        .filter((t) => !cosignSubject(t))
        .map((t) => releaseOf(t, policy.releases)),
    ),
  );
  const verdicts = policy.releases.map((release, i): ReleaseVerdict => {
    const builtAt = times.get(release);
    const at = builtAt === undefined ? {} : { builtAt };
    if (i < keepN) return { release, keep: true, reason: "kept-release", ...at };
    if (policy.maxAgeMs === undefined) return { release, keep: false, reason: "old-release" };
    if (builtAt === undefined) return { release, keep: true, reason: "age-unknown" };
    return now - builtAt <= policy.maxAgeMs
      ? { release, keep: true, reason: "recent-release", builtAt }
      : { release, keep: false, reason: "old-release", builtAt };
  });
  return verdicts.filter((v) => present.has(v.release));
}

/**
 * Stage 1: the verdict on every plain tag of a repository (cosign tags are decided by reachability in
 * {@link retentionPlan}). A tag the policy cannot place (hand-pushed, another tool's) is kept: this
 * program deletes only what it recognises as its own.
 */
export function keptTags(
  repo: RepositoryState,
  policy: RetentionPolicy,
  releases: readonly ReleaseVerdict[] = releaseVerdicts(policy, [repo]),
): Map<string, TagVerdict> {
  const byRelease = new Map(releases.map((r) => [r.release, r]));
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
    else if (release) {
      const r = byRelease.get(release);
      v = r?.keep ? { keep: true, reason: r.reason } : { keep: false, reason: "old-release" };
    } else if (CACHE_TAG.test(tag)) v = { keep: false, reason: "unused-cache" };
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
  // Release ages are read across every repository: one release, one verdict.
  const releases = releaseVerdicts(policy, repos);
  for (const repo of [...repos].sort((a, b) => a.repository.localeCompare(b.repository))) {
    const verdicts = keptTags(repo, policy, releases);
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
  return { steps: [...steps, ...manifestSteps], blocked, reachable, reclaimableBytes, releases };
}
