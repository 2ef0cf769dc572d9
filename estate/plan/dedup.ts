/** Planner stage: identical builds (same {@link buildKey}) become one, shared by their variants. */
import { BuildInputs } from "./identity";
import { orderVariants } from "./identity";

/** One (variant, platform, step) build of an image before dedup. */
export interface ExpandedBuild {
  variant: string;
  platform: string;
  /** True for the last step (or a build without a chain): what the variant's indexes join. */
  final: boolean;
  inputs: BuildInputs;
  key: string;
}

/** A build after dedup: one key, the variants that share it. */
export interface SharedBuild {
  key: string;
  inputs: BuildInputs;
  final: boolean;
  /** In canonical order (`default` first, then by name). */
  variants: string[];
}

/**
 * Groups expanded builds by key, in the order keys first appear (so a chain step still comes before
 * the steps built on it).
 */
export function dedupBuilds(expanded: readonly ExpandedBuild[]): SharedBuild[] {
  const groups = new Map<string, { first: ExpandedBuild; variants: string[] }>();
  for (const e of expanded) {
    const g = groups.get(e.key);
    if (g) g.variants.push(e.variant);
    else groups.set(e.key, { first: e, variants: [e.variant] });
  }
  return [...groups.values()].map(({ first, variants }) => ({
    key: first.key,
    inputs: first.inputs,
    final: first.final,
    variants: orderVariants(variants),
  }));
}
