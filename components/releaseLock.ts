import * as pulumi from "@pulumi/pulumi";

/**
 * A source pinned by a real digest (what an update passes), as opposed to a preview's stand-in for a
 * build that has not run yet (the all-zero digest, see ArchImage).
 */
const PINNED = /@sha256:(?!0{64}$)[a-f0-9]{64}$/;

interface LockInputs {
  tag: string;
  sources: string[];
}

/** Why moving `tag` from `olds` to `news` is refused, or undefined when it is allowed. */
export function releaseMoveError(tag: string, olds: string[], news: string[]): string | undefined {
  if (JSON.stringify(olds) === JSON.stringify(news)) return undefined;
  return (
    `release tag ${tag} is immutable on this stack: it was published from ${olds.join(", ")} and would now ` +
    `point at ${news.join(", ")}. Publish a new release (config release) instead, or set protectReleases: false ` +
    `on a stack where release tags may move.`
  );
}

/**
 * The dynamic provider. It only records the sources a release tag was published from; any later
 * change of them is refused: at preview time when both lists are pinned by digest, otherwise (a
 * pending build's digest is not known yet) at update time, before the Index that depends on the lock
 * can move the tag. Re-running with the same digests is an idempotent no-op.
 */
export const releaseLockProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: Partial<LockInputs>, news: LockInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const known = (s?: string[]) =>
      Array.isArray(s) && s.length > 0 && s.every((x) => PINNED.test(x));
    if (olds.sources && known(olds.sources) && known(news.sources)) {
      const err = releaseMoveError(news.tag, olds.sources, news.sources);
      if (err) failures.push({ property: "sources", reason: err });
    }
    return { inputs: news, failures };
  },

  async create(inputs: LockInputs) {
    return { id: inputs.tag, outs: inputs };
  },

  async diff(_id: string, olds: LockInputs, news: LockInputs) {
    return {
      changes:
        JSON.stringify(olds.sources) !== JSON.stringify(news.sources) || olds.tag !== news.tag,
      replaces: olds.tag !== news.tag ? ["tag"] : [],
    };
  },

  async update(_id: string, olds: LockInputs, news: LockInputs) {
    const err = releaseMoveError(news.tag, olds.sources, news.sources);
    if (err) throw new Error(err);
    return { outs: news };
  },
};

/** Arguments of {@link ReleaseLock}. */
export interface ReleaseLockArgs {
  /** The release tag, `registry/repository:tag`. */
  tag: pulumi.Input<string>;
  /** The per-arch sources its index is made from. */
  sources: pulumi.Input<pulumi.Input<string>[]>;
}

/**
 * Keeps a published release tag immutable: the tag's Index depends on this lock, which refuses any
 * change of the index's sources once the release was published.
 */
export class ReleaseLock extends pulumi.dynamic.Resource {
  constructor(name: string, args: ReleaseLockArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      releaseLockProvider,
      `${name}-release-lock`,
      { tag: args.tag, sources: args.sources },
      opts,
    );
  }
}
