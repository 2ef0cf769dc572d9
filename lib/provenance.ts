/**
 * SLSA v1 provenance for one per-architecture build, built from what the planner already knows
 * (builder, platform, Dockerfile, context, build args, base digests) and the source revision.
 *
 * Deterministic on purpose: the same build yields the same bytes (keys sorted, dependencies sorted, no
 * clock read here), so re-attesting an unchanged digest produces an identical predicate and a test can
 * compare bytes. Timestamps go in only when the caller passes them.
 *
 * Pure: no Pulumi resources, no I/O except {@link contextDigest}, which reads through the injectable
 * {@link FileSource}.
 */
import { createHash } from "crypto";
import { FileSource } from "../estate/files";
import { Problems } from "../estate/problems";

/** The in-toto statement type cosign and every verifier expect for SLSA v1. */
export const IN_TOTO_STATEMENT_V1 = "https://in-toto.io/Statement/v1";
/** SLSA provenance v1 predicate type (cosign's `--type slsaprovenance1`). */
export const SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1";
/**
 * What kind of build this is: one platform built natively on its own BuildKit daemon through buildx,
 * by this program. A URN because SLSA wants a URI and we must not name a host we do not own.
 */
export const DAYU_BUILD_TYPE = "urn:dayu-estate:buildtype:buildx-per-arch:v1";

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** A base image the build resolved, pinned by digest. */
export interface ResolvedBase {
  /** `registry/repository@sha256:…` (a tag before the digest is kept in the name only). */
  ref: string;
}

/** Everything the provenance of one per-arch build says. */
export interface ProvenanceInput {
  /** Planner build id, e.g. `car-detection/jp5/arm64`: names the build in error messages. */
  buildId: string;
  /** The pushed image: `registry/repository` and its per-arch manifest digest. */
  subject: { name: string; digest: string };
  /** The BuildKit builder that ran the build and the platform it served. */
  builder: { name: string; platform: string; version?: string };
  /** Dockerfile path (relative to the catalog) and the sha256 of its bytes. */
  dockerfile: { path: string; digest: string };
  /** Build context path (relative to the catalog) and its {@link contextDigest}. */
  context: { path: string; digest: string };
  /** Build arguments as passed to buildx (including the base argument). Default none. */
  buildArgs?: Record<string, string>;
  /** Dockerfile target stage, when one is set. */
  target?: string;
  /** Resolved bases, each pinned by digest. Default none. */
  bases?: ResolvedBase[];
  /** Source checkout: repository URI and commit. Omitted when the context is not a checkout. */
  source?: { uri: string; revision: string };
  /** RFC 3339 start and end; omitted by default so that re-running yields the same bytes. */
  startedOn?: string;
  finishedOn?: string;
}

/** A SLSA ResourceDescriptor, reduced to the fields we fill. */
export interface ResourceDescriptor {
  name: string;
  uri: string;
  digest: Record<string, string>;
}

/** Checks the input; every problem names the build and the field. */
export function provenanceProblems(input: ProvenanceInput, problems = new Problems()): Problems {
  const at = (field: string, msg: string) => problems.at(`build "${input.buildId}" ${field}`, msg);
  if (!DIGEST.test(input.subject.digest))
    at("subject digest", `"${input.subject.digest}" is not a sha256 digest`);
  if (!input.subject.name) at("subject name", "is empty");
  if (!input.builder.name) at("builder", "has no name");
  if (!/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(input.builder.platform))
    at("builder platform", `"${input.builder.platform}" is not os/arch[/variant]`);
  if (!DIGEST.test(input.dockerfile.digest))
    at("dockerfile digest", `"${input.dockerfile.digest}" is not a sha256 digest`);
  if (!DIGEST.test(input.context.digest))
    at("context digest", `"${input.context.digest}" is not a sha256 digest`);
  for (const b of input.bases ?? []) {
    const digest = b.ref.split("@")[1];
    if (!digest || !DIGEST.test(digest)) at("base", `${b.ref} is not pinned by a sha256 digest`);
  }
  if (input.source && !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(input.source.revision))
    at("source revision", `"${input.source.revision}" is not a full git commit id`);
  return problems;
}

