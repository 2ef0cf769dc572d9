/** Planner stage: third-party mirrors, each pinned by digest (catalog `digest` or `mirrorSources`). */
import { MirrorDef } from "../catalog";
import { Problems } from "../problems";
import { digestError, parseReference, repositoryError } from "../reference";
import { PlanInputs } from "./inputs";
import { PushedRefs, releaseTag } from "./refs";
import { PlannedMirror } from "./types";

/** Plans every mirror in catalog order. */
export function planMirrors(
  inputs: PlanInputs,
  pushed: PushedRefs,
  problems: Problems,
): PlannedMirror[] {
  return [...inputs.mirrors.values()].map((m) => planMirror(m, inputs, pushed, problems));
}

function planMirror(
  m: MirrorDef,
  { opts, prefix }: PlanInputs,
  pushed: PushedRefs,
  problems: Problems,
): PlannedMirror {
  const where = `mirror "${m.name}"`;
  const repoErr = repositoryError(prefix + m.repository);
  if (repoErr) problems.at(where, repoErr);
  const source = pinnedSource(
    m,
    opts.mirrorSources?.[m.name],
    opts.allowUnpinnedMirrors ?? false,
    problems,
  );
  const repository = `${opts.registry}/${prefix}${m.repository}`;
  pushed.claimRepository(repository, where, false);
  const refs = m.tags.map((t) => `${repository}:${releaseTag(t, opts.release, where, problems)}`);
  refs.forEach((r, i) => {
    if (refs.indexOf(r) !== i)
      problems.at(where, `tag ${r.slice(repository.length + 1)} is listed twice`);
  });
  refs.forEach((r) => pushed.claim(r, where));
  return { name: m.name, source: source ?? m.source, repository, refs, platforms: m.platforms };
}

/**
 * The pinned upstream reference of a mirror: the stack's `mirrorSources` entry, else the catalog's
 * source at its `digest`. Undefined when there is no pin (a problem unless `allowUnpinned`).
 */
function pinnedSource(
  m: MirrorDef,
  override: string | undefined,
  allowUnpinned: boolean,
  problems: Problems,
): string | undefined {
  const where = `mirror "${m.name}"`;
  let source = override;
  if (!source && !m.digest) {
    if (!allowUnpinned)
      problems.at(
        where,
        `${m.source} is not pinned: set its digest in the catalog or mirrorSources.${m.name} in the stack config`,
      );
    return undefined;
  }
  if (!source) {
    const dErr = digestError(m.digest as string);
    if (dErr) problems.at(where, dErr);
    const [name, sourceDigest] = m.source.split("@");
    // Two pins that disagree: which one the user meant cannot be guessed, so neither is used.
    if (sourceDigest !== undefined && sourceDigest !== m.digest)
      problems.at(
        where,
        `source ${m.source} is pinned to ${sourceDigest} but digest is ${m.digest}: keep one pin`,
      );
    source = `${name}@${m.digest}`;
  }
  try {
    if (!parseReference(source).digest && !allowUnpinned) {
      problems.at(where, `source ${source} is not pinned by digest`);
    }
  } catch (err) {
    problems.at(where, (err as Error).message);
  }
  return source;
}
