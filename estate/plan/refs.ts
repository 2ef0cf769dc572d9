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

/**
 * Every (repository, tag) the plan pushes and who pushes it, and which image owns each repository.
 * A reference is owned by one thing: an image's index tag, a build's per-arch or cache tag, or a
 * mirror's tag. So a declared tag equal to a generated one (`v1-amd64`, `buildcache-default-amd64`)
 * is refused here, before the registry or Pulumi's URN check would meet it.
 */
export class PushedRefs {
  private readonly owners = new Map<string, string>();
  private readonly repositories = new Map<string, string>();

  constructor(private readonly problems: Problems) {}

  /**
   * Records that `owner` (e.g. `image "x"`) pushes `ref`, as `role` (e.g. `per-arch tag of build
   * x/amd64`) when the owner pushes several kinds. The same owner and role twice is not reported
   * here: the stage that made the list reports its duplicates with more to say.
   */
  claim(ref: string, owner: string, role?: string): void {
    const label = role ? `${owner} (${role})` : owner;
    const prev = this.owners.get(ref);
    if (prev !== undefined && prev !== label)
      this.problems.add(`${ref} is pushed by both ${prev} and ${label}`);
    if (prev === undefined) this.owners.set(ref, label);
  }

  /**
   * Records that `owner` pushes into `repository`. An image owns its repository alone: its
   * generated tags (`<tag>-<arch>`, `buildcache-<variant>-<arch>`) would collide with another
   * image's. Mirrors (`image` false) may share one: they push only their declared tags.
   */
  claimRepository(repository: string, owner: string, image: boolean): void {
    const key = `${image ? "i" : "m"}:${repository}`;
    const prevImage = this.repositories.get(`i:${repository}`);
    const prevMirror = this.repositories.get(`m:${repository}`);
    const prev = prevImage ?? (image ? prevMirror : undefined);
    if (prev !== undefined && prev !== owner)
      this.problems.add(
        `${prev} and ${owner} both push to repository ${repository}: give each image its own repository (their generated per-arch and cache tags would collide)`,
      );
    if (!this.repositories.has(key)) this.repositories.set(key, owner);
  }
}
