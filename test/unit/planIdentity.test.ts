/**
 * A build's identity: the Dayu catalog's names pinned (a change to them renames Pulumi resources and
 * needs aliases), and property-style checks that no name depends on declaration order.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { Catalog, parseCatalog } from "../../estate/catalog";
import { diskFiles, memoryFiles } from "../../estate/files";
import { Plan, PlanOptions, allBuilds, allIndexes, planEstate } from "../../estate/planner";

const ROOT = path.resolve(__dirname, "../..");
const BUILDERS = [
  { name: "amd", platform: "linux/amd64" },
  { name: "arm", platform: "linux/arm64" },
];
const PIN = (n: string) => `docker.io/library/${n}@sha256:${"a".repeat(64)}`;

function dayuCatalog(): Catalog {
  return parseCatalog(fs.readFileSync(path.join(ROOT, "estate.yaml"), "utf8"), "estate.yaml");
}

function dayuOptions(catalog: Catalog, repositoryPrefix?: string): PlanOptions {
  return {
    catalogDir: ROOT,
    registry: "registry.example.test:5000",
    release: "v1.3",
    builders: BUILDERS,
    mirrorSources: Object.fromEntries((catalog.mirrors ?? []).map((m) => [m.name, PIN(m.name)])),
    repositoryPrefix,
    files: diskFiles,
  };
}

/** `id archTag cacheTag variants`, one line per build, sorted by id. */
function nameTable(plan: Plan): string {
  return allBuilds(plan)
    .map((b) =>
      [
        b.id,
        b.archTag,
        b.cacheRef.slice(b.cacheRef.lastIndexOf(":") + 1),
        b.variants.join(","),
      ].join(" "),
    )
    .sort()
    .join("\n");
}

/**
 * Today's names of the Dayu catalog. They are Pulumi resource names (each build's Image), tags
 * in the registry and cache refs: if this test fails, existing stacks would replace these builds
 * unless the change adds aliases for the old names (see components/archImage.ts).
 */
