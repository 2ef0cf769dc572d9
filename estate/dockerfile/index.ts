/** Dockerfiles read the way BuildKit reads them: see `parse.ts`, `expand.ts` and `resolve.ts`. */
export { parseDockerfile, splitWords } from "./parse";
export type { Instruction, ParsedDockerfile } from "./parse";
export { expandWord, ExpandError, namesIn } from "./expand";
export type { Env } from "./expand";
export { resolveDockerfile, reachingStages, argUse } from "./resolve";
export type {
  ContextSource,
  ExternalReference,
  ResolveOptions,
  ResolvedDockerfile,
  ResolvedStage,
} from "./resolve";
