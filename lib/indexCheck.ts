/**
 * Read-back of a pushed multi-arch index: what the registry really serves under a tag, compared with
 * what was declared. Used by the IndexGuard resource after every push and by the end-to-end test.
 */
import { RegistryClient, isAttestation, isIndex, platformString, splitRef } from "./registry";

export interface IndexExpectation {
  /** `registry/repository:tag`. */
  tag: string;
  /** The per-arch sources the index was made from (`repository@sha256:...`). */
  sources: string[];
  /** Platforms the index must hold: exactly these, unless `atLeast`. */
  platforms: string[];
  /**
   * Accept extra platforms (mirrors of upstream indexes). Default false. The sources (pinned by
   * digest) are then checked to be the index itself or one of its manifests, not child by child.
   */
  atLeast?: boolean;
  /**
   * The index digest the tag must serve (a promoted index: the source's). The children then equal
   * the source's by construction, and `sources` may be empty. Default: any digest.
   */
  digest?: string;
}

export interface IndexReadBack {
  digest: string;
  mediaType: string;
  /** The index manifest bytes, base64: what a drift repair puts back. */
  manifest: string;
  /** Platform → child manifest digest. */
  platforms: Record<string, string>;
}

/** Platform → manifest digest of one source (an index of one platform + attestations, or a manifest). */
async function sourcePlatforms(
  client: RegistryClient,
  source: string,
): Promise<Map<string, string>> {
  const { repository, reference } = splitRef(source);
  return client.platforms(repository, reference);
}

/**
 * Reads the index under `tag` and checks it: its platforms are exactly the declared ones (attestation
 * entries skipped), each child is the manifest its source built for that platform, and each child's
 * image config declares the architecture of its platform. Throws naming the tag and what is wrong.
 */
export async function readBackIndex(
  client: RegistryClient,
  want: IndexExpectation,
): Promise<IndexReadBack> {
  const { repository, reference } = splitRef(want.tag);
  const live = await client.getManifest(repository, reference);
  if (!isIndex(live.mediaType)) {
    throw new Error(`${want.tag} is a single-platform manifest (${live.mediaType}), not an index`);
  }
  if (want.digest && live.digest !== want.digest) {
    throw new Error(`${want.tag} serves ${live.digest}, but its source index is ${want.digest}`);
  }
  const children = new Map<string, string>();
  for (const d of live.json.manifests ?? []) {
    if (isAttestation(d) || !d.platform) continue;
    const p = platformString(d.platform);
    if (children.has(p)) throw new Error(`${want.tag} lists ${p} twice`);
    children.set(p, d.digest);
  }
  const got = [...children.keys()].sort();
  const declared = [...want.platforms].sort();
  const missing = declared.filter((p) => !children.has(p));
  const extra = got.filter((p) => !declared.includes(p));
  if (missing.length > 0 || (!want.atLeast && extra.length > 0)) {
    throw new Error(
      `${want.tag} holds ${got.join(", ") || "no platform"} but declares ${declared.join(", ")}` +
        (missing.length ? ` (missing ${missing.join(", ")})` : "") +
        (extra.length && !want.atLeast ? ` (unexpected ${extra.join(", ")})` : ""),
    );
  }
  // A mirror's copy is its pinned source: the same index, or (a single-manifest source) an index
  // holding it. Dependents build from `repository@<source digest>` (MirroredImage.pinnedRef).
  if (want.atLeast) {
    const held = new Set([live.digest, ...(live.json.manifests ?? []).map((d) => d.digest)]);
    for (const source of want.sources) {
      const pinned = splitRef(source).reference;
      if (source.includes("@") && !held.has(pinned)) {
        throw new Error(
          `${want.tag} serves ${live.digest}, which is not its pinned source ${source} and does not hold it`,
        );
      }
    }
  }
  if (!want.atLeast && want.sources.length > 0) {
    const expected = new Map<string, string>();
    for (const s of want.sources)
      for (const [p, d] of await sourcePlatforms(client, s)) expected.set(p, d);
    for (const p of declared) {
      if (expected.get(p) !== children.get(p)) {
        throw new Error(
          `${want.tag}: its ${p} child is ${children.get(p)}, but the ${p} build pushed ${expected.get(p) ?? "nothing"}`,
        );
      }
    }
  }
  for (const p of declared) {
    const arch = await client.configArchitecture(repository, children.get(p) as string);
    if (arch !== p.split("/")[1]) {
      throw new Error(`${want.tag}: the ${p} child's image config says architecture ${arch}`);
    }
  }
  return {
    digest: live.digest,
    mediaType: live.mediaType,
    manifest: live.body.toString("base64"),
    platforms: Object.fromEntries([...children].filter(([p]) => declared.includes(p))),
  };
}
