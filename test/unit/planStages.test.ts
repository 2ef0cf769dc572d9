/** Each planner stage on its own (estate/plan/), with plain inputs and no mocks. */
import { strict as assert } from "assert";
import { Catalog, ImageDef } from "../../estate/catalog";
import { memoryFiles } from "../../estate/files";
import { chainSteps, stepArgs } from "../../estate/plan/chain";
import { ExpandedBuild, dedupBuilds } from "../../estate/plan/dedup";
import { resolveSettings } from "../../estate/plan/expand";
import {
  BuildInputs,
  buildKey,
  buildNames,
  orderVariants,
  representativeVariant,
} from "../../estate/plan/identity";
import { imageGraph } from "../../estate/plan/imageGraph";
import { planIndexes, variantTags } from "../../estate/plan/indexes";
import { PlanInputs, readInputs } from "../../estate/plan/inputs";
import { planMirrors } from "../../estate/plan/mirrors";
import { PushedRefs } from "../../estate/plan/refs";
import { PlanError, PlanOptions } from "../../estate/planner";
import { Problems } from "../../estate/problems";

const DIGEST = `sha256:${"d".repeat(64)}`;
const OPTS: PlanOptions = {
  catalogDir: "/c",
  registry: "reg.test",
  release: "v1",
  builders: [
    { name: "amd", platform: "linux/amd64" },
    { name: "arm", platform: "linux/arm64" },
  ],
  files: memoryFiles({}),
};
const image = (name: string, extra: Partial<ImageDef> = {}): ImageDef => ({
  name,
  context: name,
  platforms: ["linux/amd64", "linux/arm64"],
  tags: ["${release}"],
  ...extra,
});
const inputsOf = (catalog: Partial<Catalog>, opts: Partial<PlanOptions> = {}) => {
  const problems = new Problems();
  const inputs = readInputs(
    { namespace: "ns", images: [], ...catalog },
    { ...OPTS, ...opts },
    problems,
  );
  return { inputs, problems };
};

describe("plan stage: identity", () => {
  const inputs: BuildInputs = {
    image: "app",
    platform: "linux/arm64",
    context: "/c/app",
    dockerfile: "/c/app/Dockerfile",
    buildArgs: { A: "1", B: "2" },
    baseArg: "BASE_IMAGE",
    base: { kind: "mirror", mirror: "node" },
  };

  it("keys a build by its inputs: arg order does not matter, every input does", () => {
    const key = buildKey(inputs);
    assert.match(key, /^[a-f0-9]{64}$/);
    assert.equal(buildKey({ ...inputs, buildArgs: { B: "2", A: "1" } }), key);
    const changed: Partial<BuildInputs>[] = [
      { image: "other" },
      { step: "s" },
      { platform: "linux/amd64" },
      { context: "/c/x" },
      { dockerfile: "/c/app/Dockerfile.x" },
      { buildArgs: { A: "1", B: "3" } },
      { target: "t" },
      { baseArg: "BASE" },
      { base: { kind: "mirror", mirror: "redis" } },
      { base: { kind: "build", key: "k" } },
      { base: undefined },
    ];
    for (const c of changed) assert.notEqual(buildKey({ ...inputs, ...c }), key, JSON.stringify(c));
  });

  it("picks default as representative when it shares, else the smallest name, in any order", () => {
    assert.equal(representativeVariant(["jp5", "default", "jp4"]), "default");
    assert.equal(representativeVariant(["jp6", "jp5"]), "jp5");
    assert.equal(representativeVariant(["jp5", "jp6"]), "jp5");
    assert.deepEqual(orderVariants(["jp6", "default", "jp4", "jp6"]), ["default", "jp4", "jp6"]);
  });

  it("names builds <image>[/<step>][/<variant>]/<arch> with tags and cache refs to match", () => {
    const base = { image: "app", arch: "arm64", repository: "r/ns/app", final: true };
    assert.deepEqual(buildNames({ ...base, variant: "default", firstTag: "v1" }), {
      id: "app/arm64",
      archTag: "v1-arm64",
      archRef: "r/ns/app:v1-arm64",
      cacheRef: "r/ns/app:buildcache-default-arm64",
    });
    assert.deepEqual(buildNames({ ...base, variant: "jp5", firstTag: "v1-jp5" }), {
      id: "app/jp5/arm64",
      archTag: "v1-jp5-arm64",
      archRef: "r/ns/app:v1-jp5-arm64",
      cacheRef: "r/ns/app:buildcache-jp5-arm64",
    });
    const step = { ...base, step: "gl", variant: "jp5", firstTag: "v1-jp5" };
    assert.equal(buildNames({ ...step, final: false }).archTag, "v1-jp5-gl-arm64");
    assert.equal(buildNames(step).archTag, "v1-jp5-arm64");
    assert.equal(buildNames(step).id, "app/gl/jp5/arm64");
    assert.equal(buildNames(step).cacheRef, "r/ns/app:buildcache-gl-jp5-arm64");
  });
});

