import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { countWrites, IMAGE_TYPE, INDEX_TYPE } from "../../bench/events";
import { parseArgs } from "../../bench/run";
import { affected, archLabel, scriptSteps, stepCounts, stepLines } from "../../bench/scriptPlan";
import {
  buildSecondsByPlatform,
  fmtCounts,
  perPlatformLine,
  growthExponent,
  median,
  pairedRatio,
  ratio,
  scaleTable,
  checkpointFacts,
  scenarioTable,
  spread,
} from "../../bench/stats";
import {
  BASE_FACTOR,
  COMPONENT_COST,
  leafKind,
  markDockerfile,
  readDockerfiles,
  realisticDockerfiles,
  scaleWorkload,
  scaledCost,
  withCost,
} from "../../bench/workload";
import { Catalog, parseCatalog } from "../../estate/catalog";
import { diskFiles, memoryFiles } from "../../estate/files";
import { allBuilds, allIndexes, Plan, planEstate } from "../../estate/planner";

const ROOT = path.resolve(__dirname, "../..");
const REG = "registry.example.test:5000";
const BUILDERS = [
  { name: "dayu-amd64", platform: "linux/amd64" },
  { name: "dayu-arm64", platform: "linux/arm64" },
];
const PIN = (n: string) => `docker.io/library/${n}@sha256:${"a".repeat(64)}`;

function dayu(prefix = ""): { catalog: Catalog; plan: Plan } {
  const catalog = parseCatalog(
    fs.readFileSync(path.join(ROOT, "estate.yaml"), "utf8"),
    "estate.yaml",
  );
  const plan = planEstate(catalog, {
    catalogDir: ROOT,
    registry: REG,
    release: "v1.3",
    builders: BUILDERS,
    mirrorSources: Object.fromEntries((catalog.mirrors ?? []).map((m) => [m.name, PIN(m.name)])),
    repositoryPrefix: prefix,
    files: diskFiles,
  });
  return { catalog, plan };
}

