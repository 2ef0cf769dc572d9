/**
 * Prune against an in-process registry that deletes like distribution v3 (tags by name) or 2.8 (by
 * digest only, which untags every tag at the digest): the capability probe, reading tags, children,
 * subjects and cosign tags, the preview, applying, and "publish three releases, keep two": the oldest
 * release's tags are gone, every kept index still resolves every child, a second prune removes nothing.
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as http from "http";
import { AddressInfo } from "net";
import { RegistryClient } from "../../lib/registry";
import { formatPruneReport, prune } from "../../lib/prune";
import { probeCapabilities, readRepository } from "../../lib/retentionRegistry";
import { RetentionPolicy, parseMaxAge } from "../../estate/retention";

const INDEX = "application/vnd.oci.image.index.v1+json";
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const sha = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** Tags, manifests and the two DELETE behaviours; no auth, plain HTTP. */
class DeletingRegistry {
  readonly manifests = new Map<string, { body: Buffer; type: string }>(); // repo@digest
  readonly tags = new Map<string, string>(); // repo:tag → digest
  readonly blobs = new Map<string, Buffer>(); // repo@digest
  deletes: string[] = [];
  blobReads = 0;
  private server = http.createServer((req, res) => this.handle(req, res));
  constructor(readonly tagDelete: boolean) {}

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  put(repo: string, json: object, tag?: string): string {
    const body = Buffer.from(JSON.stringify(json));
    const d = sha(body);
    this.manifests.set(`${repo}@${d}`, {
      body,
      type: (json as { mediaType: string }).mediaType,
    });
    if (tag) this.tags.set(`${repo}:${tag}`, d);
    return d;
  }

  /** An image config blob with its build time. */
  config(repo: string, release: string, arch: string, created: string): string {
    const body = Buffer.from(JSON.stringify({ architecture: arch, os: "linux", created }));
    this.blobs.set(`${repo}@${sha(body)}`, body);
    return sha(body);
  }

  /**
   * One release: two per-arch images (configs built at `created`), an index, a signature on the index
   * (cosign tag scheme).
   */
  release(
    repo: string,
    release: string,
    created = "2026-01-01T00:00:00Z",
  ): { index: string; children: string[] } {
    const children = ["amd64", "arm64"].map((arch) =>
      this.put(
        repo,
        {
          schemaVersion: 2,
          mediaType: MANIFEST,
          config: {
            mediaType: "application/vnd.oci.image.config.v1+json",
            digest: this.config(repo, release, arch, created),
            size: 100,
          },
          layers: [{ digest: sha(`${release}-${arch}-layer`), size: 1000 }],
        },
        `${release}-${arch}`,
      ),
    );
    const index = this.put(
      repo,
      { schemaVersion: 2, mediaType: INDEX, manifests: children.map((digest) => ({ digest })) },
      release,
    );
    // A cosign v3 bundle on a registry without referrers API: referrer + fallback index tag.
    const referrer = this.put(repo, {
      schemaVersion: 2,
      mediaType: MANIFEST,
      subject: { digest: index },
      layers: [{ digest: sha(`${release}-bundle`), size: 50 }],
    });
    this.put(
      repo,
      { schemaVersion: 2, mediaType: INDEX, manifests: [{ digest: referrer }] },
      `sha256-${index.slice(7)}`,
    );
    return { index, children };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const send = (status: number, body = "") => {
      res.statusCode = status;
      res.end(body);
    };
    const url = req.url ?? "";
    let m = /^\/v2\/(.+)\/tags\/list$/.exec(url);
    if (m) {
      const prefix = `${m[1]}:`;
      const tags = [...this.tags.keys()]
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length));
      return send(200, JSON.stringify({ name: m[1], tags }));
    }
    m = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url);
    if (m) {
      this.blobReads++;
      const blob = this.blobs.get(`${m[1]}@${m[2]}`);
      return blob ? send(200, blob.toString()) : send(404);
    }
    m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url);
    if (!m) return send(404);
    const [, repo, ref] = m;
    const digest = ref.startsWith("sha256:") ? ref : this.tags.get(`${repo}:${ref}`);
    if (req.method === "DELETE") {
      this.deletes.push(ref);
      if (!ref.startsWith("sha256:")) {
        if (!this.tagDelete) return send(400, '{"errors":[{"code":"DIGEST_INVALID"}]}');
        if (!digest) return send(404, '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
        this.tags.delete(`${repo}:${ref}`);
        return send(202);
      }
      if (!this.manifests.delete(`${repo}@${ref}`)) return send(404);
      for (const [k, d] of this.tags)
        if (k.startsWith(`${repo}:`) && d === ref) this.tags.delete(k);
      return send(202);
    }
    const found = digest ? this.manifests.get(`${repo}@${digest}`) : undefined;
    if (!found) return send(404, '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    res.setHeader("content-type", found.type);
    send(200, found.body.toString());
  }
}

const REPO = "e2e/car-detection";
const policy: RetentionPolicy = {
  releases: ["v3", "v2", "v1"],
  keepReleases: 2,
  inUse: [`${REPO}:v3`, `${REPO}:v3-amd64`, `${REPO}:v3-arm64`],
  catalogRepositories: [REPO],
};

