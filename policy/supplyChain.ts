/**
 * The supply-chain policy of the `dayu-estate-policies` pack: on non-dev stacks every estate index is
 * signed and every per-arch image it lists carries its SBOM and provenance. A stack policy, because
 * it relates resources to each other: an Index (docker-build), its `IndexSignature` and its children's
 * `Attestation`s (dynamic resources, named `<index id>-signature` and `<build id>-attestation` by
 * components/multiArchImage.ts).
 *
 * The environment comes from the stack's `environment` output (index.ts exports it). When it is not
 * there, the policy applies: a missing signal must not switch signing checks off.
 */
import { PolicyResource, ReportViolation, StackValidationPolicy } from "@pulumi/policy";
import { PINNED_BY_DIGEST, UNKNOWN, elements, knownStrings, read } from "./values";

/** The type every Node.js dynamic resource registers as. */
export const DYNAMIC_TYPE = "pulumi-nodejs:dynamic:Resource";
const INDEX_TYPE = "docker-build:index:Index";
/** Indexes of catalog images (a mirror's Index copies a third-party image: not ours to sign). */
const ESTATE_IMAGE_TYPE = "dayu:estate:MultiArchImage";
/** The digest a preview shows for a build about to run (components/archImage.ts PENDING_DIGEST). */
const PENDING = `@sha256:${"0".repeat(64)}`;

/** The stack's environment as the program exported it, UNKNOWN in a preview, undefined when absent. */
export function stackEnvironment(resources: readonly PolicyResource[]): unknown {
  const stack = resources.find((r) => r.type === "pulumi:pulumi:Stack");
  return stack ? read(() => stack.props.environment) : undefined;
}

/** What one estate index lacks: its signature (missing or not verified) and its children's kinds. */
export function supplyChainGaps(
  index: PolicyResource,
  dynamic: readonly PolicyResource[],
): string[] {
  const gaps: string[] = [];
  const tag = read(() => index.props.tag);
  const what = typeof tag === "string" ? `Index ${tag}` : `Index ${index.name}`;
  const signature = dynamic.find((r) => r.name === `${index.name}-signature`);
  if (!signature) {
    gaps.push(
      `${what} must be signed: no IndexSignature ${index.name}-signature (turn supplyChain on)`,
    );
  } else if (read(() => signature.props.verified) === false) {
    gaps.push(`${what}: its signature does not verify with cosignPublicKey (run pulumi up)`);
  }
  const attestations = dynamic.filter((r) => r.name.endsWith("-attestation"));
  const sources = read(() => index.props.sources);
  if (sources === UNKNOWN) return gaps;
  for (const source of knownStrings(elements(sources))) {
    // A build about to run has no digest and so no attestation yet; the update checks it.
    if (!PINNED_BY_DIGEST.test(source) || source.endsWith(PENDING)) continue;
    const att = attestations.find((a) => read(() => a.props.ref) === source);
    if (!att) {
      gaps.push(`${what}: child ${source} has no Attestation (SBOM and provenance)`);
      continue;
    }
    const verified = read(() => att.props.verified);
    const format = read(() => att.props.sbomFormat);
    if (verified === UNKNOWN || format === UNKNOWN) continue;
    const have = knownStrings(elements((verified ?? []) as unknown[]));
    const missing = [typeof format === "string" ? format : "sbom", "provenance"].filter(
      (k) => !have.includes(k),
    );
    if (missing.length > 0)
      gaps.push(
        `${what}: child ${source} lacks a verified ${missing.join(" and ")} attestation (run pulumi refresh, then pulumi up)`,
      );
  }
  return gaps;
}

/** Every estate index signed, every child attested, on non-dev stacks. */
export const indexSignedAndAttested: StackValidationPolicy = {
  name: "index-signed-and-attested",
  description:
    "On non-dev stacks every estate Index has a verified IndexSignature and each per-arch image it lists an Attestation with its SBOM and provenance.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation: ReportViolation) => {
    if (stackEnvironment(args.resources) === "dev") return;
    const dynamic = args.resources.filter((r) => r.type === DYNAMIC_TYPE);
    for (const index of args.resources) {
      if (index.type !== INDEX_TYPE || index.parent?.type !== ESTATE_IMAGE_TYPE) continue;
      for (const gap of supplyChainGaps(index, dynamic)) reportViolation(gap, index.urn);
    }
  },
};

/** The stack policies of the pack. */
export const stackPolicies: StackValidationPolicy[] = [indexSignedAndAttested];
