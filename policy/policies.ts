/**
 * The policies of the `dayu-estate-policies` pack, one exported constant each, for the
 * `docker-build:index:Image` and `docker-build:index:Index` resources the estate declares. Validation
 * is pure: it reads the resource's inputs and reports; nothing here starts a server (that is
 * `index.ts`'s job), so tests import these constants directly.
 *
 * Every policy tolerates unknown values (preview): a check whose input is not known yet is skipped,
 * the checks whose inputs are known still run (see values.ts).
 */
import * as dockerBuild from "@pulumi/docker-build";
import { ReportViolation, ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { Unwrap } from "@pulumi/pulumi";
import {
  PINNED_BY_DIGEST,
  UNKNOWN,
  archOf,
  elements,
  hasArchSegment,
  isPresent,
  knownStrings,
  looksLikeRegistryRef,
  read,
  show,
  tagOf,
} from "./values";
import {
  NOT_SECRET_LABEL,
  notSecretFromLabel,
  secretNameReason,
  secretValueReason,
} from "../estate/secrets";

/** The secret rule is the planner's (one module, so the pack and the plan never disagree). */
export { NOT_SECRET_LABEL, PRIVATE_KEY_BLOCK, secretNameReason } from "../estate/secrets";
/** The build arg the estate passes the pinned base in (the planner's default base arg). */
export const BASE_ARG = "BASE_IMAGE";

/** An Image's inputs as CrossGuard passes them (plain values, as `validateResourceOfType` types them). */
type ImageProps = Unwrap<dockerBuild.ImageArgs>;
/** An Index's inputs as CrossGuard passes them. */
type IndexProps = Unwrap<dockerBuild.IndexArgs>;

/** The one platform an Image builds, or undefined when it is not exactly one known platform. */
function singlePlatform(image: ImageProps): string | undefined {
  const platforms = read(() => image.platforms);
  if (platforms === UNKNOWN || platforms?.length !== 1) return undefined;
  const p = read(() => platforms[0]);
  return typeof p === "string" && archOf(p) !== "" ? p : undefined;
}

/** Each Image is one platform: the estate gives every arch its own builder and never emulates. */
export const imageSinglePlatform: ResourceValidationPolicy = {
  name: "image-single-platform",
  description:
    "An estate Image builds exactly one platform, on that platform's builder (a multi-platform build on one builder means emulation).",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(dockerBuild.Image, (image, _args, reportViolation) => {
    const platforms = read(() => image.platforms);
    if (platforms === UNKNOWN) return;
    const list = elements(platforms);
    if (list.length !== 1) {
      reportViolation(
        `Image must build exactly one platform (one builder per arch, no emulation); it builds ${list.length}: [${list.map(show).join(", ")}]`,
      );
    }
  }),
};

/** Each Image names its builder, so the build lands on the estate builder of its platform. */
export const imageNamedBuilder: ResourceValidationPolicy = {
  name: "image-named-builder",
  description:
    "An estate Image names its builder (builder.name), so docker-build never creates a docker-container builder pulling moby/buildkit.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(dockerBuild.Image, (image, _args, reportViolation) => {
    const name = read(() => image.builder?.name);
    if (!isPresent(name)) {
      reportViolation(
        "Image must set builder.name to the estate builder of its platform (without it docker-build creates a docker-container builder that pulls moby/buildkit)",
      );
    }
  }),
};

/** Each Image is pushed under one per-arch tag: the indexes are assembled from those tags. */
export const imagePushesArchTag: ResourceValidationPolicy = {
  name: "image-pushes-arch-tag",
  description:
    "An estate Image pushes exactly one tag, its per-arch tag ending in the arch of its platform (-amd64, -arm64, -arm-v7).",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(dockerBuild.Image, (image, _args, reportViolation) => {
    const push = read(() => image.push);
    if (push !== UNKNOWN && push !== true) {
      reportViolation(
        `Image must set push: true (an estate image is published under its per-arch tag); push is ${show(push)}`,
      );
    }
    const tags = read(() => image.tags);
    if (tags === UNKNOWN) return;
    const list = elements(tags);
    if (list.length !== 1) {
      reportViolation(
        `Image must push exactly one tag, its per-arch tag (<repository>:<tag>-<arch>); it has ${list.length}: [${list.map(show).join(", ")}]`,
      );
      return;
    }
    const tag = list[0];
    const platform = singlePlatform(image);
    // Without exactly one platform there is no arch to compare with: image-single-platform reports it.
    if (typeof tag !== "string" || platform === undefined) return;
    const arch = archOf(platform);
    if (!(tagOf(tag) ?? "").endsWith(`-${arch}`)) {
      reportViolation(
        `Image tag ${tag} must end in -${arch}, the arch of its platform ${platform} (<repository>:<tag>-${arch})`,
      );
    }
  }),
};

