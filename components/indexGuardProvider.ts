/**
 * IndexGuard's dynamic provider. It runs in the dynamic provider process, loaded from this module by
 * the few-hundred-byte provider stored in state (components/moduleProvider.ts), so it imports no
 * Pulumi runtime code.
 */
import type * as pulumi from "@pulumi/pulumi";
import { readBackIndex } from "../lib/indexCheck";
import { RegistryClient, RegistryError, splitRef } from "../lib/registry";
import { RegistryCredentials, clientFor } from "./credentials";

/** One index a guard reads back (resolved inputs). */
export interface GuardedIndex {
  /** The index tag, `registry/repository:tag`. */
  tag: string;
  /** The per-arch sources of the index (`repository@sha256:...`). */
  sources: string[];
  /** Platforms the index must hold. */
  platforms: string[];
  /** Accept extra platforms (mirrored upstream indexes). */
  atLeast: boolean;
  /** The index digest the tag must serve ("" for any: a built index's digest is the push's). */
  digest?: string;
}

/** Inputs of the guard as the dynamic provider sees them (resolved): one image's indexes by id. */
export interface GuardInputs {
  /** Index id (`image:tag`, the Index resource's name) → what it must hold. */
  indexes: Record<string, GuardedIndex>;
  registry: RegistryCredentials;
  caCert?: string;
}

/** Whether an index now means a different one (another tag, other sources, platforms or digest). */
function indexChanged(old: GuardedIndex | undefined, next: GuardedIndex): boolean {
  return (
    !old ||
    old.tag !== next.tag ||
    JSON.stringify(old.sources) !== JSON.stringify(next.sources) ||
    JSON.stringify(old.platforms) !== JSON.stringify(next.platforms) ||
    old.atLeast !== next.atLeast ||
    (old.digest ?? "") !== (next.digest ?? "")
  );
}

/**
 * State: the inputs plus digests, by index id, nothing the registry already holds. A drifted tag is
 * put back from the registry itself (the published index by its digest), not from a copy in the stack.
 */
export interface GuardState extends GuardInputs {
  /** Index id → digest the program published (and verified) under its tag. */
  publishedDigests: Record<string, string>;
  /** Index id → digest the registry served at the last create/update/refresh; "absent": tag gone. */
  liveDigests: Record<string, string>;
  /** Index id → platform → child digest of the published index. */
  servedPlatforms: Record<string, Record<string, string>>;
  /** {@link GUARD_STATE_VERSION} of the provider that wrote this state. */
  stateVersion?: number;
}

/** The ids of a state's indexes whose tag serves something other than what was published. */
export function driftedIndexes(
  state: Pick<GuardState, "publishedDigests" | "liveDigests">,
): string[] {
  return Object.keys(state.publishedDigests ?? {})
    .filter((id) => state.liveDigests?.[id] !== state.publishedDigests[id])
    .sort();
}

/**
 * Version of the guard's state. Raising it makes the next `up` update every guard once (a
 * read-back, nothing pushed).
 * 4: one guard per image, its indexes' digests by index id (versions 2-3 guarded one tag each; those
 *    resources are gone from the program, so the engine deletes them, which touches no registry).
 */
export const GUARD_STATE_VERSION = 4;

/** What a dynamic provider's `configure` receives: the stack's config (secrets decrypted). */
export interface StackConfigReader {
  get(key: string): string | undefined;
}

/**
 * The credentials to talk to the registry with. A `pulumi refresh` hands `read` the inputs stored in
 * state, so after a password rotation the stored password is refused; the stack's current config
 * (`registry` and the secret `registryPassword`, given to the provider's `configure`) wins when it
 * names the same registry address. ECR (no `registryPassword`: a token from AWS) and a config that
 * cannot be read keep the stored credentials.
 */
export function currentCredentials(
  stored: RegistryCredentials,
  config: StackConfigReader | undefined,
): RegistryCredentials {
  let password: string | undefined;
  let registry: { address?: unknown; username?: unknown } = {};
  // The host builds the config from what the engine sent to `configure`; when it sent nothing, a
  // lookup throws. Either way the stored credentials are the fallback.
  try {
    password = config?.get("registryPassword");
    registry = JSON.parse(config?.get("registry") ?? "{}") as typeof registry;
  } catch {
    return stored;
  }
  if (!password) return stored;
  if (registry.address !== stored.address) return stored;
  const username = typeof registry.username === "string" ? registry.username : stored.username;
  return { address: stored.address, username, password };
}

/**
 * What a refresh says when the registry refuses the credentials. A plain `pulumi refresh` hands the
 * providers the inputs and the stack config stored at the last `up`, so a password rotated since is
 * only seen once an `up` has stored it; `npm run refresh` (scripts/refresh.ts) does that `up` first
 * when it changes nothing.
 */
export function refusedOnRefresh(tag: string, creds: RegistryCredentials): string {
  return (
    `refreshing ${tag}: registry ${creds.address} refused the password of user "${creds.username}". ` +
    `If dayu-estate:registryPassword was rotated since the last up, refresh with ` +
    `npm run refresh -- --stack <stack> (it stores the new password with an up that changes ` +
    `nothing, then refreshes)`
  );
}