describe("plan stage: dedup", () => {
  const e = (variant: string, key: string, platform = "linux/arm64"): ExpandedBuild => ({
    variant,
    platform,
    final: true,
    key,
    inputs: {
      image: "a",
      platform,
      context: "/c",
      dockerfile: "/c/D",
      buildArgs: {},
      baseArg: "B",
    },
  });

  it("merges equal keys in first-appearance order, sharers in canonical order", () => {
    const out = dedupBuilds([e("jp6", "k1"), e("default", "k2"), e("jp4", "k1"), e("jp5", "k2")]);
    assert.deepEqual(
      out.map((s) => [s.key, s.variants]),
      [
        ["k1", ["jp4", "jp6"]],
        ["k2", ["default", "jp5"]],
      ],
    );
  });
});

describe("plan stage: inputs", () => {
  it("refuses two builders for one platform, duplicate names and config keys naming nothing", () => {
    const { problems } = inputsOf(
      {
        images: [image("a"), image("a")],
        mirrors: [
          { name: "m", source: "x/m", repository: "m", tags: ["t"], platforms: ["linux/amd64"] },
        ],
      },
      {
        builders: [...OPTS.builders, { name: "amd2", platform: "linux/amd64" }],
        contexts: { nope: "/x" },
        mirrorSources: { gone: `x/y@${DIGEST}` },
      },
    );
    assert.deepEqual(problems.list, [
      'builders "amd" and "amd2" both serve linux/amd64: declare one builder per platform',
      'image "a" is declared twice in the catalog',
      'config contexts.nope: no image "nope" in the catalog',
      'config mirrorSources.gone: no mirror "gone" in the catalog',
    ]);
  });

  it("turns a repository prefix into a path prefix and lists the builders", () => {
    const { inputs } = inputsOf({}, { repositoryPrefix: "e2e//" });
    assert.equal(inputs.prefix, "e2e/");
    assert.equal(inputs.builderList, "amd (linux/amd64), arm (linux/arm64)");
  });
});

describe("plan stage: mirrors", () => {
  const mirror = { name: "redis", source: "docker.io/library/redis:7", repository: "redis" };
  const run = (extra: object, opts: Partial<PlanOptions> = {}) => {
    const { inputs, problems } = inputsOf(
      { mirrors: [{ ...mirror, tags: ["latest"], platforms: ["linux/amd64"], ...extra }] },
      opts,
    );
    return { mirrors: planMirrors(inputs, new PushedRefs(problems), problems), problems };
  };

  it("pins a mirror by its catalog digest, or by the stack's mirrorSources", () => {
    assert.equal(run({ digest: DIGEST }).mirrors[0].source, `docker.io/library/redis:7@${DIGEST}`);
    const pinned = run({}, { mirrorSources: { redis: `reg.up/redis@${DIGEST}` } });
    assert.equal(pinned.mirrors[0].source, `reg.up/redis@${DIGEST}`);
    assert.deepEqual(pinned.mirrors[0].refs, ["reg.test/redis:latest"]);
  });

  it("refuses an unpinned mirror or a bad digest, naming the mirror", () => {
    assert.match(run({}).problems.list[0], /^mirror "redis": .* is not pinned: set its digest/);
    assert.match(run({ digest: "sha256:abc" }).problems.list[0], /^mirror "redis": /);
    assert.deepEqual(run({}, { allowUnpinnedMirrors: true }).problems.list, []);
  });
});

