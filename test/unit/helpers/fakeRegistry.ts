/**
 * A tiny in-memory registry on 127.0.0.1 (plain HTTP) for client tests: basic auth, manifests by tag
 * or digest with content negotiation like distribution's (a list asked for with only the plain
 * manifest type answers with its amd64 child), blobs, a switch to answer 503, and a count of
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
      if (url === "/v2/") return this.send(res, 200, "{}");
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

  private send(res: http.ServerResponse, status: number, body: string | Buffer): void {
    res.statusCode = status;
    res.end(body);
  }
}