/** Reads every index of an image back (each tag's reads in parallel; an image has a few tags). */
async function verify(i: GuardInputs, client: RegistryClient): Promise<GuardState> {
  const ids = Object.keys(i.indexes).sort();
  const backs = await Promise.all(
    ids.map((id) => {
      const want = i.indexes[id];
      return readBackIndex(client, { ...want, digest: want.digest || undefined });
    }),
  );
  return {
    ...i,
    publishedDigests: Object.fromEntries(ids.map((id, n) => [id, backs[n].digest])),
    liveDigests: Object.fromEntries(ids.map((id, n) => [id, backs[n].digest])),
    servedPlatforms: Object.fromEntries(ids.map((id, n) => [id, backs[n].platforms])),
    stateVersion: GUARD_STATE_VERSION,
  };
}

/**
 * Puts a published index back under its tag: the registry keeps a manifest by digest when a tag
 * moves, so the exact bytes come from there.
 */
export async function restorePublished(
  client: RegistryClient,
  tag: string,
  publishedDigest: string,
): Promise<void> {
  const { repository, reference } = splitRef(tag);
  let m: Awaited<ReturnType<RegistryClient["getManifest"]>>;
  try {
    m = await client.getManifest(repository, publishedDigest);
  } catch (err) {
    if (!(err instanceof RegistryError && err.status === 404)) throw err;
    throw new Error(
      `${tag} was published as ${publishedDigest}, which the registry no longer holds ` +
        `(deleted by digest or garbage-collected): publish it again by replacing its Index, ` +
        `pulumi up --replace <the Index's URN>`,
    );
  }
  await client.putManifest(repository, reference, m.body, m.mediaType);
}

/** Makes the registry client for some credentials (tests: a plain-HTTP fake registry). */
export type ClientFactory = (registry: RegistryCredentials, caCert?: string) => RegistryClient;

/** A provider object that keeps the stack config `configure` gave it (see {@link keepsStackConfig}). */
export type ConfiguredProvider = pulumi.dynamic.ResourceProvider & {
  stackConfig?: StackConfigReader;
};

/** The provider object: the state's stack config lives on it (see `configure`). */
export type IndexGuardProvider = ConfiguredProvider;

/**
 * The `configure` of every provider that reads with {@link currentCredentials} (IndexGuard,
 * Attestation, IndexSignature), spread into each. The host calls it once per provider process with
 * the stack's config as the engine has it for that provider; `read` is called as a method of the same
 * object, so it finds the config there.
 */
export const keepsStackConfig = {
  async configure(this: ConfiguredProvider, req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.stackConfig = req.config;
  },
};

/**
 * The provider. Create/update read the index back after docker-build pushed it and fail the update if
 * it does not hold exactly the declared platforms and builds. Refresh records what the tag serves
 * now; when that differs from what was published (the tag was moved or deleted by hand), the next
 * `up` puts the published index back.
 */
export function guardProvider(clientOf: ClientFactory = clientFor): IndexGuardProvider {
  return {
    ...keepsStackConfig,

    async create(inputs: GuardInputs) {
      const outs = await verify(inputs, clientOf(inputs.registry, inputs.caCert));
      return { id: guardId(inputs), outs };
    },

    async read(id: string, props: GuardState) {
      const creds = currentCredentials(props.registry, this.stackConfig);
      const client = clientOf(creds, props.caCert);
      const liveDigests: Record<string, string> = {};
      for (const [key, index] of Object.entries(props.indexes ?? {})) {
        const { repository, reference } = splitRef(index.tag);
        try {
          liveDigests[key] = (await client.resolve(repository, reference)) ?? "absent";
        } catch (err) {
          if (err instanceof RegistryError && err.status === 401)
            throw new Error(refusedOnRefresh(index.tag, creds));
          throw err;
        }
      }
      return { id, props: { ...props, liveDigests } };
    },

    async diff(_id: string, olds: GuardState, news: GuardInputs) {
      const before = olds.indexes ?? {};
      const changed =
        JSON.stringify(Object.keys(before).sort()) !==
          JSON.stringify(Object.keys(news.indexes).sort()) ||
        Object.entries(news.indexes).some(([id, index]) => indexChanged(before[id], index));
      const drifted = driftedIndexes(olds).length > 0;
      const outdated = olds.stateVersion !== GUARD_STATE_VERSION;
      return { changes: changed || drifted || outdated, replaces: [], deleteBeforeReplace: false };
    },

    async update(_id: string, olds: GuardState, news: GuardInputs) {
      const client = clientOf(news.registry, news.caCert);
      // A tag moved or deleted behind the program's back gets its published index back, unless the
      // program now declares something else for it (then the Index has pushed that).
      if (olds.stateVersion === GUARD_STATE_VERSION) {
        for (const id of driftedIndexes(olds)) {
          const next = news.indexes[id];
          if (next && !indexChanged(olds.indexes[id], next))
            await restorePublished(client, next.tag, olds.publishedDigests[id]);
        }
      }
      return { outs: await verify(news, client) };
    },
    // No delete: registry content is kept, like the Index it guards (retainOnDelete).
  };
}

/** A guard's id: the repository of its indexes (one image's), or its first tag. */
export function guardId(inputs: GuardInputs): string {
  const tags = Object.values(inputs.indexes).map((i) => i.tag);
  const repositories = new Set(tags.map((t) => t.slice(0, t.lastIndexOf(":"))));
  return repositories.size === 1 ? [...repositories][0] : [...tags].sort()[0];
}

/** The provider the stored stub loads (components/moduleProvider.ts). */
export const indexGuardProvider = guardProvider();
