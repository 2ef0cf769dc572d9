/**
 * Retention: the verdict on each tag, reachability (children, referrers, cosign tags), the order of the
 * plan, and property-style runs on random estates (seeded, so a failure names its seed): applying the
 * plan step by step on a simulated registry never leaves a kept tag missing or a kept index with a
 * missing child, removes everything unreachable, and a second plan is empty.
 */
import { strict as assert } from "assert";
import {
  cosignSubject,
  keptTags,
  parentFirst,
  reachableDigests,
  RegistryCapabilities,
  RegistryManifest,
  releaseOf,
  RepositoryState,
  RetentionPolicy,
  retentionPlan,
  RetentionStep,
  parseMaxAge,
  releaseBuildTimes,
  releaseVerdicts,
} from "../../estate/retention";

const INDEX = "application/vnd.oci.image.index.v1+json";
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const dg = (n: number) => `sha256:${n.toString(16).padStart(64, "0")}`;
const cosignTag = (digest: string, suffix: string) => `sha256-${digest.slice(7)}${suffix}`;
const DAY_MS = 24 * 3_600_000;
const DAY0 = Date.parse("2026-01-01T00:00:00Z");

/** mulberry32: a small seeded PRNG, so every random estate can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Estate {
  repos: RepositoryState[];
  policy: RetentionPolicy;
}

/**
 * A random estate shaped like ours: per release, per-arch images (sometimes unchanged from the
 * previous release, so releases share children), an index per tag and variant, cosign signatures and
 * attestations (tag scheme) or referrers (subject), cache tags, a hand-pushed tag, and repositories
 * dropped from the catalog.
 */
function randomEstate(seed: number): Estate {
  const rnd = prng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  let next = 1;
  const fresh = () => dg(next++);
  const releases = ["v4", "v3", "v2", "v1"].slice(0, 1 + Math.floor(rnd() * 4));
  const inUse: string[] = [];
  const repos: RepositoryState[] = [];
  const repoCount = 1 + Math.floor(rnd() * 3);
  const catalog: string[] = [];
  const blobPool = Array.from({ length: 6 }, () => ({ digest: fresh(), size: 100 + next }));
  // Build times: release k (oldest first) about k × 10 days after DAY0; some configs have none.
  let builtDay = 0;
  for (let r = 0; r < repoCount; r++) {
    const repository = `e2e/img${r}`;
    if (rnd() < 0.8) catalog.push(repository);
    const repo: RepositoryState = { repository, tags: {}, manifests: {} };
    const put = (m: RegistryManifest) => (repo.manifests[m.digest] = m);
    const image = (): string => {
      const d = fresh();
      put({
        digest: d,
        mediaType: MANIFEST,
        size: 500,
        blobs: [pick(blobPool), { digest: fresh(), size: 1000 }],
        ...(rnd() < 0.85
          ? { created: new Date(DAY0 + (builtDay + rnd() * 3) * DAY_MS).toISOString() }
          : {}),
      });
      return d;
    };
    const attach = (subject: string) => {
      const scheme = rnd();
      if (scheme < 0.35) {
        const sig = fresh();
        put({
          digest: sig,
          mediaType: MANIFEST,
          size: 300,
          blobs: [{ digest: fresh(), size: 50 }],
        });
        repo.tags[cosignTag(subject, pick([".sig", ".att"]))] = sig;
      } else if (scheme < 0.6) {
        put({ digest: fresh(), mediaType: MANIFEST, size: 300, subject });
      } else if (scheme < 0.75) {
        // The OCI referrers fallback tag: an index listing the referrers.
        const ref = fresh();
        put({ digest: ref, mediaType: MANIFEST, size: 300, subject });
        const fallback = fresh();
        put({ digest: fallback, mediaType: INDEX, size: 200, children: [ref] });
        repo.tags[cosignTag(subject, "")] = fallback;
      }
    };
    const archs = rnd() < 0.5 ? ["amd64"] : ["amd64", "arm64"];
    let prev: Record<string, string> = {};
    for (const [k, release] of [...releases].reverse().entries()) {
      const current = release === releases[0];
      builtDay = k * 10;
      const perArch: Record<string, string> = {};
      for (const arch of archs) {
        // Unchanged builds keep their digest: releases then share index children.
        perArch[arch] = prev[arch] && rnd() < 0.4 ? prev[arch] : image();
        if (perArch[arch] !== prev[arch]) attach(perArch[arch]);
        repo.tags[`${release}-${arch}`] = perArch[arch];
        if (current) inUse.push(`${repository}:${release}-${arch}`);
      }
      for (const variant of rnd() < 0.5 ? [""] : ["", "-jp5"]) {
        const index = fresh();
        put({
          digest: index,
          mediaType: INDEX,
          size: 400,
          children: archs.map((a) => perArch[a]),
        });
        attach(index);
        repo.tags[`${release}${variant}`] = index;
        if (current) inUse.push(`${repository}:${release}${variant}`);
      }
      prev = perArch;
    }
    for (const arch of archs) {
      const cache = fresh();
      put({ digest: cache, mediaType: INDEX, size: 100, children: [] });
      repo.tags[`buildcache-default-${arch}`] = cache;
      if (rnd() < 0.5) inUse.push(`${repository}:buildcache-default-${arch}`);
    }
    if (rnd() < 0.3) repo.tags.debug = pick(Object.values(repo.tags));
    if (rnd() < 0.3) repo.tags.latest = repo.tags[releases[releases.length - 1]];
    repos.push(repo);
  }
  return {
    repos,
    policy: {
      releases,
      keepReleases: 1 + Math.floor(rnd() * 3),
      neverTouch: rnd() < 0.5 ? ["latest"] : [],
      inUse,
      catalogRepositories: catalog,
      pruneRemoved: rnd() < 0.5,
      // Half the estates add an age rule that keeps roughly the newest 1, 2 or 3 releases.
      ...(rnd() < 0.5
        ? {
            maxAgeMs: pick([5, 15, 25]) * DAY_MS,
            now: DAY0 + ((releases.length - 1) * 10 + 4) * DAY_MS,
          }
        : {}),
    },
  };
}

