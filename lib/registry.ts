/**
 * A small client for the registry HTTP API (distribution v2 / OCI), used for pre-flight checks,
 * index read-back, drift repair and the end-to-end test. It sends all four manifest media types (a GET
 * with only the plain manifest type silently returns the amd64 child of a list) and recomputes the
 * sha256 of every body itself. Basic auth, and bearer tokens for registries that hand them out.
 */
import { createHash } from "crypto";
import * as https from "https";
import * as http from "http";

export const MEDIA_TYPES = {
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
} as const;
const ACCEPT_ALL = Object.values(MEDIA_TYPES).join(", ");

export interface RegistryAuth {
  /** host[:port]. */
  address: string;
  username?: string;
  password?: string;
  /** PEM CA to trust in addition to the system store. */
  ca?: string;
  /** Plain HTTP (dev only). */
  insecure?: boolean;
  /** Per-request timeout. Default 15 s. */
  timeoutMs?: number;
  /**
   * Further attempts after a connection error, a timeout or a retryable answer (429, 500, 502, 503,
   * 504), with exponential backoff. Default 3.
   */
  retries?: number;
  /** First backoff delay; doubled on each retry up to {@link MAX_BACKOFF_MS}. Default 250 ms. */
  retryBaseMs?: number;
}

// An array, not a Set: Pulumi's closure serialization (dynamic providers such as IndexGuard capture
// this client) turns a Set into a plain object whose `has` then throws.
/** Answers that mean "try again later": rate limits, and a proxy or storage backend failing for now. */
export const RETRYABLE_STATUS: readonly number[] = [429, 500, 502, 503, 504];
/** The longest wait between two attempts. */
export const MAX_BACKOFF_MS = 4000;
/** Default number of further attempts ({@link RegistryAuth.retries}). */
export const DEFAULT_RETRIES = 3;
const DEFAULT_RETRY_BASE_MS = 250;

/** The wait before retry number `attempt` (0-based): exponential, capped, with up to 20% jitter. */
export function backoffMs(
  attempt: number,
  baseMs: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** attempt);
  return Math.round(exp * (0.8 + 0.2 * random()));
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Manifest {
  digest: string;
  mediaType: string;
  body: Buffer;
  json: {
    mediaType?: string;
    manifests?: Descriptor[];
    config?: Descriptor;
    layers?: Descriptor[];
  };
}

/** An HTTP failure that keeps the status, so callers can tell "absent" (404) from "retry" (5xx). */
export class RegistryError extends Error {
  constructor(
    message: string,
    public readonly status?: number,
  ) {
    super(message);
  }
}

export function sha256(body: Buffer): string {
  return `sha256:${createHash("sha256").update(body).digest("hex")}`;
}

export function isIndex(mediaType: string): boolean {
  return mediaType === MEDIA_TYPES.dockerList || mediaType === MEDIA_TYPES.ociIndex;
}

/** True for BuildKit's attestation entries, which read `unknown/unknown`. */
export function isAttestation(d: Descriptor): boolean {
  return d.platform?.os === "unknown" || d.platform?.architecture === "unknown";
}