/** `sha256:<hex>` → `{ sha256: "<hex>" }`, the digest set form SLSA uses. */
function digestSet(digest: string): Record<string, string> {
  const [alg, hex] = digest.split(":");
  return { [alg]: hex };
}

/** The inputs the build resolved, sorted by name then URI so their order never changes the bytes. */
export function resolvedDependencies(input: ProvenanceInput): ResourceDescriptor[] {
  const deps: ResourceDescriptor[] = [
    { name: "dockerfile", uri: input.dockerfile.path, digest: digestSet(input.dockerfile.digest) },
    { name: "context", uri: input.context.path, digest: digestSet(input.context.digest) },
    ...(input.bases ?? []).map((b) => {
      const [name, digest] = b.ref.split("@");
      return { name: "base", uri: name, digest: digestSet(digest) };
    }),
  ];
  if (input.source)
    deps.push({
      name: "source",
      uri: input.source.uri,
      digest: { gitCommit: input.source.revision },
    });
  return deps.sort((a, b) =>
    a.name === b.name ? a.uri.localeCompare(b.uri) : a.name.localeCompare(b.name),
  );
}

/**
 * The SLSA v1 predicate (what `cosign attest --type slsaprovenance1 --predicate` takes; cosign wraps
 * it in the statement with the image digest as subject). Throws an EstateInputError naming the build
 * for an invalid input.
 */
export function provenancePredicate(input: ProvenanceInput): Record<string, unknown> {
  provenanceProblems(input).throwIfAny();
  const externalParameters: Record<string, unknown> = {
    platform: input.builder.platform,
    dockerfile: input.dockerfile.path,
    context: input.context.path,
    buildArgs: { ...(input.buildArgs ?? {}) },
  };
  if (input.target !== undefined) externalParameters.target = input.target;
  if (input.source) externalParameters.source = { ...input.source };
  const metadata: Record<string, string> = {
    invocationId: `${input.buildId}@${input.subject.digest}`,
  };
  if (input.startedOn !== undefined) metadata.startedOn = input.startedOn;
  if (input.finishedOn !== undefined) metadata.finishedOn = input.finishedOn;
  const builder: Record<string, unknown> = {
    id: `urn:dayu-estate:builder:${input.builder.name}`,
  };
  if (input.builder.version !== undefined) builder.version = { buildkit: input.builder.version };
  return {
    buildDefinition: {
      buildType: DAYU_BUILD_TYPE,
      externalParameters,
      internalParameters: { builder: input.builder.name, builderPlatform: input.builder.platform },
      resolvedDependencies: resolvedDependencies(input),
    },
    runDetails: { builder, metadata },
  };
}

/** The whole in-toto statement (for a verifier's comparison and for attaching without cosign). */
export function provenanceStatement(input: ProvenanceInput): Record<string, unknown> {
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: input.subject.name, digest: digestSet(input.subject.digest) }],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: provenancePredicate(input),
  };
}

/** JSON with object keys sorted at every level and a final newline: equal values, equal bytes. */
export function canonicalJson(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
          .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

/** `sha256:<hex>` of some bytes. */
export function sha256Of(bytes: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/**
 * One digest for a whole build context: the sha256 of the sorted lines `<path>\0<sha256 of file>\n`
 * for every regular file under `dir` (paths relative to it, `/`-separated). Independent of the file
 * system's listing order and of timestamps. `.dockerignore` is not applied: a file it hides still
 * changes the digest, which errs on the side of re-attesting.
 */
export function contextDigest(files: FileSource, dir: string): string {
  const lines: string[] = [];
  const walk = (rel: string) => {
    const full = rel ? `${dir}/${rel}` : dir;
    for (const name of files.list(full)) {
      const relPath = rel ? `${rel}/${name}` : name;
      const path = `${dir}/${relPath}`;
      if (files.isDirectory(path)) walk(relPath);
      else if (files.isFile(path)) lines.push(`${relPath}\0${sha256Of(files.read(path))}\n`);
    }
  };
  walk("");
  return sha256Of(lines.sort().join(""));
}