const DAYU_GOLDEN = `
age-classification/amd64 v1.3-amd64 buildcache-default-amd64 default,jp4,jp5,jp6
age-classification/arm64 v1.3-arm64 buildcache-default-arm64 default,jp4
age-classification/jp5/arm64 v1.3-jp5-arm64 buildcache-jp5-arm64 jp5
age-classification/jp6/arm64 v1.3-jp6-arm64 buildcache-jp6-arm64 jp6
atom-stock/atom/amd64 v1.3-amd64 buildcache-atom-default-amd64 default
atom-stock/atom/arm64 v1.3-arm64 buildcache-atom-default-arm64 default
atom-stock/base/amd64 v1.3-base-amd64 buildcache-base-default-amd64 default
atom-stock/base/arm64 v1.3-base-arm64 buildcache-base-default-arm64 default
atom-stock/python/amd64 v1.3-python-amd64 buildcache-python-default-amd64 default
atom-stock/python/arm64 v1.3-python-arm64 buildcache-python-default-arm64 default
backend/amd64 v1.3-amd64 buildcache-default-amd64 default
car-detection/amd64 v1.3-amd64 buildcache-default-amd64 default,jp4,jp5,jp6
car-detection/arm64 v1.3-arm64 buildcache-default-arm64 default,jp4
car-detection/jp5/arm64 v1.3-jp5-arm64 buildcache-jp5-arm64 jp5
car-detection/jp6/arm64 v1.3-jp6-arm64 buildcache-jp6-arm64 jp6
category-identification/amd64 v1.3-amd64 buildcache-default-amd64 default,jp4,jp5,jp6
category-identification/arm64 v1.3-arm64 buildcache-default-arm64 default,jp4
category-identification/jp5/arm64 v1.3-jp5-arm64 buildcache-jp5-arm64 jp5
category-identification/jp6/arm64 v1.3-jp6-arm64 buildcache-jp6-arm64 jp6
controller/amd64 v1.3-amd64 buildcache-default-amd64 default
controller/arm64 v1.3-arm64 buildcache-default-arm64 default
datasource/amd64 v1.3-amd64 buildcache-default-amd64 default
datasource/arm64 v1.3-arm64 buildcache-default-arm64 default
dayubase/amd64 latest-amd64 buildcache-default-amd64 default,jp4,jp5,jp6
dayubase/arm64 latest-arm64 buildcache-default-arm64 default,jp4
dayubase/jp5/arm64 latest-jp5-arm64 buildcache-jp5-arm64 jp5
dayubase/jp6/arm64 latest-jp6-arm64 buildcache-jp6-arm64 jp6
distributor/amd64 v1.3-amd64 buildcache-default-amd64 default
exposure-identification/amd64 v1.3-amd64 buildcache-default-amd64 default,jp4,jp5,jp6
exposure-identification/arm64 v1.3-arm64 buildcache-default-arm64 default,jp4
exposure-identification/jp5/arm64 v1.3-jp5-arm64 buildcache-jp5-arm64 jp5
exposure-identification/jp6/arm64 v1.3-jp6-arm64 buildcache-jp6-arm64 jp6
face-detection/amd64 v1.3-amd64 buildcache-default-amd64 default,jp4,jp5,jp6
face-detection/arm64 v1.3-arm64 buildcache-default-arm64 default,jp4
face-detection/jp5/arm64 v1.3-jp5-arm64 buildcache-jp5-arm64 jp5
face-detection/jp6/arm64 v1.3-jp6-arm64 buildcache-jp6-arm64 jp6
frontend/amd64 v1.3-amd64 buildcache-default-amd64 default
gender-classification/amd64 v1.3-amd64 buildcache-default-amd64 default,jp4,jp5,jp6
gender-classification/arm64 v1.3-arm64 buildcache-default-arm64 default,jp4
gender-classification/jp5/arm64 v1.3-jp5-arm64 buildcache-jp5-arm64 jp5
gender-classification/jp6/arm64 v1.3-jp6-arm64 buildcache-jp6-arm64 jp6
generator/amd64 v1.3-amd64 buildcache-default-amd64 default
generator/arm64 v1.3-arm64 buildcache-default-arm64 default
license-plate-recognition/amd64 v1.3-amd64 buildcache-default-amd64 default,jp4,jp5,jp6
license-plate-recognition/arm64 v1.3-arm64 buildcache-default-arm64 default,jp4
license-plate-recognition/jp5/arm64 v1.3-jp5-arm64 buildcache-jp5-arm64 jp5
license-plate-recognition/jp6/arm64 v1.3-jp6-arm64 buildcache-jp6-arm64 jp6
model-switch-detection/amd64 v1.3-amd64 buildcache-default-amd64 default,jp4,jp5,jp6
model-switch-detection/arm64 v1.3-arm64 buildcache-default-arm64 default,jp4
model-switch-detection/jp5/arm64 v1.3-jp5-arm64 buildcache-jp5-arm64 jp5
model-switch-detection/jp6/arm64 v1.3-jp6-arm64 buildcache-jp6-arm64 jp6
monitor/amd64 v1.3-amd64 buildcache-default-amd64 default,jp4,jp5,jp6
monitor/arm64 v1.3-arm64 buildcache-default-arm64 default,jp4
monitor/jp5/arm64 v1.3-jp5-arm64 buildcache-jp5-arm64 jp5
monitor/jp6/arm64 v1.3-jp6-arm64 buildcache-jp6-arm64 jp6
pedestrian-detection/amd64 v1.3-amd64 buildcache-default-amd64 default,jp4,jp5,jp6
pedestrian-detection/arm64 v1.3-arm64 buildcache-default-arm64 default,jp4
pedestrian-detection/jp5/arm64 v1.3-jp5-arm64 buildcache-jp5-arm64 jp5
pedestrian-detection/jp6/arm64 v1.3-jp6-arm64 buildcache-jp6-arm64 jp6
rtsp-server/amd64 latest-amd64 buildcache-default-amd64 default
rtsp-server/arm64 latest-arm64 buildcache-default-arm64 default
scheduler/amd64 v1.3-amd64 buildcache-default-amd64 default
vehicle-detection/amd64 v1.3-amd64 buildcache-default-amd64 default,jp4,jp5,jp6
vehicle-detection/arm64 v1.3-arm64 buildcache-default-arm64 default,jp4
vehicle-detection/jp5/arm64 v1.3-jp5-arm64 buildcache-jp5-arm64 jp5
vehicle-detection/jp6/arm64 v1.3-jp6-arm64 buildcache-jp6-arm64 jp6
`.trim();

describe("build identity on the Dayu catalog", () => {
  it("keeps today's build ids, per-arch tags and cache refs (golden)", () => {
    const catalog = dayuCatalog();
    const plan = planEstate(catalog, dayuOptions(catalog));
    assert.equal(nameTable(plan), DAYU_GOLDEN);
    // Unchanged names need no aliases.
    assert.deepEqual(
      allBuilds(plan).filter((b) => b.formerIds),
      [],
    );
  });

  it("names the e2e estate's builds the same (only the repositories carry the prefix)", () => {
    const catalog = dayuCatalog();
    const plan = planEstate(catalog, dayuOptions(catalog, "e2e"));
    assert.equal(nameTable(plan), DAYU_GOLDEN);
    for (const b of allBuilds(plan)) {
      assert.ok(b.archRef.startsWith("registry.example.test:5000/e2e/"), b.archRef);
      assert.equal(b.archRef, `${b.repository}:${b.archTag}`);
    }
  });
});

