/**
 * The OCI distribution reference grammar, as far as the estate needs it: repository paths, tags,
 * digests and registry hosts. Pure functions; every error names what it was checking.
 */

/** One path component of a repository name: lowercase alphanumerics joined by `.`, `_`, `__` or `-`s. */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
/** A tag: at most 128 word characters, dots and dashes, not starting with `.` or `-`. */
const TAG = /^[\w][\w.-]{0,127}$/;
/** A sha256 digest, the only algorithm registries use in practice. */
const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** A registry host: a domain or IPv4 address with an optional port, or `[ipv6]:port`. */
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

/** Returns an error message for an invalid repository path (without registry), or undefined. */
export function repositoryError(repository: string): string | undefined {
  if (repository.length === 0) return "repository is empty";
  if (repository.length > 255) return `repository "${repository}" is longer than 255 characters`;
  if (repository !== repository.toLowerCase()) {
    return `repository "${repository}" must be lowercase`;
  }
  for (const component of repository.split("/")) {
    if (!PATH_COMPONENT.test(component)) {
      return `repository "${repository}" has an invalid path component "${component}" (allowed: a-z, 0-9, separated by ".", "_", "__" or "-")`;
    }
  }
  return undefined;
}

/** Returns an error message for an invalid tag, or undefined. */
export function tagError(tag: string): string | undefined {
  if (tag.length > 128) return `tag "${tag.slice(0, 40)}..." is longer than 128 characters`;
  if (!TAG.test(tag)) {
    return `tag "${tag}" is invalid (1-128 of [A-Za-z0-9_.-], not starting with "." or "-")`;
  }
  return undefined;
}

/** Returns an error message for an invalid sha256 digest, or undefined. */
export function digestError(digest: string): string | undefined {
  return DIGEST.test(digest) ? undefined : `digest "${digest}" is not of the form sha256:<64 hex>`;
}

/**
 * Returns an error message when `address` cannot serve as the registry part of a private reference.
 * A first path component without a `.` or `:` and other than `localhost` would be read as a Docker Hub
 * namespace, so a private name without a real host would silently mean docker.io.
 */
export function registryHostError(address: string): string | undefined {
  if (!HOST.test(address)) return `registry address "${address}" is not a host[:port]`;
  const looksLikeHost = address.includes(".") || address.includes(":") || address === "localhost";
  if (!looksLikeHost) {
    return `registry address "${address}" has no "." or ":" and is not "localhost": references under it would silently mean docker.io`;
  }
  return undefined;
}

/** A parsed image reference. */
export interface ParsedReference {
  /** Registry host, e.g. `docker.io` or `127.0.0.1:5443`. */
  registry: string;
  /** Repository path inside the registry, e.g. `library/redis`. */
  repository: string;
  tag?: string;
  digest?: string;
}

/**
 * Parses a full reference `[host/]path[:tag][@digest]`. Docker Hub short names are expanded the way
 * Docker does (`redis` → `docker.io/library/redis`). Throws with a message naming the reference.
 */
export function parseReference(ref: string): ParsedReference {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const err = digestError(digest);
    if (err) throw new Error(`reference "${ref}": ${err}`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    const err = tagError(tag);
    if (err) throw new Error(`reference "${ref}": ${err}`);
  }
  const parts = rest.split("/");
  let registry = "docker.io";
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0])) {
    registry = parts.shift() as string;
  }
  let repository = parts.join("/");
  if (registry === "docker.io" && parts.length === 1) repository = `library/${repository}`;
  const err = repositoryError(repository);
  if (err) throw new Error(`reference "${ref}": ${err}`);
  return { registry, repository, tag, digest };
}

/** Formats `registry/repository[:tag][@digest]`. */
export function formatReference(r: ParsedReference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}