/**
 * Each Image has a registry cache of its own arch.
 *
 * Advisory, not mandatory: a missing or shared cache costs build time but never publishes a wrong
 * image (BuildKit cache keys include the platform; a shared ref is only overwritten). Blocking an
 * urgent release over cache settings would be out of proportion; the warning still shows in every
 * preview and update.
 */
export const imageCachePerArch: ResourceValidationPolicy = {
  name: "image-cache-per-arch",
  description:
    "An estate Image reads and writes one registry cache ref of its own arch (a cache shared by two platforms keeps only the last one).",
  enforcementLevel: "advisory",
  validateResource: validateResourceOfType(dockerBuild.Image, (image, _args, reportViolation) => {
    const from = read(() => image.cacheFrom);
    const to = read(() => image.cacheTo);
    if (from === UNKNOWN || to === UNKNOWN) return;
    const fromRefs = elements(from).map((c) =>
      c === UNKNOWN ? UNKNOWN : read(() => c.registry?.ref),
    );
    const toRefs = elements(to).map((c) => (c === UNKNOWN ? UNKNOWN : read(() => c.registry?.ref)));
    const missing = [
      ...(fromRefs.some(isPresent) ? [] : ["cacheFrom"]),
      ...(toRefs.some(isPresent) ? [] : ["cacheTo"]),
    ];
    if (missing.length > 0) {
      reportViolation(
        `Image must read and write a registry cache of its own arch: set a registry ref in cacheFrom and cacheTo (missing in ${missing.join(" and ")})`,
      );
      return;
    }
    const knownFrom = [...new Set(knownStrings(fromRefs))].sort();
    const knownTo = [...new Set(knownStrings(toRefs))].sort();
    const allKnown = knownFrom.length === fromRefs.length && knownTo.length === toRefs.length;
    if (allKnown && knownFrom.join("\n") !== knownTo.join("\n")) {
      reportViolation(
        `Image cacheFrom and cacheTo must name the same registry cache ref; cacheFrom is [${knownFrom.join(", ")}], cacheTo is [${knownTo.join(", ")}]`,
      );
    }
    const platform = singlePlatform(image);
    if (platform === undefined) return;
    const arch = archOf(platform);
    for (const ref of new Set([...knownFrom, ...knownTo])) {
      if (!hasArchSegment(ref, arch)) {
        reportViolation(
          `Image cache ref ${ref} must contain the arch ${arch} of its platform ${platform} (e.g. <repository>:buildcache-${arch}): a cache shared by two platforms keeps only the last one`,
        );
      }
    }
  }),
};

/**
 * No credential travels as a build arg: build args are visible in image history and in state. The
 * rule is `estate/secrets.ts`'s; names the catalog opts out (`notSecret`) reach the pack in the
 * Image's {@link NOT_SECRET_LABEL} label and pass the name rule only, never the value rule.
 */
export const noSecretBuildArgs: ResourceValidationPolicy = {
  name: "no-secret-build-args",
  description:
    "No credential in build args (they land in image history and in state): credential-like names (by word: GITHUB_TOKEN, NPM_PASS, SSH_KEY), URLs with a password, private key blocks and known token formats are refused.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(dockerBuild.Image, (image, _args, reportViolation) => {
    const buildArgs = read(() => image.buildArgs);
    if (buildArgs === UNKNOWN || !buildArgs) return;
    const label = read(() => image.labels?.[NOT_SECRET_LABEL]);
    const notSecret = typeof label === "string" ? notSecretFromLabel(label) : [];
    for (const name of Object.keys(buildArgs)) {
      if (!notSecret.includes(name) && secretNameReason(name)) {
        reportViolation(
          `build arg ${name} looks like a credential: pass it as a BuildKit secret (Image secrets), never as a build arg`,
        );
        continue;
      }
      const value = read(() => buildArgs[name]);
      // The value is never quoted in the message: it is the secret.
      const reason = typeof value === "string" ? secretValueReason(value) : undefined;
      if (reason) {
        reportViolation(
          `build arg ${name} ${reason}: pass it as a BuildKit secret (Image secrets), never as a build arg`,
        );
      }
    }
  }),
};

/** Bases are pinned by digest, so a base change changes the dependent's inputs and rebuilds it. */
export const basePinnedByDigest: ResourceValidationPolicy = {
  name: "base-pinned-by-digest",
  description:
    "The base image (build arg BASE_IMAGE, or any build arg holding a registry image reference) is pinned by digest (@sha256:<64 hex>).",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(dockerBuild.Image, (image, _args, reportViolation) => {
    const buildArgs = read(() => image.buildArgs);
    if (buildArgs === UNKNOWN || !buildArgs) return;
    for (const name of Object.keys(buildArgs)) {
      const value = read(() => buildArgs[name]);
      // Unknown during preview when the base is built in this same update: its digest comes later.
      if (typeof value !== "string") continue;
      if (name !== BASE_ARG && !looksLikeRegistryRef(value)) continue;
      if (!PINNED_BY_DIGEST.test(value)) {
        reportViolation(
          `build arg ${name} must pin its image by digest (<repository>@sha256:<64 hex>); it is "${value}"`,
        );
      }
    }
  }),
};

