/**
 * SBOMs, attestations and signatures with syft and cosign, run through an injectable runner so that
 * the argument lists and the parsing are tested without the tools.
 *
 * Offline by construction (checked against cosign v3.1.3 and syft v1.57.1, see the supply-chain notes
 * in docs): cosign never talks to Rekor, Fulcio or the TUF mirror (`--tlog-upload=false`,
 * `--use-signing-config=false` when signing; `--insecure-ignore-tlog=true` when verifying with a
 * key), syft never checks for updates. Secrets never appear on a command line: the private key and its
 * password go in the child's environment (`--key env://COSIGN_PRIVATE_KEY`, `COSIGN_PASSWORD`), the
 * registry credentials in a Docker config directory (`DOCKER_CONFIG`), documents on standard input.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SLSA_PROVENANCE_V1 } from "./provenance";

/** One tool run. */
export interface ToolRun {
  cmd: string;
  args: string[];
  /** Added to the parent's environment. Where secrets go. */
  env?: Record<string, string>;
  /** Written to standard input. */
  stdin?: string;
  timeoutMs: number;
}

/** Runs a tool; resolves with its output, rejects naming the tool with its stderr. Injectable. */
export type ToolRunner = (run: ToolRun) => Promise<{ stdout: string; stderr: string }>;