/** The tag verdicts the plan uses: release ages read across every repository. */
function verdictsOf(repo: RepositoryState, repos: RepositoryState[], policy: RetentionPolicy) {
  return keptTags(repo, policy, releaseVerdicts(policy, repos));
}

const clone = (repos: RepositoryState[]): RepositoryState[] => JSON.parse(JSON.stringify(repos));

/** The registry's behaviour for each step (distribution v3; 2.8 has no tag delete). */
function apply(repos: RepositoryState[], step: RetentionStep, caps: RegistryCapabilities): void {
  const repo = repos.find((r) => r.repository === step.repository);
  assert.ok(repo, `step on an unknown repository ${step.repository}`);
  if (step.kind === "delete-tag") {
    assert.ok(caps.tagDelete, "a tag delete on a registry without it");
    assert.equal(repo.tags[step.tag], step.digest, `tag ${step.tag} moved under the plan`);
    delete repo.tags[step.tag];
  } else {
    delete repo.manifests[step.digest];
    // Deleting by digest untags every tag at that digest.
    for (const [t, d] of Object.entries(repo.tags)) if (d === step.digest) delete repo.tags[t];
  }
}

/** Every kept tag still at its digest, and everything reachable from it still there. */
function assertKeptIntact(
  before: RepositoryState[],
  after: RepositoryState[],
  policy: RetentionPolicy,
  context: string,
): void {
  for (const old of before) {
    const now = after.find((r) => r.repository === old.repository) as RepositoryState;
    const kept = [...verdictsOf(old, before, policy)].filter(([, v]) => v.keep).map(([t]) => t);
    const { digests, attachmentTags } = reachableDigests(old, kept);
    for (const tag of [...kept, ...attachmentTags])
      assert.equal(
        now.tags[tag],
        old.tags[tag],
        `${context}: kept tag ${old.repository}:${tag} lost`,
      );
    for (const d of digests)
      assert.ok(
        now.manifests[d],
        `${context}: ${old.repository}@${d} reachable from a kept tag is gone`,
      );
  }
}

