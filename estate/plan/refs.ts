/** Tags and pushed references: `${release}` substitution and the one-owner-per-reference rule. */
import { Problems } from "../problems";
import { tagError } from "../reference";

/**
 * `tag` with `${release}` replaced by `release`, checked against the tag grammar; problems are
 * reported at `where` (e.g. `image "x"`).
 */
export function releaseTag(
  tag: string,
  release: string,
  where: string,
  problems: Problems,
): string {
  if (tag.includes("${release}") && !release) {
    problems.at(where, `tag "${tag}" uses \${release} but the stack sets no release`);
  }
  const out = tag.split("${release}").join(release);
  const err = tagError(out);
  if (err) problems.at(where, err);
  return out;
}

/** Every (repository, tag) the plan pushes and who pushes it: two owners of one reference is refused. */
export class PushedRefs {
  private readonly owners = new Map<string, string>();

  constructor(private readonly problems: Problems) {}

  /** Records that `owner` (e.g. `image "x"`) pushes `ref`. */
  claim(ref: string, owner: string): void {
    const prev = this.owners.get(ref);
    if (prev && prev !== owner) this.problems.add(`${ref} is pushed by both ${prev} and ${owner}`);
    this.owners.set(ref, owner);
  }
}
