import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { ConfiguredProvider, currentCredentials, keepsStackConfig } from "./indexGuardProvider";
import { moduleProvider } from "./moduleProvider";
import { ACCESS_SECRET_OUTPUTS, SupplyChainAccess, accessInputs } from "./supplyChainAccess";
import { RegistryClient, splitRef } from "../lib/registry";
import {
  SigningKey,
  SupplyChain,
  SupplyChainTools,
  ToolCredentials,
  ToolRunner,
  execToolRunner,
  withDockerConfig,
} from "../lib/supplyChain";

/** Inputs as the dynamic provider sees them (resolved). */
export interface IndexSignatureInputs {
  /** The index tag, `registry/repository:tag`. */
  tag: string;
  /** The published index digest, `sha256:…` (IndexGuard's publishedDigest). */
  digest: string;
  tools: SupplyChainTools;
  registry: ToolCredentials;
  key: SigningKey;
}

/** State: digests and a verdict, no signature bytes. */
export interface IndexSignatureState extends IndexSignatureInputs {
  /** What the tag served at the last create, update or refresh ("absent" when gone). */
  liveDigest: string;
  /** Whether the served digest carried a signature that verifies with the public key. */
  verified: boolean;
}

/** Resolves the tag's live digest; a missing tag is "absent". */
export type TagResolver = (i: IndexSignatureInputs) => Promise<string>;

const registryResolver: TagResolver = async (i) => {
  const { repository, reference } = splitRef(i.tag);
  const client = new RegistryClient({
    address: i.registry.address,
    username: i.registry.username || undefined,
    password: i.registry.password,
    ca: i.tools.caFile ? fs.readFileSync(i.tools.caFile, "utf8") : undefined,
    insecure: i.tools.insecure,
  });
  return (await client.resolve(repository, reference)) ?? "absent";
};

/** `registry/repository@digest` for a `registry/repository:tag` reference. */
export function digestRef(tag: string, digest: string): string {
  const { address, repository } = splitRef(tag);
  return `${address}/${repository}@${digest}`;
}

/** True when the state shows drift: the tag moved, vanished, or its signature no longer verifies. */
export function signatureDrifted(
  s: Pick<IndexSignatureState, "digest" | "liveDigest" | "verified">,
): boolean {
  return s.liveDigest !== s.digest || !s.verified;
}

/** Reads the tag and verifies the signature of what it serves now. */
export async function inspect(
  i: IndexSignatureInputs,
  runTool: ToolRunner,
  resolve: TagResolver,
): Promise<Pick<IndexSignatureState, "liveDigest" | "verified">> {
  const liveDigest = await resolve(i);
  if (liveDigest === "absent") return { liveDigest, verified: false };
  const verified = await withDockerConfig(i.registry, (dockerConfig) =>
    new SupplyChain({ ...i.tools, dockerConfig }, runTool).verifySignature(
      digestRef(i.tag, liveDigest),
      i.key.publicKey,
    ),
  );
  return { liveDigest, verified };
}

/**
 * The provider. Create/update sign the published digest (cosign signs digests, so re-signing an
 * unchanged index is only needed when its signature went missing). Refresh resolves the tag and
 * verifies what it serves: a tag moved by hand, or a signature removed or not made with our key, is
 * drift; the next `up` (after IndexGuard has put the index back) signs it again.
 */
export function indexSignatureProvider(
  runTool: ToolRunner = execToolRunner,
  resolve: TagResolver = registryResolver,
): ConfiguredProvider {
  const signAndCheck = async (i: IndexSignatureInputs): Promise<IndexSignatureState> => {
    await withDockerConfig(i.registry, (dockerConfig) =>
      new SupplyChain({ ...i.tools, dockerConfig }, runTool).sign(
        digestRef(i.tag, i.digest),
        i.key,
      ),
    );
    const now = await inspect(i, runTool, resolve);
    if (now.liveDigest === i.digest && !now.verified)
      throw new Error(`${i.tag}: the signature of ${i.digest} does not verify right after signing`);
    return { ...i, ...now };
  };
  return {
    ...keepsStackConfig,
    async create(inputs: IndexSignatureInputs) {
      return { id: inputs.tag, outs: await signAndCheck(inputs) };
    },
    async read(id: string, props: IndexSignatureState) {
      // Read with the stack's current credentials where it has them (a rotated password).
      const registry = currentCredentials(props.registry, this.stackConfig);
      return {
        id,
        props: { ...props, ...(await inspect({ ...props, registry }, runTool, resolve)) },
      };
    },
    async diff(_id: string, olds: IndexSignatureState, news: IndexSignatureInputs) {
      return {
        changes: olds.digest !== news.digest || olds.tag !== news.tag || signatureDrifted(olds),
        replaces: olds.tag !== news.tag ? ["tag"] : [],
        deleteBeforeReplace: false,
      };
    },
    async update(_id: string, _olds: IndexSignatureState, news: IndexSignatureInputs) {
      return { outs: await signAndCheck(news) };
    },
    async delete() {
      // The signature stays with the index; retention removes both together.
    },
  };
}

/** The provider the stub stored in state loads from this module (components/moduleProvider.ts). */
export const sharedProvider = indexSignatureProvider();

/**
 * What Pulumi stores in each resource's state: a stub of a few hundred bytes that loads
 * `sharedProvider` from this module, one object for every resource (Pulumi caches a provider's
 * serialization by identity). Made on first use, when this module has finished loading.
 */
let stored: pulumi.dynamic.ResourceProvider | undefined;

/** Arguments of {@link IndexSignature}. */
export interface IndexSignatureArgs extends SupplyChainAccess {
  /** The index tag, `registry/repository:tag`. */
  tag: pulumi.Input<string>;
  /** The published index digest (IndexGuard's `publishedDigest`). */
  digest: pulumi.Input<string>;
}

/** A cosign signature on one published index digest, verified on every refresh. */
export class IndexSignature extends pulumi.dynamic.Resource {
  declare public readonly liveDigest: pulumi.Output<string>;
  declare public readonly verified: pulumi.Output<boolean>;

  constructor(name: string, args: IndexSignatureArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      (stored ??= moduleProvider(__filename, "sharedProvider")),
      name,
      {
        tag: args.tag,
        digest: args.digest,
        ...accessInputs(args),
        liveDigest: undefined,
        verified: undefined,
      },
      { ...opts, additionalSecretOutputs: ACCESS_SECRET_OUTPUTS },
    );
  }
}