/** Each Index is pushed and points at exactly the per-arch digests that were built. */
export const indexSourcesByDigest: ResourceValidationPolicy = {
  name: "index-sources-by-digest",
  description:
    "An estate Index is pushed and every one of its sources is pinned by digest (@sha256:<64 hex>).",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(dockerBuild.Index, (index, _args, reportViolation) => {
    const push = read(() => index.push);
    if (push !== UNKNOWN && push !== true) {
      reportViolation(`Index must set push: true (it publishes the tag); push is ${show(push)}`);
    }
    const sources = read(() => index.sources);
    if (sources === UNKNOWN) return;
    const list = elements(sources);
    if (list.length === 0) {
      reportViolation("Index must list at least one source, each pinned by digest");
    }
    for (const source of knownStrings(list)) {
      if (!PINNED_BY_DIGEST.test(source)) {
        reportViolation(
          `Index source ${source} must be pinned by digest (<repository>[:<tag>]@sha256:<64 hex>)`,
        );
      }
    }
  }),
};

function missingCredentials(username: unknown, password: unknown): string[] {
  return [
    ...(isPresent(username) ? [] : ["username"]),
    ...(isPresent(password) ? [] : ["password"]),
  ];
}

function validateImageAuth(image: ImageProps, reportViolation: ReportViolation): void {
  const registries = read(() => image.registries);
  if (registries === UNKNOWN) return;
  const list = elements(registries);
  if (list.length === 0) {
    reportViolation(
      "Image must declare registries with a username and a password for the registry it pushes to",
    );
  }
  list.forEach((entry, i) => {
    if (entry === UNKNOWN) return;
    // The address is not quoted: the estate passes the whole registry entry as a secret.
    const missing = missingCredentials(
      read(() => entry.username),
      read(() => entry.password),
    );
    if (missing.length > 0) {
      reportViolation(
        `Image registries[${i}] must set a username and a password (missing: ${missing.join(", ")})`,
      );
    }
  });
}

function validateIndexAuth(index: IndexProps, reportViolation: ReportViolation): void {
  const registry = read(() => index.registry);
  if (registry === UNKNOWN) return;
  const missing = registry
    ? missingCredentials(
        read(() => registry.username),
        read(() => registry.password),
      )
    : ["username", "password"];
  if (missing.length > 0) {
    reportViolation(
      `Index must set registry with a username and a password (missing: ${missing.join(", ")})`,
    );
  }
}

/**
 * Every push and pull of the estate registry is authenticated.
 *
 * Mandatory: the estate's registry always has auth except an anonymous local dev registry (config
 * `registry.username` empty); such a stack runs the pack with this policy set to advisory through
 * `--policy-pack-config` (docs/policy.md) rather than weakening it for staging and prod.
 */
export const registryAuthRequired: ResourceValidationPolicy = {
  name: "registry-auth-required",
  description:
    "Every Image registries entry and every Index registry carries a username and a password (presence only: passwords are secrets).",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const image = args.asType(dockerBuild.Image);
    if (image) return validateImageAuth(image, reportViolation);
    const index = args.asType(dockerBuild.Index);
    if (index) return validateIndexAuth(index, reportViolation);
    return args.notApplicable("Policy only applies to docker-build Image and Index resources");
  },
};

/** No Index (a mirror above all) republishes whatever a floating `latest` points at that day. */
export const noLatestSource: ResourceValidationPolicy = {
  name: "no-latest-source",
  description:
    "An Index source (a mirror's upstream above all) never floats on :latest: a source tagged latest, or untagged, carries a digest.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(dockerBuild.Index, (index, _args, reportViolation) => {
    const sources = read(() => index.sources);
    if (sources === UNKNOWN) return;
    for (const source of knownStrings(elements(sources))) {
      const tag = tagOf(source);
      if ((tag === undefined || tag === "latest") && !PINNED_BY_DIGEST.test(source)) {
        reportViolation(
          `Index source ${source} must not float on :latest: pin it by digest (<repository>[:<tag>]@sha256:<64 hex>)`,
        );
      }
    }
  }),
};

/** Every policy of the pack, in the order the pack lists them. */
export const policies: ResourceValidationPolicy[] = [
  imageSinglePlatform,
  imageNamedBuilder,
  imagePushesArchTag,
  imageCachePerArch,
  noSecretBuildArgs,
  basePinnedByDigest,
  indexSourcesByDigest,
  registryAuthRequired,
  noLatestSource,
];
