/**
 * From the plan to the provenance facts of each final build: what `Attestation` receives. Pure except
 * for reading files through the injectable {@link FileSource}; no Pulumi resources.
 *
 * Stages: {@link buildFacts} (the Dockerfile's and the context's digests, read once per file and once
 * per context directory, since the amd64 and arm64 builds of an image share both) →
 * {@link provenanceFor} (those facts plus what only the update knows: the pushed digest and the
 * pinned base).
 */
import * as path from "path";
import { FileSource } from "../estate/files";
import { PlannedBuild } from "../estate/planner";
import { ProvenanceInput, contextDigest, sha256Of } from "./provenance";

/** What the plan and the files say about one build's inputs. */
export interface BuildFacts {
  /** Dockerfile path relative to the project, and the sha256 of its bytes. */
  dockerfile: { path: string; digest: string };
  /** Context path relative to the project, and its {@link contextDigest}. */
  context: { path: string; digest: string };
}

/** The checkout the program runs from. */
export interface SourceRevision {
  uri: string;
  revision: string;
}

/** `p` relative to `root` with `/` separators; a path outside `root` stays absolute. */
function relative(root: string, p: string): string {
  const rel = path.relative(root, p);
  return rel.startsWith("..") || path.isAbsolute(rel) ? p : rel.split(path.sep).join("/");
}

/**
 * Facts of every final build (the builds indexes point at; chain steps are attested through the
 * final build's base), by build id. Each context directory is hashed once.
 */
export function buildFacts(
  builds: readonly PlannedBuild[],
  files: FileSource,
  root: string,
): Record<string, BuildFacts> {
  const contexts = new Map<string, string>();
  const facts: Record<string, BuildFacts> = {};
  for (const b of builds) {
    if (!b.final) continue;
    let context = contexts.get(b.context);
    if (context === undefined) {
      context = contextDigest(files, b.context);
      contexts.set(b.context, context);
    }
    facts[b.id] = {
      dockerfile: {
        path: relative(root, b.dockerfile),
        digest: sha256Of(files.read(b.dockerfile)),
      },
      context: { path: relative(root, b.context), digest: context },
    };
  }
  return facts;
}

/**
 * The provenance of one pushed build: `pinnedRef` is `registry/repository@sha256:…` of the per-arch
 * image, `baseRef` the pinned base it was built from (also passed in the base build arg, as buildx
 * received it).
 */
export function provenanceFor(
  build: PlannedBuild,
  facts: BuildFacts,
  pinnedRef: string,
  baseRef: string | undefined,
  source: SourceRevision | undefined,
): ProvenanceInput {
  const at = pinnedRef.lastIndexOf("@");
  const buildArgs =
    baseRef === undefined
      ? { ...build.buildArgs }
      : { ...build.buildArgs, [build.baseArg]: baseRef };
  return {
    buildId: build.id,
    subject: { name: pinnedRef.slice(0, at), digest: pinnedRef.slice(at + 1) },
    builder: { name: build.builder, platform: build.platform },
    dockerfile: facts.dockerfile,
    context: facts.context,
    buildArgs,
    ...(build.target !== undefined ? { target: build.target } : {}),
    bases: baseRef === undefined ? [] : [{ ref: baseRef }],
    ...(source ? { source } : {}),
  };
}