describe("bench: the Dayu-style script's build list", () => {
  const { catalog, plan } = dayu("bench/s");
  const steps = scriptSteps(catalog, plan, `${REG}/bench/s`);
  const builds = steps.filter((s) => s.kind === "build");

  it("builds every (image, variant, platform) without dedup: 114 builds, the plan's 57 indexes", () => {
    const counts = stepCounts(steps);
    // 108 for Dayu's images and variants, plus the atom-stock chain's 3 steps on 2 platforms.
    assert.equal(counts.builds, 114);
    assert.equal(counts.indexes, allIndexes(plan).length);
    assert.equal(counts.indexes, 57);
    // The program builds fewer: the amd64 half of every JetPack variant once.
    assert.equal(allBuilds(plan).length, 66);
    // Every variant's planned build is one script build, plus the duplicates the dedup removed.
    const expanded = allBuilds(plan).reduce((n, b) => n + b.variants.length, 0);
    assert.equal(expanded, 114);
  });

  it("builds car-detection's amd64 once per variant, each with the variant's TAG and REG", () => {
    const car = builds.filter(
      (s) => s.kind === "build" && s.image === "car-detection" && s.platform === "linux/amd64",
    );
    assert.deepEqual(
      car.map((s) =>
        s.kind === "build" ? [s.variant, s.buildArgs.TAG ?? "(default)", s.ref] : [],
      ),
      [
        ["default", "(default)", `${REG}/bench/s/dayuhub/car-detection:v1.3-amd64`],
        ["jp4", "latest-jp4", `${REG}/bench/s/dayuhub/car-detection:v1.3-jp4-amd64`],
        ["jp5", "latest-jp5", `${REG}/bench/s/dayuhub/car-detection:v1.3-jp5-amd64`],
        ["jp6", "latest-jp6", `${REG}/bench/s/dayuhub/car-detection:v1.3-jp6-amd64`],
      ],
    );
    for (const s of car) if (s.kind === "build") assert.equal(s.buildArgs.REG, `${REG}/bench/s`);
    assert.ok(car.every((s) => s.kind === "build" && s.builder === "dayu-amd64"));
  });

  it("uses each variant's Dockerfile (dayubase's JetPack ones on arm64, the amd64 one four times)", () => {
    const base = builds.filter((s) => s.kind === "build" && s.image === "dayubase");
    const files = base.map((s) =>
      s.kind === "build"
        ? `${s.variant} ${archLabel(s.platform)} ${path.basename(s.dockerfile)}`
        : "",
    );
    assert.deepEqual(files, [
      "default amd64 dayubase_amd64.Dockerfile",
      "default arm64 dayubase_jp4.Dockerfile",
      "jp4 amd64 dayubase_amd64.Dockerfile",
      "jp4 arm64 dayubase_jp4.Dockerfile",
      "jp5 amd64 dayubase_amd64.Dockerfile",
      "jp5 arm64 dayubase_jp5.Dockerfile",
      "jp6 amd64 dayubase_amd64.Dockerfile",
      "jp6 arm64 dayubase_jp6.Dockerfile",
    ]);
  });

  it("passes an Atom-style base by tag, not by digest", () => {
    const ds = builds.find((s) => s.kind === "build" && s.image === "datasource");
    assert.ok(ds && ds.kind === "build");
    assert.equal(ds.buildArgs.BASE_IMAGE, `${REG}/bench/s/dayuhub/rtsp-server:latest`);
  });

  it("orders mirrors first, every build before the indexes that use it, bases before dependents", () => {
    const pos = (pred: (s: (typeof steps)[number]) => boolean) => steps.findIndex(pred);
    assert.equal(steps[0].kind, "mirror");
    // Every mirror ref, and library/node once more as <REG>/node (what `FROM ${REG}/node:20` reads)
    assert.equal(
      stepCounts(steps).mirrors,
      plan.mirrors.reduce((n, m) => n + m.refs.length, 0) + 1,
    );
    assert.ok(steps.some((s) => s.kind === "mirror" && s.target === `${REG}/bench/s/node:20`));
    for (const [i, s] of steps.entries()) {
      if (s.kind !== "index") continue;
      assert.equal(s.sources.length > 0, true);
      for (const src of s.sources) {
        const at = pos((x) => x.kind === "build" && x.ref === src);
        assert.ok(at >= 0 && at < i, `${s.ref}: source ${src} is built before`);
      }
    }
    const lastBase = Math.max(
      ...steps.map((s, i) => (s.kind === "index" && s.image === "dayubase" ? i : -1)),
    );
    const firstCar = pos((s) => s.kind === "build" && s.image === "car-detection");
    assert.ok(
      lastBase < firstCar,
      "dayubase's indexes exist before car-detection pulls them by tag",
    );
  });

  it("prints tab-separated lines the script reads, and refuses a field with a tab", () => {
    const lines = stepLines(steps);
    const b = lines.find((l) => l.startsWith("build\tcar-detection\tjp5\tlinux/arm64\t"));
    assert.ok(b);
    const f = b.split("\t");
    assert.equal(f[4], "dayu-arm64");
    assert.equal(f[7], `${REG}/bench/s/dayuhub/car-detection:v1.3-jp5-arm64`);
    assert.ok(f.slice(8).includes("TAG=latest-jp5"));
    assert.throws(
      () => stepLines([{ kind: "index", image: "x", ref: "a\tb", sources: [] }]),
      /a tab or newline/,
    );
  });

  it("builds an Atom-style chain step by step, each step on the previous one's per-arch tag", () => {
    const chainCatalog = parseCatalog(
      "namespace: t\nimages:\n  - { name: atom, context: ctx, chain: stock, platforms: [linux/amd64], tags: [v1] }\n",
      "c.yaml",
    );
    const files = memoryFiles({
      "/p/ctx/stock/10-Dockerfile-base": "FROM scratch\nCOPY a /\n",
      "/p/ctx/stock/20-Dockerfile-top": "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY a /b\n",
      "/p/ctx/a": "x",
    });
    const chainPlan = planEstate(chainCatalog, {
      catalogDir: "/p",
      registry: REG,
      release: "v1",
      builders: BUILDERS,
      files,
    });
    const steps = scriptSteps(chainCatalog, chainPlan, REG);
    const builds = steps.filter((s) => s.kind === "build");
    assert.deepEqual(
      builds.map((b) => path.basename(b.dockerfile)),
      ["10-Dockerfile-base", "20-Dockerfile-top"],
    );
    assert.equal(builds[0].buildArgs.BASE_IMAGE, undefined);
    assert.equal(builds[1].buildArgs.BASE_IMAGE, builds[0].ref);
    const index = steps.find((s) => s.kind === "index");
    assert.deepEqual(index?.kind === "index" && index.sources, [builds[1].ref]);
  });

  it("names what a change touches: a leaf only itself, dayubase everything built on it", () => {
    const leaf = affected(plan, "car-detection");
    assert.deepEqual(leaf.images, ["car-detection"]);
    // amd64 once, arm64 default/jp4 shared, jp5, jp6; an index per variant
    assert.deepEqual([leaf.builds, leaf.indexes], [4, 4]);
    const base = affected(plan, "dayubase");
    assert.ok(!base.images.includes("frontend"), "frontend is on the node mirror");
    assert.ok(base.images.includes("datasource"), "datasource through rtsp-server");
    const frontend = plan.images.find((i) => i.name === "frontend");
    assert.equal(base.builds, allBuilds(plan).length - (frontend?.builds.length ?? 0));
  });
});

