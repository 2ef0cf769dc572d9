/**
 * IndexGuard's dynamic provider. It runs in the dynamic provider process, loaded from this module by
 * the few-hundred-byte provider stored in state (components/moduleProvider.ts), so it imports no
 * Pulumi runtime code.
 */
import type * as pulumi from "@pulumi/pulumi";
import { readBackIndex } from "../lib/indexCheck";
import { RegistryClient, RegistryError, splitRef } from "../lib/registry";
import { RegistryCredentials, clientFor } from "./credentials";

/** Inputs of the guard as the dynamic provider sees them (resolved). */
export interface GuardInputs {
  tag: string;
  sources: string[];
  platforms: string[];
  atLeast: boolean;
  /** The index digest the tag must serve ("" for any: a built index's digest is the push's). */
  digest?: string;
  registry: RegistryCredentials;
  caCert?: string;
}

/** Inputs that, when changed, mean a different index (states written before `digest` lack it). */
function inputsChanged(olds: GuardInputs, news: GuardInputs): boolean {
  return (
    JSON.stringify(olds.sources) !== JSON.stringify(news.sources) ||
    JSON.stringify(olds.platforms) !== JSON.stringify(news.platforms) ||
    (olds.digest ?? "") !== (news.digest ?? "")
  );
}

/**
 * State: the inputs plus digests, nothing the registry already holds. A drifted tag is put back from
 * the registry itself (the published index by its digest), not from a copy in the stack.
 */
export interface GuardState extends GuardInputs {
  /** Digest the program published (and verified) under the tag. */
  publishedDigest: string;
  /** Digest the registry served at the last create/update/refresh; "absent" when the tag is gone. */
  liveDigest: string;
  /** Platform → child digest of the published index. */
  servedPlatforms: Record<string, string>;
  /** {@link GUARD_STATE_VERSION} of the provider that wrote this state. */
  stateVersion?: number;
  /** Version 2 states only: the published index bytes (base64), dropped by the next update. */
  manifest?: string;
  /** Version 2 states only: the media type of `manifest`. */
  mediaType?: string;
}

/**
 * Version of the guard's state. Raising it makes the next `up` update every guard once (a
 * read-back, nothing pushed).
 * 2: `read` prefers the stack's current credentials.
 * 3: lean state: no copy of the index bytes, and the provider stored in state is a stub that loads
 *    this module (a refresh runs the checkout's current code).
 */
export const GUARD_STATE_VERSION = 3;

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

async function verify(i: GuardInputs, client: RegistryClient): Promise<GuardState> {
  const back = await readBackIndex(client, { ...i, digest: i.digest || undefined });
  return {
    ...i,
    publishedDigest: back.digest,
    liveDigest: back.digest,
    servedPlatforms: back.platforms,
    stateVersion: GUARD_STATE_VERSION,
  };
}

/**
 * Puts the published index back under its tag: the registry keeps a manifest by digest when a tag
 * moves, so the exact bytes come from there. A version 2 state's own copy serves when the digest is
 * gone too (deleted by digest, or garbage-collected).
 */
export async function restorePublished(
  client: RegistryClient,
  olds: Pick<GuardState, "tag" | "publishedDigest" | "manifest" | "mediaType">,
): Promise<void> {
  const { repository, reference } = splitRef(olds.tag);
  let body: Buffer;
  let mediaType: string;
  try {
    const m = await client.getManifest(repository, olds.publishedDigest);
    body = m.body;
    mediaType = m.mediaType;
  } catch (err) {
    if (!(err instanceof RegistryError && err.status === 404)) throw err;
    if (!olds.manifest || !olds.mediaType) {
      throw new Error(
        `${olds.tag} was published as ${olds.publishedDigest}, which the registry no longer holds ` +
          `(deleted by digest or garbage-collected): publish it again by replacing its Index, ` +
          `pulumi up --replace <the Index's URN>`,
      );
    }
    body = Buffer.from(olds.manifest, "base64");
    mediaType = olds.mediaType;
  }
  await client.putManifest(repository, reference, body, mediaType);
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
      return { id: inputs.tag, outs };
    },

    async read(id: string, props: GuardState) {
      const { repository, reference } = splitRef(props.tag);
      const creds = currentCredentials(props.registry, this.stackConfig);
      let live: string | undefined;
      try {
        live = await clientOf(creds, props.caCert).resolve(repository, reference);
      } catch (err) {
        if (err instanceof RegistryError && err.status === 401)
          throw new Error(refusedOnRefresh(props.tag, creds));
        throw err;
      }
      return { id, props: { ...props, liveDigest: live ?? "absent" } };
    },

    async diff(_id: string, olds: GuardState, news: GuardInputs) {
      const changed = olds.tag !== news.tag || inputsChanged(olds, news);
      const drifted = olds.liveDigest !== olds.publishedDigest;
      const outdated = olds.stateVersion !== GUARD_STATE_VERSION;
      return {
        changes: changed || drifted || outdated,
        replaces: olds.tag !== news.tag ? ["tag"] : [],
        deleteBeforeReplace: false,
      };
    },

    async update(_id: string, olds: GuardState, news: GuardInputs) {
      const client = clientOf(news.registry, news.caCert);
      if (!inputsChanged(olds, news) && olds.liveDigest !== olds.publishedDigest) {
        await restorePublished(client, olds);
      }
      return { outs: await verify(news, client) };
    },
    // No delete: registry content is kept, like the Index it guards (retainOnDelete).
  };
}

/** The provider the stored stub loads (components/moduleProvider.ts). */
export const indexGuardProvider = guardProvider();