describe("plan stage: image graph", () => {
  it("orders images after their bases and lists each edge once", () => {
    const { inputs, problems } = inputsOf({
      mirrors: [
        { name: "m", source: "x/m", repository: "m", tags: ["t"], platforms: ["linux/amd64"] },
      ],
      images: [
        image("app", {
          base: { image: "base" },
          platformOverrides: { "linux/arm64": { base: { image: "base" } } },
        }),
        image("base", {
          base: { mirror: "m" },
          variantOverrides: { x: { "linux/amd64": { base: { mirror: "m" } } } },
        }),
      ],
    });
    const g = imageGraph(inputs, problems);
    assert.deepEqual(
      g.order.map((i) => i.name),
      ["base", "app"],
    );
    assert.deepEqual(g.edges, [
      { from: "base", to: "app", kind: "base" },
      { from: "mirror:m", to: "base", kind: "mirror" },
    ]);
  });

  it("stops at a cycle with the problems found so far and the cycle spelled out", () => {
    const { inputs, problems } = inputsOf({
      images: [
        image("a", { base: { image: "b" } }),
        image("b", { base: { image: "a" } }),
        image("c", { base: { external: "debian:12" } }),
      ],
    });
    assert.throws(
      () => imageGraph(inputs, problems),
      (err: unknown) => {
        assert.ok(err instanceof PlanError);
        assert.deepEqual(err.problems, [
          'image "c": external base debian:12 is not pinned by digest (add @sha256:...)',
          "images form a dependency cycle: a → b → a",
        ]);
        return true;
      },
    );
  });
});

describe("plan stage: chain folders", () => {
  const files = memoryFiles({
    "/c/s/2-Dockerfile-gl": "FROM x",
    "/c/s/10-Dockerfile-app": "FROM x",
    "/c/s/gl-aarch64-args": "GL=tegra\n",
    "/c/s/gl-amd64-args": "GL=mesa\nBAD\n",
    "/c/s/notes.txt": "x",
  });

  it("lists steps in numeric order with their args files by arch", () => {
    const problems = new Problems();
    const steps = chainSteps("/c/s", files, 'image "a"', problems);
    assert.deepEqual(
      steps.map((s) => [s.descriptor, s.dockerfile, s.argsFiles]),
      [
        [
          "gl",
          "/c/s/2-Dockerfile-gl",
          { arm64: "/c/s/gl-aarch64-args", amd64: "/c/s/gl-amd64-args" },
        ],
        ["app", "/c/s/10-Dockerfile-app", {}],
      ],
    );
    assert.deepEqual(stepArgs(steps[0], "arm64", files, problems), { GL: "tegra" });
    assert.deepEqual(problems.list, []);
    assert.deepEqual(stepArgs(steps[0], "amd64", files, problems), {});
    assert.match(problems.list[0], /^\/c\/s\/gl-amd64-args:2: "BAD" has no "="/);
  });
});

describe("plan stage: expand and indexes", () => {
  it("merges image, platform and variant settings, later layers winning", () => {
    const img = image("a", {
      dockerfile: "D",
      buildArgs: { A: "1", B: "1" },
      base: { mirror: "m" },
      platformOverrides: { "linux/arm64": { dockerfile: "D.arm", buildArgs: { B: "2" } } },
      variantOverrides: { v: { "linux/arm64": { base: { mirror: "n" }, buildArgs: { C: "3" } } } },
    });
    assert.deepEqual(resolveSettings(img, "default", "linux/amd64"), {
      dockerfile: "D",
      base: { mirror: "m" },
      buildArgs: { A: "1", B: "1" },
    });
    assert.deepEqual(resolveSettings(img, "v", "linux/arm64"), {
      dockerfile: "D.arm",
      base: { mirror: "n" },
      buildArgs: { A: "1", B: "2", C: "3" },
    });
  });

  it("suffixes a variant's tags, marks release tags, and joins each variant's final builds", () => {
    const { inputs, problems } = inputsOf({ variants: [{ name: "jp5", tagSuffix: "-jp5" }] });
    const img = image("a", { tags: ["${release}", "latest"], variants: ["jp5"] });
    const tagsOf = (v: string) => variantTags(img, v, inputs as PlanInputs, problems);
    assert.deepEqual(tagsOf("jp5"), [
      { tag: "v1-jp5", release: true },
      { tag: "latest-jp5", release: false },
    ]);
    const idx = planIndexes(img, "reg.test/ns/a", ["default", "jp5"], tagsOf, (v, p) =>
      v === "jp5" && p === "linux/arm64" ? undefined : `a/${v}/${p}`,
    );
    assert.deepEqual(
      idx.map((i) => [i.id, i.ref, i.variant, i.release, i.builds.map((b) => b.platform)]),
      [
        ["a:v1", "reg.test/ns/a:v1", "default", true, ["linux/amd64", "linux/arm64"]],
        ["a:latest", "reg.test/ns/a:latest", "default", false, ["linux/amd64", "linux/arm64"]],
        ["a:v1-jp5", "reg.test/ns/a:v1-jp5", "jp5", true, ["linux/amd64"]],
        ["a:latest-jp5", "reg.test/ns/a:latest-jp5", "jp5", false, ["linux/amd64"]],
      ],
    );
  });
});