describe("bench: workloads", () => {
  it("scales a build's cost, a base at BASE_FACTOR times a component, never below 1 MB", () => {
    assert.deepEqual(scaledCost(false, 1), COMPONENT_COST);
    assert.deepEqual(scaledCost(true, 1), {
      hashMB: COMPONENT_COST.hashMB * BASE_FACTOR,
      layerMB: COMPONENT_COST.layerMB * BASE_FACTOR,
    });
    assert.deepEqual(scaledCost(false, 0.001), { hashMB: 1, layerMB: 1 });
  });

  it("appends one deterministic cost step (hash of zeros, a layer of random bytes) to every Dockerfile", () => {
    const dfs = readDockerfiles(path.join(ROOT, "dockerfiles"));
    const out = realisticDockerfiles(dfs, 0.5);
    assert.deepEqual(Object.keys(out).sort(), Object.keys(dfs).sort());
    assert.ok(Object.keys(out).length >= 20);
    const base = out["build/dayubase_jp5.Dockerfile"];
    assert.ok(base.startsWith(dfs["build/dayubase_jp5.Dockerfile"].trimEnd()));
    assert.match(base, /count=384 2>\/dev\/null \| sha256sum/);
    assert.match(base, /of=\/opt\/bench\/dayubase_jp5\.bin bs=1048576 count=24 /);
    assert.match(out["build/car_detection.Dockerfile"], /count=128 2>\/dev\/null \| sha256sum/);
    assert.equal(
      realisticDockerfiles(dfs, 0.5)["build/car_detection.Dockerfile"],
      out["build/car_detection.Dockerfile"],
    );
  });

  it("marks a Dockerfile: the cost step's mark replaced, else a step appended; a bad mark refused", () => {
    const costed = withCost("FROM x\n", "a", { hashMB: 1, layerMB: 1 });
    const marked = markDockerfile(costed, "leaf-1");
    assert.match(marked, /echo "bench mark leaf-1"/);
    assert.equal(marked.split("\n").length, costed.split("\n").length);
    assert.equal(
      markDockerfile("FROM x", "m2"),
      'FROM x\nRUN echo "bench mark m2" > /opt/bench-mark\n',
    );
    const twice = markDockerfile(markDockerfile("FROM x\n", "a"), "b");
    assert.equal(twice.match(/bench mark/g)?.length, 1);
    assert.match(twice, /bench mark b/);
    assert.throws(() => markDockerfile("FROM x\n", "a b"), /letters, digits/);
  });

  it("generates a scale catalog of n images the planner accepts, in Dayu's mix", () => {
    const files = scaleWorkload(12, "docker.io/library/redis:7.2");
    const catalog = parseCatalog(files["estate.yaml"], "estate.yaml");
    assert.equal(catalog.images.length, 12);
    const abs = Object.fromEntries(Object.entries(files).map(([k, v]) => [`/w/${k}`, v]));
    const plan = planEstate(catalog, {
      catalogDir: "/w",
      registry: REG,
      release: "v1.3",
      builders: BUILDERS,
      mirrorSources: { redis: PIN("redis") },
      files: memoryFiles(abs),
    });
    assert.deepEqual([0, 1, 2, 3, 4].map(leafKind), [
      "jetpack",
      "jetpack",
      "dual",
      "amd64",
      "jetpack",
    ]);
    // base and jetpack leaves: amd64 once, arm64 3 (default = jp4), as dayubase and car-detection;
    // 6 jetpack leaves, 3 dual × 2, 2 amd64 × 1
    assert.equal(allBuilds(plan).length, 4 + 6 * 4 + 3 * 2 + 2 * 1);
    assert.equal(allIndexes(plan).length, 4 + 6 * 4 + 3 + 2);
    const app = plan.images.find((i) => i.name === "app-001");
    assert.ok(
      app?.builds.every((b) => b.contexts.some((c) => c.key.startsWith("dayuhub/scalebase"))),
    );
    assert.throws(() => scaleWorkload(1, "x"), /n must be an integer ≥ 2/);
    const doc = parseYaml(files["estate.yaml"]) as { mirrors: { source: string }[] };
    assert.equal(doc.mirrors[0].source, "docker.io/library/redis:7.2");
  });
});