describe("retention", () => {
  describe("tag verdicts", () => {
    const repo: RepositoryState = {
      repository: "dayuhub/car-detection",
      manifests: {},
      tags: Object.fromEntries(
        [
          "v1.3",
          "v1.3-jp5",
          "v1.3-jp5-arm64",
          "v1.2",
          "v1.2-amd64",
          "v1.1",
          "v1.1-jp4",
          "buildcache-default-amd64",
          "buildcache-jp5-arm64",
          "latest",
          "debug",
          cosignTag(dg(1), ".sig"),
        ].map((t, i) => [t, dg(i + 10)]),
      ),
    };
    const policy: RetentionPolicy = {
      releases: ["v1.3", "v1.2", "v1.1"],
      keepReleases: 2,
      neverTouch: ["lat*"],
      inUse: ["dayuhub/car-detection:buildcache-default-amd64", "dayuhub/car-detection:v1.3"],
      catalogRepositories: ["dayuhub/car-detection"],
    };

    it("keeps in-use, never-touch, kept releases and unknown tags; drops old releases and unused cache", () => {
      const v = Object.fromEntries([...keptTags(repo, policy)].map(([t, x]) => [t, x.reason]));
      assert.deepEqual(v, {
        "buildcache-default-amd64": "in-use",
        "buildcache-jp5-arm64": "unused-cache",
        debug: "unknown",
        latest: "never-touch",
        "v1.1": "old-release",
        "v1.1-jp4": "old-release",
        "v1.2": "kept-release",
        "v1.2-amd64": "kept-release",
        "v1.3": "in-use",
        "v1.3-jp5": "kept-release",
        "v1.3-jp5-arm64": "kept-release",
      });
    });

    it("drops every tag of a repository removed from the catalog, but only when pruning is on", () => {
      const gone = { ...policy, catalogRepositories: [] };
      const kept = (p: RetentionPolicy) =>
        [...keptTags(repo, p)].filter(([, x]) => x.keep).map(([t]) => t);
      assert.deepEqual(kept({ ...gone, pruneRemoved: true }), [
        "buildcache-default-amd64",
        "latest",
        "v1.3",
      ]);
      assert.ok(kept(gone).includes("v1.2"));
    });

    it("places tags in the longest matching release and reads cosign tags", () => {
      assert.equal(releaseOf("v1.3-jp5-arm64", ["v1", "v1.3"]), "v1.3");
      assert.equal(releaseOf("v1.30", ["v1.3"]), undefined);
      assert.equal(cosignSubject(cosignTag(dg(7), ".att")), dg(7));
      assert.equal(cosignSubject(cosignTag(dg(7), "")), dg(7));
      assert.equal(cosignSubject("sha256-abc.sig"), undefined);
    });
  });

  describe("age limit (maxAge)", () => {
    const day = (n: number) => new Date(DAY0 + n * DAY_MS).toISOString();
    // v4 (current) and v3 built recently, v2 40 days ago in one repository but 5 in another, v1 long
    // ago, v0 with no readable build time. Index tags reach their build time through their children.
    const image = (d: string, created?: string): RegistryManifest => ({
      digest: d,
      mediaType: MANIFEST,
      ...(created ? { created } : {}),
    });
    const a: RepositoryState = {
      repository: "dayuhub/a",
      tags: { v4: dg(1), v3: dg(2), v2: dg(3), "v2-amd64": dg(13), v1: dg(4), v0: dg(5) },
      manifests: {
        [dg(1)]: { digest: dg(1), mediaType: INDEX, children: [dg(11)] },
        [dg(2)]: { digest: dg(2), mediaType: INDEX, children: [dg(12)] },
        [dg(3)]: { digest: dg(3), mediaType: INDEX, children: [dg(13)] },
        [dg(4)]: { digest: dg(4), mediaType: INDEX, children: [dg(14)] },
        [dg(5)]: { digest: dg(5), mediaType: INDEX, children: [dg(15)] },
        [dg(11)]: image(dg(11), day(99)),
        [dg(12)]: image(dg(12), day(90)),
        [dg(13)]: image(dg(13), day(60)),
        [dg(14)]: image(dg(14), day(10)),
        [dg(15)]: image(dg(15)),
      },
    };
    const b: RepositoryState = {
      repository: "dayuhub/b",
      tags: { "v2-arm64": dg(23) },
      manifests: { [dg(23)]: image(dg(23), day(95)) },
    };
    const policy: RetentionPolicy = {
      releases: ["v4", "v3", "v2", "v1", "v0"],
      keepReleases: 1,
      maxAgeMs: parseMaxAge("30d"),
      now: DAY0 + 100 * DAY_MS,
      inUse: [],
      catalogRepositories: ["dayuhub/a", "dayuhub/b"],
    };

    it("parses ages in hours, days and weeks, and refuses anything else", () => {
      assert.equal(parseMaxAge("36h"), 36 * 3_600_000);
      assert.equal(parseMaxAge("90d"), 90 * DAY_MS);
      assert.equal(parseMaxAge("8w"), 56 * DAY_MS);
      for (const bad of ["0d", "30", "30m", "1.5d", "-3d", "d", "30 d"])
        assert.throws(() => parseMaxAge(bad), /not an age/, bad);
    });

    it("dates a release by the newest image its tags reach, across repositories", () => {
      const times = releaseBuildTimes([a, b], policy.releases);
      assert.equal(times.get("v4"), DAY0 + 99 * DAY_MS, "through the index's child");
      assert.equal(times.get("v2"), DAY0 + 95 * DAY_MS, "b's newer arm64 build dates v2");
      assert.equal(times.get("v0"), undefined);
    });

    it("keeps the newest keepReleases, every release built within maxAge, and one of unknown age", () => {
      const verdicts = releaseVerdicts(policy, [a, b]).map((v) => `${v.release} ${v.reason}`);
      assert.deepEqual(verdicts, [
        "v4 kept-release",
        "v3 recent-release",
        "v2 recent-release",
        "v1 old-release",
        "v0 age-unknown",
      ]);
      const plan = retentionPlan([a, b], policy, { tagDelete: true });
      assert.deepEqual(
        plan.steps
          .filter((s) => s.kind === "delete-tag")
          .map((s) => s.kind === "delete-tag" && s.tag),
        ["v1"],
      );
    });

    it("without maxAge, only the count decides (and no build time is needed)", () => {
      const verdicts = releaseVerdicts({ ...policy, maxAgeMs: undefined, keepReleases: 2 }, [a, b]);
      assert.deepEqual(
        verdicts.map((v) => [v.release, v.keep]),
        [
          ["v4", true],
          ["v3", true],
          ["v2", false],
          ["v1", false],
          ["v0", false],
        ],
      );
      assert.ok(verdicts.every((v) => v.builtAt === undefined));
    });

    it("an age limit as strict as the count changes nothing; the count is never lowered by it", () => {
      const verdicts = releaseVerdicts({ ...policy, keepReleases: 3, maxAgeMs: 1 }, [a, b]);
      assert.deepEqual(
        verdicts.filter((v) => v.keep).map((v) => v.release),
        ["v4", "v3", "v2", "v0"],
      );
    });

    it("does not date a release by a repository being removed (a second prune must agree)", () => {
      const removing = { ...policy, catalogRepositories: ["dayuhub/a"], pruneRemoved: true };
      const v2 = releaseVerdicts(removing, [a, b]).find((v) => v.release === "v2");
      assert.deepEqual(v2, {
        release: "v2",
        keep: false,
        reason: "old-release",
        builtAt: DAY0 + 60 * DAY_MS,
      });
    });
  });

  describe("reachability and order", () => {
    // v2 index → a, b; v1 index → a (shared, unchanged), c. Signatures on both indexes, a referrer on c.
    const repo: RepositoryState = {
      repository: "e2e/x",
      tags: {
        v2: dg(1),
        v1: dg(2),
        [cosignTag(dg(1), ".sig")]: dg(20),
        [cosignTag(dg(2), ".sig")]: dg(21),
        [cosignTag(dg(20), ".att")]: dg(22),
      },
      manifests: {
        [dg(1)]: { digest: dg(1), mediaType: INDEX, children: [dg(10), dg(11)] },
        [dg(2)]: { digest: dg(2), mediaType: INDEX, children: [dg(10), dg(12)] },
        [dg(10)]: { digest: dg(10), mediaType: MANIFEST, blobs: [{ digest: dg(90), size: 7 }] },
        [dg(11)]: { digest: dg(11), mediaType: MANIFEST },
        [dg(12)]: { digest: dg(12), mediaType: MANIFEST, blobs: [{ digest: dg(91), size: 5 }] },
        [dg(13)]: { digest: dg(13), mediaType: MANIFEST, subject: dg(12), size: 3 },
        [dg(20)]: { digest: dg(20), mediaType: MANIFEST },
        [dg(21)]: { digest: dg(21), mediaType: MANIFEST, size: 2 },
        [dg(22)]: { digest: dg(22), mediaType: MANIFEST },
      },
    };
    const policy: RetentionPolicy = {
      releases: ["v2", "v1"],
      keepReleases: 1,
      inUse: [],
      catalogRepositories: ["e2e/x"],
    };

    it("reaches children, cosign tags and their own attachments to a fixed point", () => {
      const { digests, attachmentTags } = reachableDigests(repo, ["v2"]);
      assert.deepEqual([...digests].sort(), [dg(1), dg(10), dg(11), dg(20), dg(22)].sort());
      assert.deepEqual(
        [...attachmentTags].sort(),
        [cosignTag(dg(1), ".sig"), cosignTag(dg(20), ".att")].sort(),
      );
    });

    it("deletes tags first, then manifests parents before children, never a shared child", () => {
      const plan = retentionPlan([repo], policy, { tagDelete: true });
      const described = plan.steps.map((s) =>
        s.kind === "delete-tag" ? `tag ${s.tag}` : `manifest ${parseInt(s.digest.slice(7), 16)}`,
      );
      assert.deepEqual(described, [
        `tag ${cosignTag(dg(2), ".sig")}`,
        "tag v1",
        "manifest 2",
        "manifest 13",
        "manifest 12",
        "manifest 21",
      ]);
      assert.equal(plan.reclaimableBytes, 5 + 3 + 2, "blob 91 and the manifests' own sizes");
    });

    it("orders a chain of doomed manifests parent first", () => {
      const chain: RepositoryState = {
        repository: "r",
        tags: {},
        manifests: {
          [dg(3)]: { digest: dg(3), mediaType: MANIFEST },
          [dg(1)]: { digest: dg(1), mediaType: INDEX, children: [dg(2)] },
          [dg(2)]: { digest: dg(2), mediaType: INDEX, children: [dg(3)] },
          [dg(4)]: { digest: dg(4), mediaType: MANIFEST, subject: dg(1) },
        },
      };
      assert.deepEqual(parentFirst(chain, new Set([dg(1), dg(2), dg(3), dg(4)])), [
        dg(4),
        dg(1),
        dg(2),
        dg(3),
      ]);
    });

    it("without tag delete (distribution 2.8), reports a stale tag sharing a kept digest instead of deleting it", () => {
      const shared: RepositoryState = {
        ...repo,
        tags: { ...repo.tags, "v1-amd64": dg(10) },
      };
      const plan = retentionPlan([shared], policy, { tagDelete: false });
      assert.ok(plan.steps.every((s) => s.kind === "delete-manifest"));
      assert.deepEqual(plan.blocked, [
        { repository: "e2e/x", tag: "v1-amd64", digest: dg(10), sharedWith: [] },
      ]);
      assert.ok(!plan.steps.some((s) => s.kind === "delete-manifest" && s.digest === dg(10)));
    });
  });

  describe("property: random estates", () => {
    const SEEDS = 200;
    for (const caps of [{ tagDelete: true }, { tagDelete: false }]) {
      it(`${SEEDS} estates, tag delete ${caps.tagDelete}: every step keeps kept indexes whole; a second plan is empty`, () => {
        let deleted = 0;
        const reasons = new Map<string, number>();
        for (let seed = 1; seed <= SEEDS; seed++) {
          const { repos, policy } = randomEstate(seed);
          for (const v of releaseVerdicts(policy, repos))
            if (policy.maxAgeMs !== undefined)
              reasons.set(v.reason, (reasons.get(v.reason) ?? 0) + 1);
          const live = clone(repos);
          const plan = retentionPlan(repos, policy, caps);
          plan.steps.forEach((step, i) => {
            apply(live, step, caps);
            assertKeptIntact(repos, live, policy, `seed ${seed}, after step ${i + 1}`);
            // No index, kept or not, ever points at a deleted child: parents go first.
            for (const repo of live)
              for (const m of Object.values(repo.manifests))
                for (const c of m.children ?? [])
                  assert.ok(
                    repo.manifests[c],
                    `seed ${seed}, step ${i + 1}: ${m.digest} lost child ${c}`,
                  );
          });
          deleted += plan.steps.length;
          // Everything left is reachable (or, without tag delete, held by a blocked tag's digest).
          for (const repo of live) {
            const kept = [...verdictsOf(repo, live, policy)]
              .filter(([, v]) => v.keep)
              .map(([t]) => t);
            const blockedTags = plan.blocked
              .filter((b) => b.repository === repo.repository)
              .map((b) => b.tag);
            const { digests } = reachableDigests(repo, [...kept, ...blockedTags]);
            for (const d of Object.keys(repo.manifests))
              assert.ok(digests.has(d), `seed ${seed}: ${repo.repository}@${d} left unreachable`);
          }
          if (caps.tagDelete)
            for (const repo of live) {
              const verdicts = verdictsOf(repo, live, policy);
              const { attachmentTags } = reachableDigests(
                repo,
                [...verdicts].filter(([, v]) => v.keep).map(([t]) => t),
              );
              for (const tag of Object.keys(repo.tags))
                assert.ok(
                  verdicts.get(tag)?.keep || attachmentTags.has(tag),
                  `seed ${seed}: stale tag ${repo.repository}:${tag} left`,
                );
            }
          const again = retentionPlan(live, policy, caps);
          assert.deepEqual(again.steps, [], `seed ${seed}: a second prune removes nothing`);
          assert.equal(again.reclaimableBytes, 0, `seed ${seed}`);
        }
        assert.ok(deleted > SEEDS, `the estates exercised deletion (${deleted} steps)`);
        for (const r of ["recent-release", "age-unknown", "old-release"])
          assert.ok((reasons.get(r) ?? 0) > 0, `the estates exercised the age rule: ${r}`);
      });
    }
  });
});
