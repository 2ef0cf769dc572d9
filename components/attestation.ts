import * as pulumi from "@pulumi/pulumi";
import { ConfiguredProvider, currentCredentials, keepsStackConfig } from "./indexGuardProvider";
import { moduleProvider } from "./moduleProvider";
import { ACCESS_SECRET_OUTPUTS, SupplyChainAccess, accessInputs } from "./supplyChainAccess";
import { canonicalJson, ProvenanceInput, provenancePredicate, sha256Of } from "../lib/provenance";
import {
  SbomFormat,
  SigningKey,
  SupplyChain,
  SupplyChainTools,
  ToolCredentials,
  ToolRunner,
  execToolRunner,
  withDockerConfig,
} from "../lib/supplyChain";

/** Inputs as the dynamic provider sees them (resolved). */
export interface AttestationInputs {
  /** `registry/repository@sha256:…` of the per-arch image. */
  ref: string;
  /** The provenance facts (no document: the predicate is rebuilt from them). */
  provenance: ProvenanceInput;
  sbomFormat: SbomFormat;
  tools: SupplyChainTools;
  registry: ToolCredentials;
  key: SigningKey;
}

/**
 * State: digests only. The documents live in the registry as attestations; keeping copies in the
 * stack would bloat it and duplicate what the registry is the authority for.
 */
export interface AttestationState extends AttestationInputs {
  /** sha256 of the SBOM document attested. */
  sbomDigest: string;
  /** sha256 of the provenance predicate attested. */
  provenanceDigest: string;
  /** Kinds that verified at the last create, update or refresh. */
  verified: string[];
}

const KINDS = (format: SbomFormat) => [format, "provenance"] as const;

/** SBOM then provenance for one digest; returns the documents' digests. */
export async function attestDigest(
  i: AttestationInputs,
  runTool: ToolRunner = execToolRunner,
): Promise<AttestationState> {
  return withDockerConfig(i.registry, async (dockerConfig) => {
    const chain = new SupplyChain({ ...i.tools, dockerConfig }, runTool);
    const sbom = await chain.sbom(i.ref, i.sbomFormat);
    await chain.attest(i.ref, i.sbomFormat, sbom, i.key);
    const predicate = canonicalJson(provenancePredicate(i.provenance));
    await chain.attest(i.ref, "provenance", predicate, i.key);
    return {
      ...i,
      sbomDigest: sha256Of(sbom),
      provenanceDigest: sha256Of(predicate),
      verified: [...KINDS(i.sbomFormat)],
    };
  });
}

/** The kinds of attestation that verify on the digest now. */
export async function verifiedKinds(
  i: AttestationInputs,
  runTool: ToolRunner = execToolRunner,
): Promise<string[]> {
  return withDockerConfig(i.registry, (dockerConfig) =>
    new SupplyChain({ ...i.tools, dockerConfig }, runTool).verifiedAttestations(
      i.ref,
      i.key.publicKey,
      [...KINDS(i.sbomFormat)],
    ),
  );
}

/**
 * The provider. Only the digest decides: a new digest is a new image and gets an SBOM and a
 * provenance; the same digest is a no-op whatever else changed (so a no-op `up` attests nothing). A
 * refresh verifies the attestations; when one no longer verifies, the next `up` attests again.
 */
export function attestationProvider(runTool: ToolRunner = execToolRunner): ConfiguredProvider {
  return {
    ...keepsStackConfig,
    async create(inputs: AttestationInputs) {
      return { id: inputs.ref, outs: await attestDigest(inputs, runTool) };
    },
    async read(id: string, props: AttestationState) {
      // Verified with the stack's current credentials where it has them (a rotated password).
      const registry = currentCredentials(props.registry, this.stackConfig);
      return {
        id,
        props: { ...props, verified: await verifiedKinds({ ...props, registry }, runTool) },
      };
    },
    async diff(_id: string, olds: AttestationState, news: AttestationInputs) {
      const missing = KINDS(olds.sbomFormat).some((k) => !(olds.verified ?? []).includes(k));
      return {
        changes: olds.ref !== news.ref || missing,
        replaces: olds.ref !== news.ref ? ["ref"] : [],
        deleteBeforeReplace: false,
      };
    },
    async update(_id: string, _olds: AttestationState, news: AttestationInputs) {
      return { outs: await attestDigest(news, runTool) };
    },
    async delete() {
      // Attestations stay with their image; retention removes them with it.
    },
  };
}

/** The provider the stub stored in state loads from this module (components/moduleProvider.ts). */
export const sharedProvider = attestationProvider();

/**
 * What Pulumi stores in each resource's state: a stub of a few hundred bytes that loads
 * `sharedProvider` from this module, one object for every resource (Pulumi caches a provider's
 * serialization by identity). Made on first use, when this module has finished loading.
 */
let stored: pulumi.dynamic.ResourceProvider | undefined;

/** Arguments of {@link Attestation}. */
export interface AttestationArgs extends SupplyChainAccess {
  /** The per-arch image by digest, `registry/repository@sha256:…` (the build's pinned ref). */
  ref: pulumi.Input<string>;
  /** Provenance facts of the build (planner build, builder, digests, source revision). */
  provenance: pulumi.Input<ProvenanceInput>;
  /** SBOM format. Default `spdx-json`. */
  sbomFormat?: SbomFormat;
}

/**
 * An SBOM (syft, from the pushed image) and a SLSA v1 provenance attached to one per-arch digest as
 * cosign attestations. Create it with `dependsOn` the build's Image it attests.
 */
export class Attestation extends pulumi.dynamic.Resource {
  declare public readonly sbomDigest: pulumi.Output<string>;
  declare public readonly provenanceDigest: pulumi.Output<string>;
  declare public readonly verified: pulumi.Output<string[]>;

  constructor(name: string, args: AttestationArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      (stored ??= moduleProvider(__filename, "sharedProvider")),
      name,
      {
        ref: args.ref,
        provenance: args.provenance,
        sbomFormat: args.sbomFormat ?? "spdx-json",
        ...accessInputs(args),
        sbomDigest: undefined,
        provenanceDigest: undefined,
        verified: undefined,
      },
      { ...opts, additionalSecretOutputs: ACCESS_SECRET_OUTPUTS },
    );
  }
}
