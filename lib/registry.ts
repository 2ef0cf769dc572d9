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

/** Bytes the pre-flight's test upload writes ({@link RegistryClient.probeUpload}). */
export const PROBE_BYTES = 64 * 1024;

/**
 * The registry's own words in an error answer: `code: message: detail` of each entry of the
 * distribution error body (distribution puts the storage error, e.g. "no space left on device", in
 * `detail`), else the start of the body.
 */
export function registryErrorText(body: Buffer): string {
  try {
    const json = JSON.parse(body.toString()) as {
      errors?: { code?: string; message?: string; detail?: unknown }[];
    };
    if (Array.isArray(json.errors) && json.errors.length > 0) {
      return json.errors
        .map((e) =>
          [e.code, e.message, typeof e.detail === "string" ? e.detail : JSON.stringify(e.detail)]
            .filter((x) => x !== undefined && x !== "")
            .join(": "),
        )
        .join("; ");
    }
  } catch {
    // not JSON: the raw start below
  }
  return body.toString().slice(0, 300).trim();
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

  /**
   * Checks that the registry can store a blob in `repository` now: starts an upload, writes
   * `bytes` bytes into it and cancels it: never committed, so no blob, tag or manifest comes of it
   * (distribution keeps a few bytes of each cancelled upload until its upload purging runs). A full or read-only storage answers 5xx, and this throws a
   * {@link RegistryError} with that status, naming the registry and quoting its answer (distribution:
   * "no space left on device"). A registry that cannot take the test here (4xx: an unknown
   * repository, a registry without chunked uploads) passes: the pushes will say more. A whole test
   * that failed with a connection error or a 5xx is retried from its start with backoff, as
   * {@link RegistryClient.call} does (a chunk cannot be sent again into the same upload).
   */
  async probeUpload(repository: string, bytes = PROBE_BYTES): Promise<void> {
    const retries = this.auth.retries ?? DEFAULT_RETRIES;
    const base = this.auth.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.probeOnce(repository, bytes);
      } catch (err) {
        const retryable =
          err instanceof RegistryError &&
          (err.status === undefined || RETRYABLE_STATUS.includes(err.status));
        if (!retryable || attempt >= retries) {
          if (err instanceof RegistryError && err.status === undefined) {
            const tries = retries + 1;
            throw new RegistryError(
              `${err.message} (gave up after ${tries} attempt${tries === 1 ? "" : "s"})`,
            );
          }
          throw err;
        }
      }
      await new Promise((r) => setTimeout(r, backoffMs(attempt, base)));
    }
  }

  private async probeOnce(repository: string, bytes: number): Promise<void> {
    const what = `registry ${this.auth.address} could not store a test upload of ${Math.round(bytes / 1024)} KiB in ${repository}`;
    const failed = (step: string, res: Response) =>
      new RegistryError(
        `${what}: ${step} answered ${res.status}: ${registryErrorText(res.body)}`,
        res.status,
      );
    const start = await this.callOnce("POST", `/v2/${repository}/blobs/uploads/`, {
      "content-length": "0",
    });
    if (start.status >= 500) throw failed("starting the upload", start);
    let upload = this.uploadPath(start.headers.location);
    if (start.status !== 202 || upload === undefined) return;
    try {
      const res = await this.callOnce(
        "PATCH",
        upload,
        { "content-type": "application/octet-stream", "content-length": String(bytes) },
        Buffer.alloc(bytes),
      );
      if (res.status >= 500) throw failed("writing the upload", res);
      // The upload's state moved on: the cancel goes to where the registry says it now is.
      upload = this.uploadPath(res.headers.location) ?? upload;
    } finally {
      // Cancelled, never committed. A cancel that fails leaves an upload the registry purges itself.
      await this.callOnce("DELETE", upload, {}).catch(() => undefined);
    }
  }

  /**
   * An upload `Location` as a path on this registry, or undefined when there is none or it points at
   * another host (a storage front: not this registry's to test).
   */
  private uploadPath(location: string | string[] | undefined): string | undefined {
    if (typeof location !== "string" || location === "") return undefined;
    const scheme = this.auth.insecure ? "http" : "https";
    const at = new URL(location, `${scheme}://${this.auth.address}`);
    return at.host === this.auth.address ? `${at.pathname}${at.search}` : undefined;
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