describe("bench: figures", () => {
  it("takes medians, spreads and ratios", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.throws(() => median([]), /no values/);
    assert.deepEqual(spread([5, 1, 3]), { min: 1, median: 3, max: 5 });
    assert.equal(ratio(1, 4), 0.25);
    assert.equal(ratio(1, 0), undefined);
    assert.equal(ratio(undefined, 2), undefined);
    // per-run ratios 0.5, 0.25, 1 → median 0.5 (not the ratio of the medians, 2/4)
    assert.equal(pairedRatio([2, 1, 4], [4, 4, 4]), 0.5);
    assert.equal(pairedRatio([], []), undefined);
    assert.equal(fmtCounts([60, 60]), "60");
    assert.equal(fmtCounts([60, 58]), "60/58");
  });

  it("tells linear from quadratic growth", () => {
    assert.ok(
      Math.abs(
        (growthExponent({ images: 50, seconds: 10 }, { images: 100, seconds: 20 }) ?? 0) - 1,
      ) < 1e-9,
    );
    assert.ok(
      Math.abs(
        (growthExponent({ images: 50, seconds: 10 }, { images: 100, seconds: 40 }) ?? 0) - 2,
      ) < 1e-9,
    );
    assert.equal(
      growthExponent({ images: 50, seconds: 10 }, { images: 50, seconds: 10 }),
      undefined,
    );
  });

  it("renders the side-by-side table with counts, expected counts, ratio and failures", () => {
    const table = scenarioTable([
      {
        workload: "realistic",
        scenario: "leaf",
        script: [
          { seconds: 100, builds: 108, indexes: 56, ok: true },
          { seconds: 120, builds: 108, indexes: 56, ok: true },
        ],
        program: [
          { seconds: 10, builds: 5, indexes: 4, ok: true },
          { seconds: 30, builds: 5, indexes: 4, ok: false },
        ],
        expected: { builds: 5, indexes: 4 },
      },
    ]);
    const row = table.split("\n")[2];
    assert.equal(
      row,
      "| realistic | leaf | 110.0 s (100.0–120.0) | 108 / 56 | 10.0 s | 5 / 4 | 5 / 4 | 0.10× | 1 |",
    );
    const scale = scaleTable([
      {
        images: 50,
        builds: 120,
        indexes: 90,
        command: "preview",
        seconds: [20],
        nodePeakMiB: [400.4],
        cliPeakMiB: [],
        ok: true,
      },
    ]);
    assert.match(
      scale,
      /\| preview \| 50 \| 120 \/ 90 \| 20\.0 s \| 400 MiB \| — \| — \| 0\.40 \|/,
    );
    const up = scaleTable([
      {
        images: 100,
        builds: 278,
        indexes: 253,
        command: "up",
        seconds: [300],
        nodePeakMiB: [],
        cliPeakMiB: [1000],
        checkpoint: { bytes: 6_290_000, resources: 900 },
        ok: true,
      },
    ]);
    assert.match(up, /\| 1000 MiB \| 6\.29 MB, 900 resources \| 3\.00 \|/);
  });

  it("reads a checkpoint's size and resources from the state file, or refuses what is not one", () => {
    const state = JSON.stringify({ checkpoint: { latest: { resources: [{}, {}, {}] } } });
    assert.deepEqual(checkpointFacts(state), { bytes: state.length, resources: 3 });
    const exported = JSON.stringify({ version: 3, deployment: { resources: [{}] } });
    assert.equal(checkpointFacts(exported).resources, 1);
    assert.throws(() => checkpointFacts("{}"), /not a Pulumi checkpoint: no resources list/);
  });

  it("counts the builds, indexes and mirror copies an up wrote from its event log, a replacement once", () => {
    const ev = (op: string, type: string, urn: string) =>
      JSON.stringify({ resOutputsEvent: { metadata: { op, type, urn } } });
    const log = [
      ev("create", IMAGE_TYPE, "u:img1"),
      ev("create-replacement", IMAGE_TYPE, "u:img2"),
      ev("replace", IMAGE_TYPE, "u:img2"),
      ev("same", IMAGE_TYPE, "u:img3"),
      ev("update", INDEX_TYPE, "u:idx1"),
      ev("same", INDEX_TYPE, "u:idx2"),
      ev("create", "dayu:estate:IndexGuard", "u:g"),
      ev(
        "create",
        INDEX_TYPE,
        "urn:pulumi:s::p::dayu:estate:ImageEstate$dayu:estate:MirroredImage$docker-build:index:Index::node:20",
      ),
      JSON.stringify({
        resourcePreEvent: { metadata: { op: "create", type: IMAGE_TYPE, urn: "u:img9" } },
      }),
      '{"cut short',
    ].join("\n");
    assert.deepEqual(countWrites(log), { builds: 2, indexes: 1, mirrors: 1 });
  });

  it("parses the flags, refusing bad ones with the usage", () => {
    const d = parseArgs([]);
    assert.equal(d.runs, 3);
    assert.deepEqual(d.scalePreview, [50, 100, 200, 500]);
    const o = parseArgs([
      "--runs",
      "1",
      "--workloads",
      "standins",
      "--scenarios",
      "noop,cold",
      "--cost",
      "0.25",
      "--scale",
      "50,100",
      "--scale-up",
      "none",
    ]);
    assert.deepEqual(
      [o.runs, o.workloads, o.scenarios, o.cost, o.scalePreview, o.scaleUp],
      [1, ["standins"], ["cold", "noop"], 0.25, [50, 100], []],
    );
    assert.throws(() => parseArgs(["--workloads", "huge"]), /unknown huge/);
    assert.throws(() => parseArgs(["--scenarios", "warm"]), /unknown warm/);
    assert.throws(() => parseArgs(["--runs", "0"]), /1 to 20/);
    assert.throws(() => parseArgs(["--scale", "1"]), /whole number ≥ 2/);
    assert.deepEqual(d.sides, ["script", "program"]);
    assert.deepEqual(parseArgs(["--sides", "program"]).sides, ["program"]);
    assert.throws(() => parseArgs(["--sides", "none"]), /script, program or both/);
    assert.throws(() => parseArgs(["--bogus"]), /unknown flag --bogus[\s\S]*usage: npm run bench/);
  });
});

describe("bench: the script's per-build times", () => {
  it("reads them from the script's log by platform and sets arm64 against amd64", () => {
    const log = [
      "== build a default linux/amd64 -> r",
      "#1 [internal] load build definition",
      "-- built a default linux/amd64 1.500",
      "-- built a default linux/arm64 4.500",
      "-- built b jp5 linux/amd64 2.500",
      "-- built b jp5 linux/arm64 5.500",
    ].join("\n");
    const by = buildSecondsByPlatform(log);
    assert.deepEqual(by, { "linux/amd64": [1.5, 2.5], "linux/arm64": [4.5, 5.5] });
    const line = perPlatformLine([
      {
        seconds: 1,
        builds: 1,
        indexes: 0,
        ok: true,
        perPlatform: { "linux/amd64": 2, "linux/arm64": 5 },
      },
    ]);
    assert.equal(line, "linux/amd64 2.0 s, linux/arm64 5.0 s (arm64/amd64 2.50×)");
    assert.equal(perPlatformLine([{ seconds: 1, builds: 1, indexes: 0, ok: true }]), undefined);
  });
});