export function platformString(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export class RegistryClient {
  private token?: string;

  constructor(private readonly auth: RegistryAuth) {}

  private request(
    method: string,
    url: string,
    headers: Record<string, string>,
    body?: Buffer,
  ): Promise<Response> {
    const mod = url.startsWith("https:") ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        { method, headers, ca: this.auth.ca, timeout: this.auth.timeoutMs ?? 15000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
            }),
          );
          res.on("error", reject);
        },
      );
      req.on("timeout", () =>
        req.destroy(new Error(`timed out after ${this.auth.timeoutMs ?? 15000} ms`)),
      );
      req.on("error", (err) =>
        reject(
          new RegistryError(`registry ${this.auth.address}: ${method} ${url}: ${err.message}`),
        ),
      );
      if (body) req.write(body);
      req.end();
    });
  }

  private basic(): string | undefined {
    if (this.auth.username === undefined) return undefined;
    return `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password ?? ""}`).toString("base64")}`;
  }

  /** Fetches a bearer token for a `Bearer realm=...` challenge. */
  private async fetchToken(challenge: string): Promise<void> {
    const params: Record<string, string> = {};
    for (const m of challenge.matchAll(/(\w+)="([^"]*)"/g)) params[m[1]] = m[2];
    if (!params.realm)
      throw new RegistryError(`registry ${this.auth.address}: bearer challenge without realm`);
    const q = new URLSearchParams();
    if (params.service) q.set("service", params.service);
    if (params.scope) q.set("scope", params.scope);
    const headers: Record<string, string> = {};
    const basic = this.basic();
    if (basic) headers.authorization = basic;
    const res = await this.request("GET", `${params.realm}?${q}`, headers);
    if (res.status !== 200)
      throw new RegistryError(
        `registry ${this.auth.address}: token request failed with ${res.status}`,
        res.status,
      );
    const json = JSON.parse(res.body.toString()) as { token?: string; access_token?: string };
    this.token = json.token ?? json.access_token;
  }

  /**
   * One API call with auth (answering a 401 bearer challenge once), retried with backoff on
   * connection errors, timeouts and retryable answers ({@link RETRYABLE_STATUS}). Every call this
   * client makes is idempotent (GETs, and PUTs of the same manifest bytes under the same tag), so a
   * retry never changes the outcome. After the last attempt a retryable answer is returned as it is
   * (callers keep its status) and a connection error is thrown naming the registry and the attempts.
   */
  async call(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: Buffer,
  ): Promise<Response> {
    const retries = this.auth.retries ?? DEFAULT_RETRIES;
    const base = this.auth.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= retries;
      try {
        const res = await this.callOnce(method, path, headers, body);
        if (last || !RETRYABLE_STATUS.includes(res.status)) return res;
      } catch (err) {
        if (!(err instanceof RegistryError) || err.status !== undefined) throw err;
        if (last) {
          const tries = retries + 1;
          throw new RegistryError(
            `${err.message} (gave up after ${tries} attempt${tries === 1 ? "" : "s"})`,
          );
        }
      }
      await new Promise((r) => setTimeout(r, backoffMs(attempt, base)));
    }
  }

  private async callOnce(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: Buffer,
  ): Promise<Response> {
    const url = `${this.auth.insecure ? "http" : "https"}://${this.auth.address}${path}`;
    const withAuth = () => {
      const h = { ...headers };
      const a = this.token ? `Bearer ${this.token}` : this.basic();
      if (a) h.authorization = a;
      return h;
    };
    let res = await this.request(method, url, withAuth(), body);
    const challenge = String(res.headers["www-authenticate"] ?? "");
    if (res.status === 401 && /^Bearer /i.test(challenge)) {
      await this.fetchToken(challenge);
      res = await this.request(method, url, withAuth(), body);
    }
    return res;
  }

  /**
   * `GET /v2/`: 200 means reachable with working credentials. Throws with a message saying which it
   * is (unreachable, wrong credentials, unhealthy) and naming the registry.
   */
  async ping(): Promise<void> {
    const res = await this.call("GET", "/v2/");
    if (res.status === 200) return;
    if (res.status === 401) {
      throw new RegistryError(
        `registry ${this.auth.address} refused the credentials of user "${this.auth.username ?? "(none)"}"`,
        401,
      );
    }
    throw new RegistryError(
      `registry ${this.auth.address} answered ${res.status} to GET /v2/`,
      res.status,
    );
  }

  /** GETs a manifest or index by tag or digest; the digest is recomputed from the body. */
  async getManifest(repository: string, reference: string): Promise<Manifest> {
    const res = await this.call("GET", `/v2/${repository}/manifests/${reference}`, {
      accept: ACCEPT_ALL,
    });
    if (res.status !== 200) {
      throw new RegistryError(
        `GET ${this.auth.address}/${repository}:${reference}: HTTP ${res.status} ${res.body.toString().slice(0, 200)}`,
        res.status,
      );
    }
    const digest = sha256(res.body);
    if (reference.startsWith("sha256:") && digest !== reference) {
      throw new RegistryError(
        `${this.auth.address}/${repository}@${reference}: body hashes to ${digest}`,
      );
    }
    const json = JSON.parse(res.body.toString()) as Manifest["json"];
    const mediaType = json.mediaType ?? String(res.headers["content-type"] ?? "");
    return { digest, mediaType, body: res.body, json };
  }

  /** The digest a tag points at now, or undefined when the tag does not exist (404). */
  async resolve(repository: string, reference: string): Promise<string | undefined> {
    try {
      return (await this.getManifest(repository, reference)).digest;
    } catch (err) {
      if (err instanceof RegistryError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** PUTs manifest bytes under a tag (the manifest's blobs/children must already be in the repository). */
  async putManifest(
    repository: string,
    tag: string,
    body: Buffer,
    mediaType: string,
  ): Promise<string> {
    const res = await this.call(
      "PUT",
      `/v2/${repository}/manifests/${tag}`,
      { "content-type": mediaType },
      body,
    );
    if (res.status !== 201) {
      throw new RegistryError(
        `PUT ${this.auth.address}/${repository}:${tag}: HTTP ${res.status} ${res.body.toString().slice(0, 300)}`,
        res.status,
      );
    }
    return sha256(body);
  }

  async getBlob(repository: string, digest: string): Promise<Buffer> {
    const res = await this.call("GET", `/v2/${repository}/blobs/${digest}`);
    if (res.status === 307 || res.status === 302) {
      const loc = String(res.headers.location);
      const r2 = await this.request("GET", loc, {});
      return r2.body;
    }
    if (res.status !== 200)
      throw new RegistryError(`GET blob ${repository}@${digest}: HTTP ${res.status}`, res.status);
    return res.body;
  }

  /**
   * Platform → manifest digest of an index (attestations skipped), or of a single manifest (whose
   * platform is read from its config blob).
   */
  async platforms(repository: string, reference: string): Promise<Map<string, string>> {
    const m = await this.getManifest(repository, reference);
    const out = new Map<string, string>();
    if (isIndex(m.mediaType)) {
      for (const d of m.json.manifests ?? []) {
        if (isAttestation(d) || !d.platform) continue;
        out.set(platformString(d.platform), d.digest);
      }
      return out;
    }
    const config = JSON.parse(
      (await this.getBlob(repository, m.json.config?.digest ?? "")).toString(),
    ) as {
      os: string;
      architecture: string;
      variant?: string;
    };
    out.set(platformString(config), m.digest);
    return out;
  }

  /** The architecture an image manifest's config declares. */
  async configArchitecture(repository: string, manifestDigest: string): Promise<string> {
    const m = await this.getManifest(repository, manifestDigest);
    const config = JSON.parse(
      (await this.getBlob(repository, m.json.config?.digest ?? "")).toString(),
    ) as {
      architecture: string;
    };
    return config.architecture;
  }
}

/** Splits `host[:port]/repo[:tag][@digest]` against a known registry address. */
export function splitRef(ref: string): { address: string; repository: string; reference: string } {
  const slash = ref.indexOf("/");
  const address = ref.slice(0, slash);
  let rest = ref.slice(slash + 1);
  let reference = "latest";
  const at = rest.indexOf("@");
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const colon = rest.lastIndexOf(":");
    if (colon >= 0) rest = rest.slice(0, colon);
  } else {
    const colon = rest.lastIndexOf(":");
    if (colon >= 0) {
      reference = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
  }
  return { address, repository: rest, reference };
}
