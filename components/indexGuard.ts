import * as pulumi from "@pulumi/pulumi";
import { readBackIndex } from "../lib/indexCheck";
import { splitRef } from "../lib/registry";
import { RegistryCredentials, clientFor } from "./credentials";

/** Inputs of the guard as the dynamic provider sees them (resolved). */
interface GuardInputs {
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

/** State: the inputs plus what was published and what the registry serves now. */
interface GuardState extends GuardInputs {
  /** Digest the program published (and verified) under the tag. */
  publishedDigest: string;
  /** Digest the registry served at the last create/update/refresh; "absent" when the tag is gone. */
  liveDigest: string;
  mediaType: string;
  /** The published index bytes (base64), put back when the tag drifted. */
  manifest: string;
  servedPlatforms: Record<string, string>;
  /** {@link GUARD_STATE_VERSION} of the provider that wrote this state. */
  stateVersion?: number;
}

/**
 * Version of the provider code in a guard's state. `read` (refresh) runs the provider serialized in
 * the state, not the program's; only create/update store the current one. Raising this makes the next
 * `up` update every guard once (a read-back, nothing pushed), so refresh runs the current code.
 * 2: `read` prefers the stack's current credentials.
 */
export const GUARD_STATE_VERSION = 2;

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

async function verify(i: GuardInputs): Promise<GuardState> {
  const back = await readBackIndex(clientFor(i.registry, i.caCert), {
    ...i,
    digest: i.digest || undefined,
  });
  return {
    ...i,
    publishedDigest: back.digest,
    liveDigest: back.digest,
    mediaType: back.mediaType,
    manifest: back.manifest,
    servedPlatforms: back.platforms,
    stateVersion: GUARD_STATE_VERSION,
  };
}

/**
 * The dynamic provider. Create/update read the index back after docker-build pushed it and fail the
 * update if it does not hold exactly the declared platforms and builds. Refresh records what the tag
 * serves now; when that differs from what was published (the tag was moved or deleted by hand), the
 * next `up` puts the published index back.
 */
const provider: pulumi.dynamic.ResourceProvider & { stackConfig?: StackConfigReader } = {
  // The host calls configure once per provider process with the stack's current config; `read` is
  // called as a method of this object, so it finds the config here (a captured module variable
  // would not survive the closure serialization as shared state).
  async configure(req: pulumi.dynamic.ConfigureRequest) {
    this.stackConfig = req.config;
  },

  async create(inputs: GuardInputs) {
    const outs = await verify(inputs);
    return { id: inputs.tag, outs };
  },

  async read(id: string, props: GuardState) {
    const { repository, reference } = splitRef(props.tag);
    const live = await clientFor(
      currentCredentials(props.registry, this.stackConfig),
      props.caCert,
    ).resolve(repository, reference);
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
    if (!inputsChanged(olds, news) && olds.liveDigest !== olds.publishedDigest) {
      // Drift: put back the exact index that was published, byte for byte.
      const { repository, reference } = splitRef(news.tag);
      await clientFor(news.registry, news.caCert).putManifest(
        repository,
        reference,
        Buffer.from(olds.manifest, "base64"),
        olds.mediaType,
      );
    }
    return { outs: await verify(news) };
  },

  async delete() {
    // Registry content is kept, like the Index it guards (retainOnDelete).
  },
};

/** Arguments of {@link IndexGuard}. */
export interface IndexGuardArgs {
  /** The index tag, `registry/repository:tag`. */
  tag: pulumi.Input<string>;
  /** The per-arch sources of the index (`repository@sha256:...`). */
  sources: pulumi.Input<pulumi.Input<string>[]>;
  /** Platforms the index must hold. */
  platforms: string[];
  /** Accept extra platforms (mirrored upstream indexes). Default false. */
  atLeast?: boolean;
  /** The index digest the tag must serve (a promoted index: its source's). Default: any. */
  digest?: pulumi.Input<string>;
  /** Registry credentials (secret). */
  registry: pulumi.Input<RegistryCredentials>;
  /** PEM CA of the registry, when not in the system store. */
  caCert?: pulumi.Input<string | undefined>;
}

/**
 * Guards one published index: reads it back after each push (exact platforms, the right builds, the
 * right architecture in each image config), detects on `pulumi refresh` a tag moved or deleted behind
 * the program's back, and restores it on the next `pulumi up`. Create it with `dependsOn` the Index.
 */
export class IndexGuard extends pulumi.dynamic.Resource {
  declare public readonly publishedDigest: pulumi.Output<string>;
  declare public readonly liveDigest: pulumi.Output<string>;
  declare public readonly servedPlatforms: pulumi.Output<Record<string, string>>;
  declare public readonly stateVersion: pulumi.Output<number>;

  constructor(name: string, args: IndexGuardArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        tag: args.tag,
        sources: args.sources,
        platforms: args.platforms,
        atLeast: args.atLeast ?? false,
        digest: args.digest ?? "",
        registry: pulumi.secret(args.registry),
        caCert: args.caCert ?? "",
        publishedDigest: undefined,
        liveDigest: undefined,
        mediaType: undefined,
        manifest: undefined,
        servedPlatforms: undefined,
        stateVersion: undefined,
      },
      { ...opts, additionalSecretOutputs: ["registry"] },
    );
  }
}
