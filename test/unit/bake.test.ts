import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  BakePrint,
  bakeEntries,
  countPlannedBuilds,
  importBake,
  variantSuffixes,
} from "../../estate/bake";
import { Catalog } from "../../estate/catalog";
import { diskFiles, memoryFiles } from "../../estate/files";
import { allIndexes, planEstate } from "../../estate/planner";
import { parseReference } from "../../estate/reference";
import { runImport } from "../../scripts/import";

const fixture = path.resolve(__dirname, "../fixtures/dayu-shaped");
const captured = JSON.parse(
  fs.readFileSync(path.join(fixture, "bake-print.json"), "utf8"),
) as BakePrint;

/** `repository:tag` → platforms, as bake pushes them (per-arch dayubase targets joined). */
function bakeTags(print: BakePrint): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of Object.values(print.target)) {
    const platforms = t.platforms ?? [];
    for (const tag of t.tags ?? []) {
      const r = parseReference(tag);
      let name = r.tag as string;
      if (platforms.length === 1)
        name = name.replace(new RegExp(`-${platforms[0].split("/")[1]}$`), "");
      const key = `${r.repository}:${name}`;
      out.set(key, [...new Set([...(out.get(key) ?? []), ...platforms])].sort());
    }
  }
  return out;
}

/** The same map from what today's planner plans for a catalog (declared bases left out). */
function plannedTags(catalog: Catalog, catalogDir: string): Map<string, string[]> {
  const plain: Catalog = {
    ...catalog,
    // Today's planner passes a declared base in ARG BASE_IMAGE, which Dayu's Dockerfiles lack;
    // tags and platforms do not depend on it.
    images: catalog.images.map(({ base: _base, ...i }) => i),
  };
  const plan = planEstate(plain, {
    catalogDir,
    registry: "registry.dayu.test:5443",
    release: "v1.4",
    builders: [
      { name: "amd64", platform: "linux/amd64" },
      { name: "arm64", platform: "linux/arm64" },
    ],
    files: diskFiles,
  });
  const out = new Map<string, string[]>();
  for (const i of allIndexes(plan)) {
    const r = parseReference(i.ref);
    out.set(`${r.repository}:${r.tag}`, i.builds.map((b) => b.platform).sort());
  }
  return out;
}

const sorted = (m: Map<string, string[]>) => [...m].sort(([a], [b]) => a.localeCompare(b));

describe("bake import: mapping a captured `bake --print`", () => {
  const result = importBake(captured, { root: "../fixtures/dayu-shaped", release: "v1.4" });
  const byName = new Map(result.catalog.images.map((i) => [i.name, i]));

  it("maps targets to images, the matrix suffixes to variants, everything mapped", () => {
    assert.deepEqual(result.unmapped, []);
    assert.equal(result.catalog.namespace, "dayuhub");
    assert.deepEqual(result.catalog.variants, [
      { name: "jp4", tagSuffix: "-jp4" },
      { name: "jp5", tagSuffix: "-jp5" },
      { name: "jp6", tagSuffix: "-jp6" },
    ]);
    assert.deepEqual([...byName.keys()].sort(), [
      "backend",
      "car-detection",
      "datasource",
      "dayubase",
      "face-detection",
      "frontend",
      "generator",
      "monitor",
      "rtsp-server",
    ]);
    assert.deepEqual(result.registries, ["docker.io"]);
    assert.equal(result.bakeBuilds, 40);
  });

  it("a processor: one image, release tag, four variants differing in TAG", () => {
    assert.deepEqual(byName.get("car-detection"), {
      name: "car-detection",
      context: "../fixtures/dayu-shaped",
      platforms: ["linux/amd64", "linux/arm64"],
      tags: ["${release}"],
      dockerfile: "build/car_detection.Dockerfile",
      buildArgs: { BASE_REPO: "dayuhub", REG: "docker.io", TAG: "latest" },
      variants: ["jp4", "jp5", "jp6"],
      variantOverrides: Object.fromEntries(
        ["jp4", "jp5", "jp6"].map((v) => [
          v,
          {
            "linux/amd64": { buildArgs: { TAG: `latest-${v}` } },
            "linux/arm64": { buildArgs: { TAG: `latest-${v}` } },
          },
        ]),
      ),
    });
  });

  it("dayubase: eight per-arch targets become one image with per-platform and per-variant Dockerfiles", () => {
    const d = byName.get("dayubase");
    assert.deepEqual(d?.tags, ["latest"]);
    assert.deepEqual(d?.platforms, ["linux/amd64", "linux/arm64"]);
    assert.equal(d?.dockerfile, "build/dayubase_amd64.Dockerfile");
    assert.deepEqual(d?.platformOverrides, {
      "linux/arm64": { dockerfile: "build/dayubase_jp4.Dockerfile" },
    });
    assert.deepEqual(d?.variantOverrides, {
      jp5: { "linux/arm64": { dockerfile: "build/dayubase_jp5.Dockerfile" } },
      jp6: { "linux/arm64": { dockerfile: "build/dayubase_jp6.Dockerfile" } },
    });
  });

  it("contexts = target:rtsp-server becomes the base", () => {
    assert.deepEqual(byName.get("datasource")?.base, { image: "rtsp-server" });
  });

  it("the catalog plans exactly bake's tags and platforms", () => {
    const catalogDir = path.resolve(__dirname, "../fixtures/x");
    const imported = importBake(captured, { root: "../dayu-shaped", release: "v1.4" });
    assert.equal(bakeTags(captured).size, 21); // dayubase 4, 3 processors × 4, 5 single-tag images
    assert.deepEqual(sorted(plannedTags(imported.catalog, catalogDir)), sorted(bakeTags(captured)));
  });

  it("counts 24 builds for bake's 40: amd64 halves and identical arm64 halves shared", () => {
    const imported = importBake(captured, { root: "../dayu-shaped" });
    const count = countPlannedBuilds(
      imported.catalog,
      path.resolve(__dirname, "../fixtures/x"),
      diskFiles,
    );
    assert.deepEqual(count.problems, []);
    assert.deepEqual(count.perImage, {
      backend: 1,
      "car-detection": 4, // 1 amd64 + arm64 default/jp4 (same base build), jp5, jp6
      datasource: 2,
      dayubase: 4, // 1 amd64 + jp4 (= default arm64), jp5, jp6
      "face-detection": 4,
      frontend: 1,
      generator: 2,
      monitor: 4,
      "rtsp-server": 2,
    });
    assert.equal(count.builds, 24);
  });
});

