/**
 * Platforms as one spelling: the catalog, the builders (stack settings) and Atom args files all pass
 * what a person wrote through {@link normalizePlatform}, so `linux/aarch64` in one place and
 * `linux/arm64` in another name the same builds, builder and args file. Pure.
 *
 * Decisions (containerd's normalisation, which buildx and BuildKit apply, minus its guesses):
 * - `aarch64` → `arm64`, and arm64's only variant `v8` is dropped (`linux/arm64/v8` → `linux/arm64`);
 * - `x86_64`, `x86-64` → `amd64`; `i386`, `i686` → `386`; `armhf` → `arm/v7`, `armel` → `arm/v6`;
 * - `arm` without a variant is refused: containerd would guess v7, and a Jetson-era estate should say it;
 * - a bare architecture (`x86_64`, `amd64`) is refused with a hint (`write linux/amd64`): buildx reads
 *   a single word as an OS, so it would fail late with a message about the OS;
 * - an unknown OS or architecture (a typo such as `linux/amr64`) is refused, naming the known ones.
 */

/** Operating systems the estate builds for. */
export const KNOWN_OS = ["linux", "windows"] as const;

/** Architecture spelling → canonical `arch[/variant]`. */
const ARCH_ALIASES: Readonly<Record<string, string>> = {
  amd64: "amd64",
  x86_64: "amd64",
  "x86-64": "amd64",
  arm64: "arm64",
  aarch64: "arm64",
  "386": "386",
  i386: "386",
  i686: "386",
  armhf: "arm/v7",
  armel: "arm/v6",
  ppc64le: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  mips64le: "mips64le",
  loong64: "loong64",
};
const ARM_VARIANTS = ["v5", "v6", "v7"];
/** For messages: every canonical architecture, and the other spellings. */
const KNOWN_ARCHES = [
  ...new Set([...Object.values(ARCH_ALIASES), ...ARM_VARIANTS.map((v) => `arm/${v}`)]),
].join(", ");
const ALIASES = Object.keys(ARCH_ALIASES)
  .filter((k) => ARCH_ALIASES[k] !== k)
  .join(", ");

/** The result of {@link normalizePlatform}: the canonical platform, or why it is refused. */
export type PlatformResult = { platform: string } | { error: string };

/** Canonical `os/arch[/variant]` of `input`, or an error message quoting it. */
export function normalizePlatform(input: string): PlatformResult {
  const parts = input.trim().toLowerCase().split("/");
  if (parts.some((p) => p === "")) return { error: `platform "${input}" has an empty part` };
  if (parts.length === 1) {
    const arch = archPart(parts[0], undefined);
    return {
      error:
        "platform" in arch
          ? `platform "${input}" has no OS: write linux/${arch.platform}`
          : `platform "${input}" is not os/arch[/variant] (e.g. linux/amd64, linux/arm64)`,
    };
  }
  if (parts.length > 3) return { error: `platform "${input}" has more than os/arch/variant` };
  const [os, arch, variant] = parts;
  if (!(KNOWN_OS as readonly string[]).includes(os)) {
    return { error: `platform "${input}": unknown OS "${os}" (known: ${KNOWN_OS.join(", ")})` };
  }
  const a = archPart(arch, variant);
  return "error" in a
    ? { error: `platform "${input}": ${a.error}` }
    : { platform: `${os}/${a.platform}` };
}

/** The canonical architecture of an Atom args file's arch part (`aarch64`, `arm64`, `arm-v7`). */
export function normalizeArch(arch: string): PlatformResult {
  const [a, v, ...rest] = arch.toLowerCase().split("-");
  if (rest.length > 0 || a === "") return { error: `"${arch}" is not an architecture` };
  const r = archPart(a, v);
  return "error" in r ? { error: r.error } : { platform: `linux/${r.platform}` };
}

function archPart(arch: string, variant: string | undefined): PlatformResult {
  const canonical = ARCH_ALIASES[arch];
  if (arch === "arm") {
    if (variant && ARM_VARIANTS.includes(variant)) return { platform: `arm/${variant}` };
    return {
      error: `architecture arm needs a variant (${ARM_VARIANTS.map((v) => `arm/${v}`).join(", ")})`,
    };
  }
  if (canonical === undefined) {
    return {
      error: `unknown architecture "${arch}" (known: ${KNOWN_ARCHES}; aliases: ${ALIASES})`,
    };
  }
  if (variant === undefined) return { platform: canonical };
  if (canonical === "arm64" && variant === "v8") return { platform: "arm64" };
  if (canonical.includes("/")) {
    return { error: `architecture ${arch} already implies ${canonical}; drop "/${variant}"` };
  }
  return { error: `architecture ${canonical} has no variant "${variant}"` };
}

/** buildx's own rule for builder names (docker/buildx store/util.go `ValidateName`). */
const BUILDER_NAME = /^[a-zA-Z][a-zA-Z0-9._-]*$/;

/**
 * Why buildx would refuse `name` as a builder name, or undefined. buildx also lowercases names, so
 * two builders differing only in case are one builder: callers check that with
 * {@link builderNameKey}.
 */
export function builderNameError(name: string): string | undefined {
  if (BUILDER_NAME.test(name)) return undefined;
  return `builder name "${name}" is not one buildx accepts (a letter, then letters, digits, ".", "_" or "-")`;
}

/** The name buildx stores a builder under (it lowercases). */
export function builderNameKey(name: string): string {
  return name.toLowerCase();
}
