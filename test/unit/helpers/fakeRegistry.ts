/**
 * A tiny in-memory registry on 127.0.0.1 (plain HTTP) for client tests: basic auth, manifests by tag
 * or digest with content negotiation like distribution's (a list asked for with only the plain
 * manifest type answers with its amd64 child), blobs, blob uploads (start, write, cancel: what the
 * pre-flight's test upload does), a switch to answer 503, one for a full storage, and a count of
 * requests to fail (503 or a reset connection) for retry tests.
 */
import { createHash } from "crypto";
import * as http from "http";
import { AddressInfo } from "net";

export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

const sha = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

export class FakeRegistry {
  readonly manifests = new Map<string, { body: Buffer; type: string }>(); // "repo@digest"
  readonly tags = new Map<string, string>(); // "repo:tag" → digest
  readonly blobs = new Map<string, Buffer>(); // digest
  unhealthy = false;
  /**
   * Storage full: starting or writing an upload answers 500 with distribution's body for ENOSPC.
   * `"write"`: uploads start, their data does not fit.
   */
  full: false | "start" | "write" = false;
  /** Uploads started and not yet cancelled or committed, by id → bytes received. */
  readonly uploads = new Map<string, number>();
  /** Every upload started. */
  uploadsStarted = 0;
  /** Requests answered, as `METHOD path` without the query. */
  readonly log: string[] = [];
  /** The next `faults` requests fail: with a 503 answer, or by resetting the connection. */
  faults = 0;
  faultMode: "503" | "reset" = "503";
  requests = 0;
  private server = http.createServer((req, res) => this.handle(req, res));

  constructor(
    readonly username = "u",
    readonly password = "p",
  ) {}

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  /** Stores an image for one platform; returns its manifest digest. */
  addImage(repo: string, os: string, architecture: string, tag?: string, label = ""): string {
    const config = Buffer.from(
      JSON.stringify({
        os,
        architecture,
        config: { Labels: { label } },
        rootfs: { type: "layers", diff_ids: [] },
      }),
    );
    this.blobs.set(sha(config), config);
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: sha(config),
          size: config.length,
        },
        layers: [],
      }),
    );
    return this.putManifest(repo, body, OCI_MANIFEST, tag);
  }

  /** Stores an index of existing manifests; `platforms[i]` describes `children[i]`. */
  addIndex(repo: string, children: { digest: string; platform: string }[], tag?: string): string {
    const manifests = children.map((c) => {
      const [os, architecture] = c.platform.split("/");
      const m = this.manifests.get(`${repo}@${c.digest}`);
      return {
        mediaType: OCI_MANIFEST,
        digest: c.digest,
        size: m?.body.length ?? 0,
        platform: { os, architecture },
      };
    });
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
    return this.putManifest(repo, body, OCI_INDEX, tag);
  }

  putManifest(repo: string, body: Buffer, type: string, tag?: string): string {
    const d = sha(body);
    this.manifests.set(`${repo}@${d}`, { body, type });
    if (tag) this.tags.set(`${repo}:${tag}`, d);
    return d;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests++;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (this.unhealthy) return this.send(res, 503, "storage unhealthy");
      if (this.faults > 0) {
        this.faults--;
        if (this.faultMode === "reset") return req.socket.destroy();
        return this.send(res, 503, "try again");
      }
      const expected = `Basic ${Buffer.from(`${this.username}:${this.password}`).toString("base64")}`;
      if (req.headers.authorization !== expected) {
        res.setHeader("www-authenticate", 'Basic realm="fake"');
        return this.send(res, 401, '{"errors":[{"code":"UNAUTHORIZED"}]}');
      }
      const url = req.url ?? "";
      this.log.push(`${req.method ?? ""} ${url.split("?")[0]}`);
      if (url === "/v2/") return this.send(res, 200, "{}");
      const upload = /^\/v2\/(.+)\/blobs\/uploads\/([^/?]*)(\?.*)?$/.exec(url);
      if (upload) return this.handleUpload(req, res, upload[1], upload[2], Buffer.concat(chunks));
      let m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url);
      if (m) {
        const [, repo, ref] = m;
        if (req.method === "PUT") {
          const d = this.putManifest(
            repo,
            Buffer.concat(chunks),
            String(req.headers["content-type"]),
            ref,
          );
          res.setHeader("docker-content-digest", d);
          return this.send(res, 201, "");
        }
        const digest = ref.startsWith("sha256:") ? ref : this.tags.get(`${repo}:${ref}`);
        let found = digest ? this.manifests.get(`${repo}@${digest}`) : undefined;
        if (!found) return this.send(res, 404, '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
        const accept = String(req.headers.accept ?? "");
        if (found.type === OCI_INDEX && !accept.includes(OCI_INDEX)) {
          // What distribution does for a client that cannot take lists: the amd64 child.
          const idx = JSON.parse(found.body.toString()) as {
            manifests: { digest: string; platform: { architecture: string } }[];
          };
          const amd = idx.manifests.find((x) => x.platform.architecture === "amd64");
          found = amd ? this.manifests.get(`${repo}@${amd.digest}`) : found;
        }
        res.setHeader("content-type", found?.type ?? "");
        return this.send(res, 200, found?.body ?? "");
      }
      m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]+)$/.exec(url);
      if (m) {
        const blob = this.blobs.get(m[2]);
        return blob
          ? this.send(res, 200, blob)
          : this.send(res, 404, '{"errors":[{"code":"BLOB_UNKNOWN"}]}');
      }
      this.send(res, 404, "");
    });
  }

  /** Distribution's upload API, as far as a test upload goes: start, write, cancel. */
  private handleUpload(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    repo: string,
    id: string,
    body: Buffer,
  ): void {
    const enospc = (file: string) =>
      this.send(
        res,
        500,
        JSON.stringify({
          errors: [
            {
              code: "UNKNOWN",
              message: "unknown error",
              detail: `filesystem: write /data/docker/registry/v2/repositories/${repo}/_uploads/${file}: no space left on device`,
            },
          ],
        }),
      );
    if (!repo.startsWith("ns/")) return this.send(res, 404, '{"errors":[{"code":"NAME_UNKNOWN"}]}');
    // Like distribution, every step names the upload's current state (`_state`, which moves on
    // with each write); a stale one is refused with 416.
    const state = /[?&]_state=([^&]*)/.exec(req.url ?? "")?.[1];
    const located = (bytes: number) =>
      res.setHeader("location", `/v2/${repo}/blobs/uploads/${id}?_state=s${bytes}`);
    if (req.method === "POST" && id === "") {
      if (this.full === "start") return enospc("x/startedat");
      id = `u${++this.uploadsStarted}`;
      this.uploads.set(id, 0);
      located(0);
      return this.send(res, 202, "");
    }
    const bytes = this.uploads.get(id);
    if (bytes === undefined)
      return this.send(res, 404, '{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]}');
    if (state !== `s${bytes}`) return this.send(res, 416, '{"errors":[{"code":"RANGE_INVALID"}]}');
    if (req.method === "PATCH") {
      if (this.full) return enospc(`${id}/data`);
      this.uploads.set(id, bytes + body.length);
      located(bytes + body.length);
      return this.send(res, 202, "");
    }
    if (req.method === "DELETE") {
      this.uploads.delete(id);
      return this.send(res, 204, "");
    }
    this.send(res, 405, "");
  }

  private send(res: http.ServerResponse, status: number, body: string | Buffer): void {
    res.statusCode = status;
    res.end(body);
  }
}