describe("bake import: what cannot be mapped is reported", () => {
  it("names the target and the field", () => {
    const unmapped: string[] = [];
    const entries = bakeEntries(
      {
        target: {
          a: {
            platforms: ["linux/amd64"],
            tags: ["r/x:1"],
            secret: ["id=x"],
            output: ["type=registry"],
          },
          b: { tags: ["r/y:1"] },
          c: { platforms: ["linux/amd64"] },
          d: { platforms: ["linux/amd64"], tags: ["Bad:1"] },
        },
      },
      unmapped,
    );
    assert.deepEqual(
      entries.map((e) => e.target),
      ["a"],
    );
    assert.deepEqual(unmapped.slice(0, 3), [
      'target "a": secret is not mapped to the catalog',
      'target "b": no platforms (the catalog needs them explicitly)',
      'target "c": no tags, so it pushes nothing the estate could own',
    ]);
    assert.match(unmapped[3], /^target "d": reference "Bad:1": .*lowercase/);
  });

  it("a local named context, a variant lacking a platform and an arg a variant drops", () => {
    const r = importBake(
      {
        target: {
          "x-default": {
            platforms: ["linux/amd64", "linux/arm64"],
            tags: ["ns/x:1"],
            args: { A: "1" },
            contexts: { deps: "./deps" },
          },
          "x-jp5": { platforms: ["linux/arm64"], tags: ["ns/x:1-jp5"] },
        },
      },
      { root: "." },
    );
    assert.deepEqual(r.unmapped, [
      'image "x": variant "jp5" builds linux/arm64 but the default builds linux/amd64, linux/arm64; the catalog gives every variant the image\'s platforms',
      'target "x-jp5" (linux/arm64): does not set arg A, which the catalog cannot unset',
      'target "x-default": contexts.deps = "./deps" is not an estate target or a pinned image: not mapped',
    ]);
  });

  it("tells variant suffixes from plain tags", () => {
    const e = (target: string, tags: string[]) => ({
      target,
      registry: "docker.io",
      repository: "r",
      tags,
      platforms: ["linux/amd64"],
      context: ".",
      dockerfile: "Dockerfile",
      args: {},
      contexts: {},
    });
    const entries = [e("a", ["v1", "latest"]), e("b", ["v1-jp5", "latest-jp5"]), e("c", ["v1_rc"])];
    const s = variantSuffixes(entries);
    assert.deepEqual(s.baseTags, ["v1", "latest"]);
    assert.deepEqual(
      entries.map((x) => s.suffixOf.get(x)),
      ["", "-jp5", "_rc"],
    );
  });
});

describe("bake import: counting builds on a hand-made catalog", () => {
  it("an arg a stage reads keeps variants apart; one only FROM reads does not", () => {
    const files = memoryFiles({
      "/c/Dockerfile": "ARG TAG=latest\nFROM alpine:3\nARG MODE\nRUN echo $MODE",
    });
    const catalog: Catalog = {
      namespace: "ns",
      variants: [
        { name: "a", tagSuffix: "-a" },
        { name: "b", tagSuffix: "-b" },
      ],
      images: [
        {
          name: "x",
          context: "c",
          platforms: ["linux/amd64"],
          tags: ["1"],
          variants: ["a", "b"],
          variantOverrides: {
            a: { "linux/amd64": { buildArgs: { TAG: "other" } } },
            b: { "linux/amd64": { buildArgs: { MODE: "fast" } } },
          },
        },
      ],
    };
    assert.deepEqual(countPlannedBuilds(catalog, "/", files).perImage, { x: 2 });
  });
});

describe("bake import with the real buildx", () => {
  it("runs `buildx bake --print` on the Dayu-shaped bake file and writes a valid catalog", function () {
    this.timeout(60000);
    const buildx = process.env.DAYU_BUILDX ?? path.resolve(__dirname, "../../.tools/bin/buildx");
    // Fails, never skips, when buildx is missing: the importer cannot work without it.
    assert.ok(fs.existsSync(buildx), `buildx not found at ${buildx} (run scripts/toolchain.sh)`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "estate-import-"));
    try {
      const out = path.join(dir, "estate.imported.yaml");
      const r = runImport({ checkout: fixture, group: "all-images", release: "v1.4", out, buildx });
      assert.deepEqual(r.result.unmapped, []);
      assert.equal(r.result.bakeBuilds, 40);
      assert.equal(r.count.builds, 24);
      assert.match(
        r.summary,
        /bake would run 40 per-platform builds; the plan runs 24 \(16 shared/,
      );
      assert.deepEqual(
        r.result.catalog,
        importBake(captured, {
          root: path.relative(dir, fixture),
          release: "v1.4",
        }).catalog,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the missing buildx", () => {
    assert.throws(
      () => runImport({ checkout: fixture, buildx: "/nonexistent/buildx" }),
      /buildx not found at \/nonexistent\/buildx \(set DAYU_BUILDX/,
    );
  });
});
