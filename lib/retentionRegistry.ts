/**
 * The registry side of retention: read a repository into the {@link RepositoryState} the pure planner
 * takes (tags, every manifest they reach, children, subjects, blob sizes), find out whether the
 * registry deletes tags, and apply a plan's steps. The decisions stay in estate/retention.ts.
 */
import { RegistryClient, RegistryError } from "./registry";
import {
  RegistryCapabilities,
  RegistryManifest,
  RepositoryState,
  RetentionStep,
} from "../estate/retention";

/** The manifest fields retention reads (the client's type leaves out `subject`). */
interface ManifestJson {
  manifests?: { digest: string }[];
  config?: { digest: string; size: number; mediaType?: string };
  layers?: { digest: string; size: number }[];
  subject?: { digest: string };
}

/** `GET /v2/<name>/tags/list` (one page: distribution serves every tag without `n`). */
export async function listTags(client: RegistryClient, repository: string): Promise<string[]> {
  const res = await client.call("GET", `/v2/${repository}/tags/list`);
  if (res.status === 404) return [];
  if (res.status !== 200)
    throw new RegistryError(`listing the tags of ${repository}: HTTP ${res.status}`, res.status);
  return (JSON.parse(res.body.toString()) as { tags?: string[] | null }).tags ?? [];
}

/** Image config media types: the configs that carry `created` (not cache, SBOM or signature configs). */
const IMAGE_CONFIGS = [
  "application/vnd.oci.image.config.v1+json",
  "application/vnd.docker.container.image.v1+json",
];

/** What {@link readRepository} reads besides tags and manifests. */
export interface ReadOptions {
  /** Each image's build time from its config blob (one small GET per image; for an age rule). */
  created?: boolean;
}

/** An image config's `created`, or undefined when the blob has none or cannot be read. */
async function configCreated(
  client: RegistryClient,
  repository: string,
  digest: string,
): Promise<string | undefined> {
  try {
    const config = JSON.parse((await client.getBlob(repository, digest)).toString()) as {
      created?: unknown;
    };
    return typeof config.created === "string" ? config.created : undefined;
  } catch (err) {
    // A config that vanished or is not JSON: the release's age is unknown, so it is kept.
    if (err instanceof RegistryError && err.status !== 404) throw err;
    return undefined;
  }
}

/** Reads every tag of `repository` and every manifest reachable from them. */
export async function readRepository(
  client: RegistryClient,
  repository: string,
  opts: ReadOptions = {},
): Promise<RepositoryState> {
  const state: RepositoryState = { repository, tags: {}, manifests: {} };
  const visit = async (reference: string): Promise<string | undefined> => {
    let m;
    try {
      m = await client.getManifest(repository, reference);
    } catch (err) {
      // A child or a tag that vanished under us: nothing to keep or delete there.
      if (err instanceof RegistryError && err.status === 404) return undefined;
      throw err;
    }
    if (state.manifests[m.digest]) return m.digest;
    const json = m.json as ManifestJson;
    const entry: RegistryManifest = {
      digest: m.digest,
      mediaType: m.mediaType,
      size: m.body.length,
      blobs: [...(json.config ? [json.config] : []), ...(json.layers ?? [])].map((b) => ({
        digest: b.digest,
        size: b.size,
      })),
    };
    if (json.subject) entry.subject = json.subject.digest;
    if (opts.created && json.config && IMAGE_CONFIGS.includes(json.config.mediaType ?? "")) {
      const created = await configCreated(client, repository, json.config.digest);
      if (created) entry.created = created;
    }
    state.manifests[m.digest] = entry;
    if (json.manifests) {
      entry.children = json.manifests.map((c) => c.digest);
      for (const c of entry.children) await visit(c);
    }
    return m.digest;
  };
  for (const tag of await listTags(client, repository)) {
    const digest = await visit(tag);
    if (digest) state.tags[tag] = digest;
  }
  return state;
}

/**
 * Whether `DELETE /v2/<name>/manifests/<tag>` removes a tag, found without changing anything: a tag
 * that does not exist answers 404 where tag deletion exists (distribution v3) and 400 "digest invalid"
 * where only digests are accepted (2.8). 405 means deletion is disabled altogether.
 */
export async function probeCapabilities(
  client: RegistryClient,
  repository: string,
): Promise<RegistryCapabilities & { deleteEnabled: boolean }> {
  const res = await client.call(
    "DELETE",
    `/v2/${repository}/manifests/dayu-retention-probe-no-such-tag`,
  );
  return { tagDelete: res.status === 404, deleteEnabled: res.status !== 405 };
}

/** Applies one step. A 404 counts as done (someone else removed it first). */
export async function applyStep(client: RegistryClient, step: RetentionStep): Promise<void> {
  const ref = step.kind === "delete-tag" ? step.tag : step.digest;
  const res = await client.call("DELETE", `/v2/${step.repository}/manifests/${ref}`);
  if (res.status === 202 || res.status === 200 || res.status === 404) return;
  throw new RegistryError(
    `deleting ${step.repository}${step.kind === "delete-tag" ? ":" : "@"}${ref}: HTTP ${res.status} ${res.body.toString().slice(0, 200)}`,
    res.status,
  );
}