/** A deterministic PRNG (mulberry32), so a failing shuffle can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: readonly T[], rnd: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** The catalog with its variants, its images and each image's variant list in a random order. */
function shuffledCatalog(catalog: Catalog, rnd: () => number): Catalog {
  return {
    ...catalog,
    variants: catalog.variants && shuffled(catalog.variants, rnd),
    images: shuffled(catalog.images, rnd).map((img) =>
      img.variants ? { ...img, variants: shuffled(img.variants, rnd) } : img,
    ),
  };
}

/** What must not depend on order: every build's names and sharers, every index and its builds. */
function identity(plan: Plan): { builds: string[]; indexes: string[] } {
  return {
    builds: allBuilds(plan)
      .map((b) => JSON.stringify([b.id, b.key, b.archRef, b.cacheRef, b.variants, b.base ?? null]))
      .sort(),
    indexes: allIndexes(plan)
      .map((i) => JSON.stringify([i.id, i.ref, i.variant, i.release, i.builds]))
      .sort(),
  };
}

const SHUFFLES = 50;

describe("build identity does not depend on declaration order (seeded shuffles)", () => {
  it(`Dayu catalog: ${SHUFFLES} shuffles of variants, images and image variant lists`, () => {
    const catalog = dayuCatalog();
    const expected = identity(planEstate(catalog, dayuOptions(catalog)));
    for (let seed = 1; seed <= SHUFFLES; seed++) {
      const c = shuffledCatalog(catalog, random(seed));
      assert.deepEqual(identity(planEstate(c, dayuOptions(c))), expected, `seed ${seed}`);
    }
  });

  it(`a build shared by two non-default variants: ${SHUFFLES} shuffles, one name`, () => {
    const catalog = sharedCatalog();
    const plan = planEstate(catalog, SMALL_OPTIONS);
    const shared = allBuilds(plan).find((b) => b.variants.join() === "v2,v3");
    assert.ok(shared, nameTable(plan));
    assert.equal(shared.id, "app/v2/arm64");
    assert.equal(shared.archTag, "1.0-v2-arm64");
    assert.equal(shared.cacheRef, "reg.test/ns/app:buildcache-v2-arm64");
    const expected = identity(plan);
    for (let seed = 1; seed <= SHUFFLES; seed++) {
      const c = shuffledCatalog(catalog, random(seed));
      assert.deepEqual(identity(planEstate(c, SMALL_OPTIONS)), expected, `seed ${seed}`);
    }
  });

  it("aliases the name a build had when declaration order named it", () => {
    // The image lists [v3, v2]: the shared build used to be named after v3, the first sharer listed.
    const plan = planEstate(sharedCatalog(), SMALL_OPTIONS);
    const renamed = allBuilds(plan).filter((b) => b.formerIds);
    assert.deepEqual(
      renamed.map((b) => [b.id, b.formerIds]),
      [["app/v2/arm64", ["app/v3/arm64"]]],
    );
  });

  it("renaming a variant renames only the builds named after it", () => {
    const before = planEstate(sharedCatalog(), SMALL_OPTIONS);
    const renamed = planEstate(sharedCatalog("v9"), SMALL_OPTIONS);
    // v3 → v9 still sorts after v2: the shared arm64 build keeps its name and key.
    assert.deepEqual(
      allBuilds(renamed).map((b) => [b.id, b.key, b.archRef]),
      allBuilds(before).map((b) => [b.id, b.key, b.archRef]),
    );
    // v3 → v1 sorts first: the shared build is now named after v1; its key does not change.
    const first = planEstate(sharedCatalog("v1"), SMALL_OPTIONS);
    const shared = allBuilds(first).find((b) => b.variants.join() === "v1,v2");
    assert.equal(shared?.id, "app/v1/arm64");
    assert.equal(shared?.key, allBuilds(before).find((b) => b.id === "app/v2/arm64")?.key);
  });
});

const DF = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n";
const SMALL_OPTIONS: PlanOptions = {
  catalogDir: "/c",
  registry: "reg.test",
  release: "1.0",
  builders: BUILDERS,
  files: memoryFiles({ "/c/base/Dockerfile": "FROM scratch\n", "/c/app/Dockerfile": DF }),
};

/**
 * base → app; app's variants v2 and `other` (default v3) build the same arm64 half (`JETSON=1`),
 * different from the default's, so `default` does not share it and the smaller name must win.
 */
function sharedCatalog(other = "v3"): Catalog {
  const jetson = { "linux/arm64": { buildArgs: { JETSON: "1" } } };
  return {
    namespace: "ns",
    variants: [
      { name: other, tagSuffix: `-${other}` },
      { name: "v2", tagSuffix: "-v2" },
    ],
    images: [
      {
        name: "app",
        context: "app",
        platforms: ["linux/amd64", "linux/arm64"],
        tags: ["${release}", "latest"],
        base: { image: "base" },
        variants: [other, "v2"],
        variantOverrides: { [other]: jetson, v2: jetson },
      },
      {
        name: "base",
        context: "base",
        platforms: ["linux/amd64", "linux/arm64"],
        tags: ["latest"],
      },
    ],
  };
}