for (const tagDelete of [true, false]) {
  describe(`prune on a registry ${tagDelete ? "with tag delete (distribution v3)" : "without tag delete (2.8)"}`, () => {
    let reg: DeletingRegistry;
    let client: RegistryClient;
    let releases: Record<string, { index: string; children: string[] }>;
    beforeEach(async () => {
      reg = new DeletingRegistry(tagDelete);
      client = new RegistryClient({ address: await reg.start(), insecure: true, retries: 0 });
      // v1 built on 1 March, v2 on 1 May, v3 on 1 June.
      releases = Object.fromEntries(
        [
          ["v1", "2026-03-01T00:00:00Z"],
          ["v2", "2026-05-01T00:00:00Z"],
          ["v3", "2026-06-01T00:00:00Z"],
        ].map(([r, created]) => [r, reg.release(REPO, r, created)]),
      );
    });
    afterEach(() => reg.stop());

    it("probes tag deletion without deleting anything", async () => {
      const before = reg.tags.size;
      assert.equal((await probeCapabilities(client, REPO)).tagDelete, tagDelete);
      assert.equal(reg.tags.size, before);
    });

    it("reads tags, index children, referrers and their blobs", async () => {
      const state = await readRepository(client, REPO);
      assert.equal(Object.keys(state.tags).length, 12);
      assert.deepEqual(state.manifests[releases.v2.index].children, releases.v2.children);
      const referrers = Object.values(state.manifests).filter((m) => m.subject);
      assert.equal(referrers.length, 3);
      assert.ok(state.manifests[releases.v1.children[0]].blobs?.some((b) => b.size === 1000));
    });

    it("publish three releases, keep two: a preview changes nothing; apply removes v1 only; a second prune is empty", async () => {
      const preview = await prune(client, { repositories: [REPO], policy });
      assert.equal(preview.applied, 0);
      assert.deepEqual(
        reg.deletes.filter((d) => !d.startsWith("dayu-retention-probe")),
        [],
      );
      assert.match(formatPruneReport(preview, true), /would delete manifest .*\(tags v1\)/);

      const done = await prune(client, { repositories: [REPO], policy, apply: true });
      assert.equal(done.applied, done.plan.steps.length);
      assert.deepEqual(
        [...reg.tags.keys()].map((k) => k.slice(REPO.length + 1)).sort(),
        [
          `sha256-${releases.v2.index.slice(7)}`,
          `sha256-${releases.v3.index.slice(7)}`,
          "v2",
          "v2-amd64",
          "v2-arm64",
          "v3",
          "v3-amd64",
          "v3-arm64",
        ].sort(),
      );
      for (const r of ["v2", "v3"]) {
        const state = await readRepository(client, REPO);
        for (const child of releases[r].children)
          assert.ok(state.manifests[child], `${r} still resolves its child ${child}`);
      }
      for (const d of [releases.v1.index, ...releases.v1.children])
        assert.ok(!reg.manifests.has(`${REPO}@${d}`), `v1's ${d} is gone`);
      assert.ok(done.plan.reclaimableBytes >= 2 * 1100 + 50, "v1's blobs are reclaimable");

      const again = await prune(client, { repositories: [REPO], policy, apply: true });
      assert.deepEqual(again.plan.steps, []);
      assert.match(formatPruneReport(again, false), /nothing to delete/);
    });

    it("age rule: keepReleases 1 and maxAge 45d on 10 June keep v3 and v2 (built within it), drop v1; build times come from the config blobs", async () => {
      const byAge: RetentionPolicy = {
        ...policy,
        keepReleases: 1,
        maxAgeMs: parseMaxAge("45d"),
        now: Date.parse("2026-06-10T00:00:00Z"),
      };
      const preview = await prune(client, { repositories: [REPO], policy: byAge });
      assert.deepEqual(
        preview.plan.releases.map((v) => `${v.release} ${v.reason}`),
        ["v3 kept-release", "v2 recent-release", "v1 old-release"],
      );
      assert.equal(preview.plan.releases[1].builtAt, Date.parse("2026-05-01T00:00:00Z"));
      assert.match(
        formatPruneReport(preview, true),
        /release v1: would go \(outside the newest kept and the age limit; built 2026-03-01T00:00:00\.000Z\)/,
      );
      const done = await prune(client, { repositories: [REPO], policy: byAge, apply: true });
      assert.ok(done.applied > 0);
      const left = [...reg.tags.keys()].map((k) => k.slice(REPO.length + 1));
      assert.ok(!left.includes("v1") && !left.includes("v1-amd64"), "v1 gone");
      assert.ok(left.includes("v2") && left.includes("v2-arm64"), "v2 kept by its age");

      // A month later v2 is older than 45 days: the count alone keeps only v3.
      const later = { ...byAge, now: Date.parse("2026-07-10T00:00:00Z") };
      const next = await prune(client, { repositories: [REPO], policy: later });
      assert.deepEqual(
        next.plan.releases.map((v) => `${v.release} ${v.reason}`),
        ["v3 kept-release", "v2 old-release"],
      );
    });

    it("reads config blobs only when an age rule needs them", async () => {
      await prune(client, { repositories: [REPO], policy });
      assert.equal(reg.blobReads, 0);
      const state = await readRepository(client, REPO, { created: true });
      assert.equal(state.manifests[releases.v2.children[1]].created, "2026-05-01T00:00:00Z");
      assert.equal(state.manifests[releases.v2.index].created, undefined, "an index has none");
      assert.equal(reg.blobReads, 6, "one per image config, none for the bundles");
    });
  });
}
