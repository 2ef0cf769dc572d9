/**
 * Pure helpers the policies share: reading CrossGuard props that may be unknown, and the few facts
 * about image references and platforms the policies judge by.
 *
 * During `pulumi preview`, an input computed from another resource's output (a dependent's
 * `BASE_IMAGE`, an index's per-arch sources) is unknown. The engine sends a sentinel, and
 * @pulumi/policy's proxy throws `UnknownValueError` when a policy reads it; the server would then
 * downgrade the whole policy to an advisory "can't run during preview" for that resource. Reading
 * through {@link read} instead lets a policy skip exactly the checks an unknown value decides and
 * still run the others.
 */
import { UnknownValueError } from "@pulumi/policy";

/** Stands for a value that is not known yet (preview). */
export const UNKNOWN: unique symbol = Symbol("unknown");
export type Maybe<T> = T | typeof UNKNOWN;

/** Runs `get` (a property read on CrossGuard props); {@link UNKNOWN} when it touched an unknown value. */
export function read<T>(get: () => T): Maybe<T> {
  try {
    return get();
  } catch (e) {
    if (e instanceof UnknownValueError) return UNKNOWN;
    throw e;
  }
}

/**
 * The elements of a props array, each read on its own: iterating the proxied array with `for...of`
 * or `map` would throw at the first unknown element.
 */
export function elements<T>(list: readonly T[] | undefined | null): Maybe<T>[] {
  const out: Maybe<T>[] = [];
  for (let i = 0; i < (list?.length ?? 0); i++) out.push(read(() => (list as readonly T[])[i]));
  return out;
}

/** The known string values of a list (unknowns and non-strings dropped). */
export function knownStrings(values: readonly unknown[]): string[] {
  return values.filter((v): v is string => typeof v === "string");
}

/** True for a credential that is set: a non-empty value, or one not known yet (a secret in preview). */
export function isPresent(value: Maybe<unknown>): boolean {
  return value === UNKNOWN || (value !== undefined && value !== null && value !== "");
}

/** A reference pinned by content: `name[:tag]@sha256:<64 hex>`. */
export const PINNED_BY_DIGEST = /@sha256:[0-9a-f]{64}$/;

const HOST = String.raw`(?:(?:localhost|[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+)(?::\d+)?|[a-zA-Z0-9-]+:\d+)`;
const COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`;
const TAG = String.raw`[\w][\w.-]{0,127}`;
const REGISTRY_REF = new RegExp(
  String.raw`^${HOST}/${COMPONENT}(?:/${COMPONENT})*(?::${TAG})?(?:@[a-z0-9]+:[a-fA-F0-9]+)?$`,
);

/**
 * True when `value` reads as an image reference under an explicit registry host
 * (`host.domain[:port]/repo[:tag][@digest]`, `localhost/...`, `host:port/...`). Plain words, numbers,
 * URLs with a scheme and Docker Hub short names (`redis:7`) are not.
 */
export function looksLikeRegistryRef(value: string): boolean {
  return REGISTRY_REF.test(value);
}

/** The tag of a reference, without its digest; undefined when it has none (meaning `latest`). */
export function tagOf(ref: string): string | undefined {
  const name = ref.split("@")[0];
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/") ? name.slice(colon + 1) : undefined;
}

/**
 * The short arch label of a platform, as the estate writes it in tags and cache refs:
 * `linux/amd64` → `amd64`, `linux/arm64` → `arm64`, `linux/arm/v7` → `arm-v7`.
 * Kept here rather than imported from the planner on purpose: the pack is a second opinion on what
 * the program declares, so a planner bug must not be mirrored by the check meant to catch it.
 */
export function archOf(platform: string): string {
  return platform.split("/").slice(1).join("-");
}

/** True when `ref` holds `arch` as a whole segment (between `/ : . _ -` or the ends). */
export function hasArchSegment(ref: string, arch: string): boolean {
  const escaped = arch.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?:^|[/:._-])${escaped}(?:$|[/:._-])`).test(ref);
}

/** Renders a value for a violation message: unknowns as `<unknown>`, strings as they are. */
export function show(value: Maybe<unknown>): string {
  if (value === UNKNOWN) return "<unknown>";
  return typeof value === "string" ? value : JSON.stringify(value);
}