/** Runs the tool for real with `execFile` (no shell). */
export const execToolRunner: ToolRunner = (run) =>
  new Promise((resolve, reject) => {
    const child = execFile(
      run.cmd,
      run.args,
      { timeout: run.timeoutMs, maxBuffer: 64 << 20, env: { ...process.env, ...run.env } },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${run.cmd} ${run.args[0]}: ${(stderr || err.message).trim()}`));
        else resolve({ stdout, stderr });
      },
    );
    if (run.stdin !== undefined) child.stdin?.end(run.stdin);
  });

/** Where the tools are and how they reach the registry. */
export interface SupplyChainTools {
  /** Path of cosign. Default `cosign` (from PATH). */
  cosign?: string;
  /** Path of syft. Default `syft`. */
  syft?: string;
  /** Directory with a Docker `config.json` holding the registry credentials. Default: the caller's. */
  dockerConfig?: string;
  /** PEM file of the registry's CA, when it is not in the system store. */
  caFile?: string;
  /** Plain HTTP to the registry (dev only). Default false. */
  insecure?: boolean;
  /**
   * How cosign stores signatures and attestations. `bundle` (cosign v3's default): a Sigstore bundle
   * attached through the OCI referrers API, or, where the registry has none (distribution 2.8 and
   * v3.1.2), under the fallback tag `sha256-<hex>` (an index of the referrers). `legacy`: the classic
   * tags `sha256-<hex>.sig` / `.att` (deprecated by cosign v3). Verification finds both. Default
   * `bundle`.
   */
  format?: "bundle" | "legacy";
  /** Per-run timeout. Default 5 minutes (syft unpacks every layer). */
  timeoutMs?: number;
}

/** The cosign key pair (secrets). */
export interface SigningKey {
  /** PEM of the encrypted private key (`cosign generate-key-pair`). */
  privateKey: string;
  /** Its password. */
  password: string;
  /** PEM of the public key. */
  publicKey: string;
}

/** SBOM formats syft writes and cosign knows as predicate types. */
export type SbomFormat = "spdx-json" | "cyclonedx-json";

/** cosign's `--type` for each document we attest. */
export const PREDICATE_TYPES = {
  "spdx-json": "spdxjson",
  "cyclonedx-json": "cyclonedx",
  provenance: "slsaprovenance1",
} as const;

/** The predicate type URIs those `--type`s put in the statement. */
export const PREDICATE_TYPE_URIS: Record<keyof typeof PREDICATE_TYPES, string> = {
  "spdx-json": "https://spdx.dev/Document",
  "cyclonedx-json": "https://cyclonedx.org/bom",
  provenance: SLSA_PROVENANCE_V1,
};

const DEFAULT_TIMEOUT_MS = 300_000;
const DIGEST_REF = /^[^@\s]+@sha256:[0-9a-f]{64}$/;

/** Refuses a reference that is not pinned by digest: we attest and sign digests, never tags. */
export function requireDigestRef(ref: string): string {
  if (!DIGEST_REF.test(ref)) throw new Error(`${ref} is not a reference by digest (repo@sha256:…)`);
  return ref;
}

/** Environment shared by both tools: registry credentials and syft's update check off. */
export function toolEnv(tools: SupplyChainTools): Record<string, string> {
  const env: Record<string, string> = { SYFT_CHECK_FOR_APP_UPDATE: "false" };
  if (tools.dockerConfig) env.DOCKER_CONFIG = tools.dockerConfig;
  if (tools.insecure) env.SYFT_REGISTRY_INSECURE_USE_HTTP = "true";
  if (tools.caFile) env.SYFT_REGISTRY_CA_CERT = tools.caFile;
  return env;
}

/** The key pair in the environment, where cosign reads `env://` key references. */
export function keyEnv(key: SigningKey): Record<string, string> {
  return {
    COSIGN_PRIVATE_KEY: key.privateKey,
    COSIGN_PASSWORD: key.password,
    COSIGN_PUBLIC_KEY: key.publicKey,
  };
}

/** Registry flags cosign needs (no credentials: those come from DOCKER_CONFIG). */
export function cosignRegistryArgs(tools: SupplyChainTools): string[] {
  const args: string[] = [];
  if (tools.insecure) args.push("--allow-http-registry=true", "--allow-insecure-registry=true");
  if (tools.caFile) args.push(`--registry-cacert=${tools.caFile}`);
  return args;
}

/** `syft scan registry:<ref> -o <format>`: the SBOM of the pushed image, read from the registry. */
export function syftArgs(ref: string, format: SbomFormat): string[] {
  return ["scan", `registry:${requireDigestRef(ref)}`, "-o", format, "-q"];
}

/** Signing flags that keep cosign v3 offline with a key pair. */
const OFFLINE_SIGNING = [
  "--key=env://COSIGN_PRIVATE_KEY",
  "--tlog-upload=false",
  "--use-signing-config=false",
  "--yes",
];
/** Verifying flags for a key pair without a transparency log. */
const OFFLINE_VERIFY = ["--key=env://COSIGN_PUBLIC_KEY", "--insecure-ignore-tlog=true"];

/** `cosign attest`: the document comes on standard input (`--predicate -`). */
export function cosignAttestArgs(
  ref: string,
  predicateType: string,
  tools: SupplyChainTools,
): string[] {
  return [
    "attest",
    ...OFFLINE_SIGNING,
    `--type=${predicateType}`,
    "--predicate=-",
    ...formatArgs(tools),
    ...cosignRegistryArgs(tools),
    requireDigestRef(ref),
  ];
}

/** `cosign sign` of one digest (an index: not `--recursive`, the children carry attestations). */
export function cosignSignArgs(ref: string, tools: SupplyChainTools): string[] {
  return [
    "sign",
    ...OFFLINE_SIGNING,
    ...formatArgs(tools),
    ...cosignRegistryArgs(tools),
    requireDigestRef(ref),
  ];
}

/** `cosign verify` (signatures) or `cosign verify-attestation --type …`, JSON on stdout. */
export function cosignVerifyArgs(
  ref: string,
  tools: SupplyChainTools,
  attestationType?: string,
): string[] {
  return [
    attestationType ? "verify-attestation" : "verify",
    ...OFFLINE_VERIFY,
    ...(attestationType ? [`--type=${attestationType}`] : []),
    ...cosignRegistryArgs(tools),
    "--output=json",
    requireDigestRef(ref),
  ];
}

function formatArgs(tools: SupplyChainTools): string[] {
  return (tools.format ?? "bundle") === "legacy" ? ["--new-bundle-format=false"] : [];
}

/** What an SBOM says about itself. */
export interface SbomSummary {
  format: SbomFormat;
  packages: number;
}

/** Checks syft's output is the SBOM asked for and counts its packages; throws naming the image. */
export function parseSbom(text: string, format: SbomFormat, ref: string): SbomSummary {
  let doc: {
    spdxVersion?: string;
    packages?: unknown[];
    bomFormat?: string;
    components?: unknown[];
  };
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`syft gave no JSON SBOM for ${ref}`);
  }
  if (format === "spdx-json" && typeof doc.spdxVersion === "string")
    return { format, packages: doc.packages?.length ?? 0 };
  if (format === "cyclonedx-json" && doc.bomFormat === "CycloneDX")
    return { format, packages: doc.components?.length ?? 0 };
  throw new Error(`syft's output for ${ref} is not a ${format} document`);
}

/** One verified signature or attestation, as cosign prints it with `--output=json`. */
export interface Verified {
  /** The digest the signed payload names. */
  digest: string;
  /** For attestations: the in-toto predicate type. */
  predicateType?: string;
}

/**
 * Parses cosign's verify output: a JSON array (verify) or one JSON object per line
 * (verify-attestation, each with a base64 DSSE `payload` holding the in-toto statement).
 */
export function parseVerifyOutput(stdout: string): Verified[] {
  const text = stdout.trim();
  if (!text) return [];
  const items: unknown[] = text.startsWith("[")
    ? (JSON.parse(text) as unknown[])
    : text.split("\n").map((l) => JSON.parse(l) as unknown);
  return items.map((raw) => {
    const item = raw as {
      critical?: { image?: { "docker-manifest-digest"?: string } };
      payload?: string;
    };
    if (item.critical?.image?.["docker-manifest-digest"])
      return { digest: item.critical.image["docker-manifest-digest"] };
    if (item.payload) {
      const statement = JSON.parse(Buffer.from(item.payload, "base64").toString("utf8")) as {
        predicateType?: string;
        subject?: { digest?: { sha256?: string } }[];
      };
      return {
        digest: `sha256:${statement.subject?.[0]?.digest?.sha256 ?? ""}`,
        predicateType: statement.predicateType,
      };
    }
    throw new Error("cosign printed a verification result in an unknown shape");
  });
}

/** Guards against a secret ending up on a command line (visible in `ps` and in error messages). */
export function assertNoSecretInArgs(args: string[], secrets: string[]): void {
  for (const s of secrets.filter((x) => x.length >= 4))
    if (args.some((a) => a.includes(s)))
      throw new Error("a secret was about to be passed as an argument");
}

/** Runs syft and cosign for one estate. Every method names the image in its errors. */
export class SupplyChain {
  constructor(
    private readonly tools: SupplyChainTools,
    private readonly run: ToolRunner = execToolRunner,
  ) {}

  private async tool(
    which: "cosign" | "syft",
    args: string[],
    extra: { env?: Record<string, string>; stdin?: string; secrets?: string[] } = {},
  ): Promise<string> {
    assertNoSecretInArgs(args, extra.secrets ?? []);
    const cmd = (which === "cosign" ? this.tools.cosign : this.tools.syft) ?? which;
    const { stdout } = await this.run({
      cmd,
      args,
      env: { ...toolEnv(this.tools), ...extra.env },
      stdin: extra.stdin,
      timeoutMs: this.tools.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
    return stdout;
  }

  /** The SBOM of a pushed per-arch image, by digest. */
  async sbom(ref: string, format: SbomFormat = "spdx-json"): Promise<string> {
    const text = await this.tool("syft", syftArgs(ref, format));
    parseSbom(text, format, ref);
    return text;
  }

  /** Attaches a document (SBOM or provenance predicate) to `ref` as a signed attestation. */
  async attest(
    ref: string,
    kind: keyof typeof PREDICATE_TYPES,
    document: string,
    key: SigningKey,
  ): Promise<void> {
    await this.tool("cosign", cosignAttestArgs(ref, PREDICATE_TYPES[kind], this.tools), {
      env: keyEnv(key),
      stdin: document,
      secrets: [key.privateKey, key.password],
    });
  }

  /** Signs one digest (an index). */
  async sign(ref: string, key: SigningKey): Promise<void> {
    await this.tool("cosign", cosignSignArgs(ref, this.tools), {
      env: keyEnv(key),
      secrets: [key.privateKey, key.password],
    });
  }

  /**
   * True when `ref` carries a signature made with the key for exactly its digest. cosign exits
   * non-zero when there is none or none verifies: that is a `false`, not an error, so drift shows.
   */
  async verifySignature(ref: string, publicKey: string): Promise<boolean> {
    try {
      const out = await this.tool("cosign", cosignVerifyArgs(ref, this.tools), {
        env: { COSIGN_PUBLIC_KEY: publicKey },
      });
      const digest = ref.split("@")[1];
      return parseVerifyOutput(out).some((v) => v.digest === digest);
    } catch {
      return false;
    }
  }

  /** The attestation kinds `ref` carries, verified with the key, for exactly its digest. */
  async verifiedAttestations(
    ref: string,
    publicKey: string,
    kinds: (keyof typeof PREDICATE_TYPES)[],
  ): Promise<(keyof typeof PREDICATE_TYPES)[]> {
    const digest = ref.split("@")[1];
    const found: (keyof typeof PREDICATE_TYPES)[] = [];
    for (const kind of kinds) {
      try {
        const out = await this.tool(
          "cosign",
          cosignVerifyArgs(ref, this.tools, PREDICATE_TYPES[kind]),
          { env: { COSIGN_PUBLIC_KEY: publicKey } },
        );
        const ok = parseVerifyOutput(out).some(
          (v) => v.digest === digest && v.predicateType === PREDICATE_TYPE_URIS[kind],
        );
        if (ok) found.push(kind);
      } catch {
        // No attestation of this kind verifies: reported by its absence.
      }
    }
    return found;
  }
}

/** Registry credentials, as the estate holds them (secret). */
export interface ToolCredentials {
  address: string;
  username: string;
  password: string;
}

/**
 * Runs `fn` with a throwaway Docker config directory holding only these credentials (file mode 0600),
 * removed afterwards whatever happens: how both tools get credentials without a command-line flag.
 */
export async function withDockerConfig<T>(
  creds: ToolCredentials,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dayu-supply-"));
  try {
    const auths = creds.username
      ? {
          [creds.address]: {
            auth: Buffer.from(`${creds.username}:${creds.password}`).toString("base64"),
          },
        }
      : {};
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ auths }), { mode: 0o600 });
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
