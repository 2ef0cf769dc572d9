import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { Catalog, parseCatalog } from "../../estate/catalog";
import { diskFiles, memoryFiles } from "../../estate/files";
import { FlatPlan, PlanError, PlanOptions, flatPlan, planEstate } from "../../estate/planner";

const ROOT = path.resolve(__dirname, "../..");
const BUILDERS = [
  { name: "amd", platform: "linux/amd64" },
  { name: "arm", platform: "linux/arm64" },
];
const PIN = (n: string) => `docker.io/library/${n}@sha256:${"a".repeat(64)}`;

function dayuPlan(overrides: Partial<PlanOptions> = {}): FlatPlan {
  const catalog = parseCatalog(
    fs.readFileSync(path.join(ROOT, "estate.yaml"), "utf8"),
    "estate.yaml",
  );
  const mirrorSources = Object.fromEntries(
    (catalog.mirrors ?? []).map((m) => [m.name, PIN(m.name)]),
  );
  return flatPlan(
    planEstate(catalog, {
      catalogDir: ROOT,
      registry: "registry.example.test:5000",
      release: "v1.3",
      builders: BUILDERS,
      mirrorSources,
      files: diskFiles,
      ...overrides,
    }),
  );
}

const DF = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN true\n";
const ROOT_DF = "FROM scratch\nCOPY x /\n";

/** A small estate: base (from an external pinned image) → app, in memory. */
function small(mutate: (c: Catalog) => void = () => {}, files: Record<string, string> = {}) {
  const catalog: Catalog = {
    namespace: "ns",
    variants: [{ name: "v2", tagSuffix: "-v2" }],
    images: [
      {
        name: "base",
        context: "base",
        platforms: ["linux/amd64", "linux/arm64"],
        tags: ["latest"],
        base: { external: `docker.io/library/debian@sha256:${"b".repeat(64)}` },
      },
      {
        name: "app",
        context: "app",
        platforms: ["linux/amd64", "linux/arm64"],
        tags: ["${release}"],
        base: { image: "base" },
      },
    ],
  };
  mutate(catalog);
  const fsys = memoryFiles({ "/c/base/Dockerfile": DF, "/c/app/Dockerfile": DF, ...files });
  return () =>
    flatPlan(
      planEstate(catalog, {
        catalogDir: "/c",
        registry: "reg.test:5000",
        release: "1.0",
        builders: BUILDERS,
        files: fsys,
      }),
    );
}

function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof PlanError, `expected a PlanError, got ${(err as Error).message}`);
    return err.problems;
  }
  assert.fail("expected the plan to be rejected");
}

/** The estate's images that are not Dayu components: its bases and the Atom-style chain stand-in. */
const NOT_DAYU_COMPONENTS = ["dayubase", "rtsp-server", "atom-stock"];

describe("planner on the Dayu catalog", () => {
  const plan = dayuPlan();

  it("makes one index per (image, tag): 51 component tags + 4 dayubase + 1 rtsp-server + 1 chain", () => {
    assert.equal(plan.indexes.length, 57);
    const components = plan.indexes.filter((i) => !NOT_DAYU_COMPONENTS.includes(i.image));
    assert.equal(components.length, 51);
    assert.deepEqual(
      plan.indexes.filter((i) => i.image === "atom-stock").map((i) => i.tag),
      ["v1.3"],
    );
    assert.deepEqual(
      plan.indexes.filter((i) => i.image === "dayubase").map((i) => i.tag),
      ["latest", "latest-jp4", "latest-jp5", "latest-jp6"],
    );
  });

  it("builds each amd64 half once: zero redundant amd64 builds", () => {
    const amd64 = plan.builds.filter((b) => b.platform === "linux/amd64");
    const steps = new Set(amd64.map((b) => `${b.image} ${b.step ?? ""}`));
    assert.equal(amd64.length, steps.size, "one amd64 build per image (per chain step)");
    // One for each of the 20 images built before the chain; the chain adds one per step.
    assert.equal(amd64.length, 20 + 3);
    // Dayu's scripts build 98 component platform builds; 33 of them are redundant amd64 halves.
    const componentBuilds = plan.builds.filter((b) => !NOT_DAYU_COMPONENTS.includes(b.image));
    assert.equal(
      componentBuilds.length,
      98 - 33 - 11,
      "the processors' default and jp4 arm64 halves coincide too",
    );
    // + dayubase (4) and rtsp-server (2); + the chain's 3 steps × 2 platforms.
    assert.equal(plan.builds.length, 60 + 6);
  });

  it("every index joins exactly its declared platforms, each from a build of that platform", () => {
    const builds = new Map(plan.builds.map((b) => [b.id, b]));
    for (const i of plan.indexes) {
      const declared = parseCatalog(
        fs.readFileSync(path.join(ROOT, "estate.yaml"), "utf8"),
        "x",
      ).images.find((im) => im.name === i.image)?.platforms;
      assert.deepEqual(
        i.builds.map((b) => b.platform),
        declared,
        i.id,
      );
      for (const b of i.builds)
        assert.equal(builds.get(b.build)?.platform, b.platform, `${i.id} ${b.build}`);
    }
  });

  it("puts each build on the builder of its own platform", () => {
    for (const b of plan.builds)
      assert.equal(b.builder, b.platform === "linux/amd64" ? "amd" : "arm", b.id);
  });

  it("shares an amd64 build across the JetPack variants and separates their arm64 builds", () => {
    const tags = Object.fromEntries(
      plan.indexes
        .filter((i) => i.image === "car-detection")
        .map((i) => [i.tag, i.builds.map((b) => b.build)]),
    );
    assert.deepEqual(tags, {
      "v1.3": ["car-detection/amd64", "car-detection/arm64"],
      "v1.3-jp4": ["car-detection/amd64", "car-detection/arm64"],
      "v1.3-jp5": ["car-detection/amd64", "car-detection/jp5/arm64"],
      "v1.3-jp6": ["car-detection/amd64", "car-detection/jp6/arm64"],
    });
  });

  it("gives a dependent its base as the same-platform, same-variant build of the base", () => {
    // Dayu's convention: the base a FROM line names, as a named context (its tag picks the variant).
    const b = plan.builds.find((x) => x.id === "car-detection/jp5/arm64");
    assert.deepEqual(b?.contexts, [
      {
        key: "dayuhub/dayubase:latest-jp5",
        base: { kind: "build", image: "dayubase", build: "dayubase/jp5/arm64" },
      },
    ]);
    assert.equal(b?.base, undefined);
    // The Atom-style convention: the declared base in the build arg BASE_IMAGE.
    const d = plan.builds.find((x) => x.id === "datasource/arm64");
    assert.deepEqual(d?.base, { kind: "build", image: "rtsp-server", build: "rtsp-server/arm64" });
    assert.deepEqual(d?.contexts, []);
    const f = plan.builds.find((x) => x.id === "frontend/amd64");
    assert.deepEqual(f?.contexts, [{ key: "node:20", base: { kind: "mirror", mirror: "node" } }]);
  });

  it("orders every build after its base", () => {
    const pos = new Map(plan.builds.map((b, i) => [b.id, i]));
    for (const b of plan.builds) {
      for (const base of [b.base, ...b.contexts.map((c) => c.base)]) {
        if (base?.kind === "build")
          assert.ok((pos.get(base.build) as number) < (pos.get(b.id) as number), b.id);
      }
    }
  });

  it("uses per-arch tags and a cache ref per (image, variant, arch), never shared", () => {
    const caches = plan.builds.map((b) => b.cacheRef);
    assert.equal(new Set(caches).size, caches.length);
    for (const b of plan.builds) {
      assert.ok(b.archTag.endsWith(`-${b.arch}`), b.archTag);
      assert.ok(b.cacheRef.endsWith(`-${b.arch}`), b.cacheRef);
    }
  });

  it("marks ${release} tags as release tags and latest as moving", () => {
    assert.ok(plan.indexes.find((i) => i.id === "backend:v1.3")?.release);
    assert.equal(plan.indexes.find((i) => i.id === "dayubase:latest")?.release, false);
  });

  it("mirrors redis at the registry root", () => {
    assert.deepEqual(plan.mirrors.find((m) => m.name === "redis")?.refs, [
      "registry.example.test:5000/redis:latest",
    ]);
  });

  it("re-points a context from stack config", () => {
    const p = dayuPlan({ contexts: { backend: "test/fixtures/dayu-shaped" } });
    assert.equal(
      p.builds.find((b) => b.id === "backend/amd64")?.context,
      path.join(ROOT, "test/fixtures/dayu-shaped"),
    );
  });

  it("refuses a context override for an unknown image", () => {
    const msgs = problems(() => dayuPlan({ contexts: { nope: "x" } }));
    assert.ok(
      msgs.some((m) => m.includes("config contexts.nope")),
      msgs.join("\n"),
    );
  });
});

/**
 * The committed catalog's Atom-style chain (estate.yaml `atom-stock`, dockerfiles/atom/stock): the
 * one image in the `ARG BASE_IMAGE` convention with several steps, so the planner's chain handling
 * runs on real files, not only on in-memory ones.
 */
describe("planner on the Dayu catalog: the Atom-style chain atom-stock", () => {
  const plan = dayuPlan();
  const chain = plan.builds.filter((b) => b.image === "atom-stock");
  const folder = path.join(ROOT, "dockerfiles/atom/stock");
  const onPlatform = (p: string) => chain.filter((b) => b.platform === p);

  it("builds the folder's three steps in numeric order on each platform's builder", () => {
    for (const [platform, arch, builder] of [
      ["linux/amd64", "amd64", "amd"],
      ["linux/arm64", "arm64", "arm"],
    ]) {
      const steps = onPlatform(platform);
      assert.deepEqual(
        steps.map((b) => [b.id, b.step, path.relative(folder, b.dockerfile), b.final]),
        [
          [`atom-stock/base/${arch}`, "base", "10-Dockerfile-base", false],
          [`atom-stock/python/${arch}`, "python", "20-Dockerfile-python", false],
          [`atom-stock/atom/${arch}`, "atom", "30-Dockerfile-atom", true],
        ],
      );
      for (const b of steps) {
        assert.equal(b.builder, builder, b.id);
        assert.equal(b.baseArg, "BASE_IMAGE", b.id);
        assert.deepEqual(b.variants, ["default"], b.id);
        // The whole Dayu-shaped tree is the context, narrowed to what the step reads.
        assert.equal(b.context, path.join(ROOT, "dockerfiles"), b.id);
      }
      // Intermediate steps under <tag>-<descriptor>-<arch>; the last one under the image's arch tag.
      assert.deepEqual(
        steps.map((b) => b.archRef),
        [`base-${arch}`, `python-${arch}`, arch].map(
          (t) => `registry.example.test:5000/dayuhub/atom-stock:v1.3-${t}`,
        ),
      );
      assert.deepEqual(
        steps.map((b) => b.contextSources),
        [[], [], ["atom/stock/entry.sh"]],
      );
    }
    assert.equal(chain.length, 6);
    assert.equal(new Set(chain.map((b) => b.key)).size, 6, "no two steps share a build");
  });

  it("reads each step's args from its <descriptor>-<arch>-args file (aarch64 is arm64)", () => {
    assert.deepEqual(
      chain.map((b) => [b.id, b.buildArgs]),
      [
        ["atom-stock/base/amd64", { BLAS: "openblas" }],
        ["atom-stock/python/amd64", { PYTHON_VERSION: "3.8" }],
        ["atom-stock/atom/amd64", {}],
        ["atom-stock/base/arm64", { BLAS: "openblas-armv8" }],
        ["atom-stock/python/arm64", { PYTHON_VERSION: "3.8" }],
        ["atom-stock/atom/arm64", {}],
      ],
    );
  });

  it("builds each step on the previous step's build of the same platform, the first on dayubase's", () => {
    const order = plan.builds.map((b) => b.id);
    for (const arch of ["amd64", "arm64"]) {
      const steps = onPlatform(`linux/${arch}`);
      assert.deepEqual(
        steps.map((b) => b.base),
        [
          { kind: "build", image: "dayubase", build: `dayubase/${arch}` },
          { kind: "step", build: `atom-stock/base/${arch}` },
          { kind: "step", build: `atom-stock/python/${arch}` },
        ],
      );
      // No named contexts: the base arrives pinned in BASE_IMAGE only.
      for (const b of steps) assert.deepEqual(b.contexts, [], b.id);
      // Planned after its base, so the base's digest exists when the step is built.
      for (const b of steps) {
        const base = b.base as { build: string };
        assert.ok(order.indexOf(base.build) >= 0, `${b.id}: base ${base.build} is planned`);
        assert.ok(order.indexOf(base.build) < order.indexOf(b.id), `${b.id} after its base`);
        assert.equal(plan.builds.find((x) => x.id === base.build)?.platform, b.platform, b.id);
      }
    }
  });

  it("publishes one index, v1.3, of the last step's builds; the intermediate steps in none", () => {
    const indexes = plan.indexes.filter((i) => i.image === "atom-stock");
    assert.deepEqual(indexes, [
      {
        id: "atom-stock:v1.3",
        image: "atom-stock",
        variant: "default",
        tag: "v1.3",
        ref: "registry.example.test:5000/dayuhub/atom-stock:v1.3",
        builds: [
          { platform: "linux/amd64", build: "atom-stock/atom/amd64" },
          { platform: "linux/arm64", build: "atom-stock/atom/arm64" },
        ],
        release: true,
      },
    ]);
    const listed = new Set(plan.indexes.flatMap((i) => i.builds.map((b) => b.build)));
    assert.deepEqual(
      chain.filter((b) => listed.has(b.id)).map((b) => b.id),
      ["atom-stock/atom/amd64", "atom-stock/atom/arm64"],
    );
  });
});

describe("planner validation", () => {
  it("accepts the small estate", () => {
    const p = small()();
    assert.deepEqual(
      p.builds.map((b) => b.id),
      ["base/amd64", "base/arm64", "app/amd64", "app/arm64"],
    );
    assert.deepEqual(
      p.indexes.map((i) => i.ref),
      ["reg.test:5000/ns/base:latest", "reg.test:5000/ns/app:1.0"],
    );
  });

  it("rejects duplicate image names", () => {
    const msgs = problems(small((c) => c.images.push({ ...c.images[1] })));
    assert.ok(
      msgs.some((m) => m === 'image "app" is declared twice in the catalog'),
      msgs.join("\n"),
    );
  });

  it("rejects two images pushing the same (repository, tag), naming both", () => {
    const msgs = problems(
      small((c) => {
        c.images[1].repository = "ns/base";
        c.images[1].tags = ["latest"];
      }),
    );
    assert.ok(
      msgs.some(
        (m) => m.includes("reg.test:5000/ns/base:latest is pushed by both") && m.includes('"app"'),
      ),
      msgs.join("\n"),
    );
  });

  it("rejects a dependency cycle and prints it", () => {
    const msgs = problems(small((c) => (c.images[0].base = { image: "app" })));
    assert.ok(
      msgs.some(
        (m) => m.includes("dependency cycle: base → app → base") || m.includes("app → base → app"),
      ),
      msgs.join("\n"),
    );
  });

  it("rejects an uppercase repository, an overlong tag, a tag starting with '-'", () => {
    assert.ok(
      problems(small((c) => (c.images[1].repository = "ns/App"))).some((m) =>
        m.includes("must be lowercase"),
      ),
    );
    assert.ok(
      problems(small((c) => (c.images[1].tags = ["x".repeat(129)]))).some((m) =>
        m.includes("longer than 128"),
      ),
    );
    assert.ok(
      problems(small((c) => (c.images[1].tags = ["-x"]))).some((m) =>
        m.includes('tag "-x" is invalid'),
      ),
    );
  });

  it("rejects a registry address without a host part", () => {
    const cat: Catalog = {
      namespace: "ns",
      images: [{ name: "a", context: "a", platforms: ["linux/amd64"], tags: ["t"] }],
    };
    const msgs = problems(() =>
      planEstate(cat, {
        catalogDir: "/c",
        registry: "myregistry",
        release: "",
        builders: BUILDERS,
        files: memoryFiles({ "/c/a/Dockerfile": ROOT_DF }),
      }),
    );
    assert.ok(
      msgs.some((m) => m.includes("config registry") && m.includes("docker.io")),
      msgs.join("\n"),
    );
  });

  it("rejects a platform no builder serves, naming the platform and the builders", () => {
    const msgs = problems(small((c) => (c.images[1].platforms = ["linux/amd64", "linux/arm/v7"])));
    assert.ok(
      msgs.some((m) =>
        m.includes(
          'image "app": platform linux/arm/v7 is served by no configured builder (builders: amd (linux/amd64), arm (linux/arm64))',
        ),
      ),
      msgs.join("\n"),
    );
  });

  it("rejects a missing Dockerfile, naming the file", () => {
    const msgs = problems(small((c) => (c.images[1].dockerfile = "Dockerfile.gone")));
    assert.ok(
      msgs.some((m) => m.includes("/c/app/Dockerfile.gone does not exist")),
      msgs.join("\n"),
    );
  });

  it("rejects a Dockerfile that would ignore the pinned base", () => {
    const msgs = problems(small(() => {}, { "/c/app/Dockerfile": "FROM debian\n" }));
    assert.ok(
      msgs.some((m) => m.includes("does not declare ARG BASE_IMAGE")),
      msgs.join("\n"),
    );
  });

  it("rejects an unpinned external base and a base lacking the platform", () => {
    assert.ok(
      problems(small((c) => (c.images[0].base = { external: "debian:12" }))).some((m) =>
        m.includes("not pinned by digest"),
      ),
    );
    const msgs = problems(small((c) => (c.images[0].platforms = ["linux/amd64"])));
    assert.ok(
      msgs.some((m) =>
        m.includes('builds for linux/arm64 but its base image "base" has no linux/arm64 build'),
      ),
      msgs.join("\n"),
    );
  });

  it("rejects secret-looking build args", () => {
    const msgs = problems(small((c) => (c.images[1].buildArgs = { NPM_TOKEN: "x" })));
    assert.ok(
      msgs.some((m) => m.includes("build arg NPM_TOKEN looks like a secret")),
      msgs.join("\n"),
    );
  });

  it("rejects unknown variants and overrides for undeclared platforms", () => {
    assert.ok(
      problems(small((c) => (c.images[1].variants = ["v9"]))).some((m) =>
        m.includes('variant "v9" is not declared'),
      ),
    );
    assert.ok(
      problems(
        small((c) => (c.images[1].platformOverrides = { "linux/s390x": { dockerfile: "x" } })),
      ).some((m) => m.includes("platformOverrides.linux/s390x is not one of its platforms")),
    );
  });

  it("reports every problem at once", () => {
    const msgs = problems(
      small((c) => {
        c.images[1].tags = ["Bad Tag"];
        c.images[1].buildArgs = { DB_PASSWORD: "x" };
      }),
    );
    assert.ok(msgs.length >= 2, msgs.join("\n"));
  });

  it("rejects an unpinned mirror unless the plan is only displayed", () => {
    const cat: Catalog = {
      namespace: "ns",
      mirrors: [
        {
          name: "redis",
          source: "docker.io/library/redis:7",
          repository: "redis",
          tags: ["latest"],
          platforms: ["linux/amd64"],
        },
      ],
      images: [
        {
          name: "a",
          context: "a",
          platforms: ["linux/amd64"],
          tags: ["t"],
          base: { mirror: "redis" },
        },
      ],
    };
    const opts: PlanOptions = {
      catalogDir: "/c",
      registry: "reg.test",
      release: "",
      builders: BUILDERS,
      files: memoryFiles({ "/c/a/Dockerfile": DF }),
    };
    assert.ok(problems(() => planEstate(cat, opts)).some((m) => m.includes("mirrorSources.redis")));
    assert.equal(
      planEstate(cat, { ...opts, allowUnpinnedMirrors: true }).mirrors[0].source,
      "docker.io/library/redis:7",
    );
    const pinned = flatPlan(planEstate(cat, { ...opts, mirrorSources: { redis: PIN("redis") } }));
    assert.equal(pinned.mirrors[0].source, PIN("redis"));
    assert.deepEqual(pinned.builds[0].base, { kind: "mirror", mirror: "redis" });
  });

  it("rejects a mirror base lacking the dependent's platform", () => {
    const cat: Catalog = {
      namespace: "ns",
      mirrors: [
        {
          name: "node",
          source: "docker.io/library/node:20",
          repository: "library/node",
          tags: ["20"],
          platforms: ["linux/amd64"],
        },
      ],
      images: [
        {
          name: "fe",
          context: "fe",
          platforms: ["linux/amd64", "linux/arm64"],
          tags: ["t"],
          base: { mirror: "node" },
        },
      ],
    };
    const msgs = problems(() =>
      planEstate(cat, {
        catalogDir: "/c",
        registry: "reg.test",
        release: "",
        builders: BUILDERS,
        mirrorSources: { node: PIN("node") },
        files: memoryFiles({ "/c/fe/Dockerfile": DF }),
      }),
    );
    assert.ok(
      msgs.some((m) => m.includes('base mirror "node" does not declare linux/arm64')),
      msgs.join("\n"),
    );
  });
});

describe("planner: variants", () => {
  it("builds a variant's platform separately only when its inputs differ", () => {
    const p = small((c) => {
      c.images[1].variants = ["v2"];
      c.images[1].variantOverrides = { v2: { "linux/arm64": { buildArgs: { FLAVOUR: "two" } } } };
    })();
    assert.deepEqual(
      p.builds.filter((b) => b.image === "app").map((b) => [b.id, b.variants.join(",")]),
      [
        ["app/amd64", "default,v2"],
        ["app/arm64", "default"],
        ["app/v2/arm64", "v2"],
      ],
    );
    assert.deepEqual(
      p.indexes.map((i) => i.tag),
      ["latest", "1.0", "1.0-v2"],
    );
    assert.equal(p.builds.find((b) => b.id === "app/v2/arm64")?.buildArgs.FLAVOUR, "two");
  });

  it("follows the base's variant when the base has it, its default otherwise", () => {
    const p = small((c) => {
      c.images[0].variants = ["v2"];
      c.images[0].variantOverrides = { v2: { "linux/arm64": { buildArgs: { X: "2" } } } };
      c.images[1].variants = ["v2"];
    })();
    assert.deepEqual(p.builds.find((b) => b.id === "app/v2/arm64")?.base, {
      kind: "build",
      image: "base",
      build: "base/v2/arm64",
    });
    assert.deepEqual(p.builds.find((b) => b.id === "app/arm64")?.base, {
      kind: "build",
      image: "base",
      build: "base/arm64",
    });
  });
});

describe("planner: Atom-style chains", () => {
  const chainFiles = {
    "/c/atom/stock/10-Dockerfile-base": DF,
    "/c/atom/stock/20-Dockerfile-graphics": DF,
    "/c/atom/stock/5-Dockerfile-first": DF,
    "/c/atom/stock/graphics-amd64-args": "# comment\nGL=mesa\n\nOPT=a=b\n",
    "/c/atom/stock/graphics-aarch64-args": "GL=tegra\n",
    "/c/atom/stock/README.md": "not a step",
  };
  const chainCatalog = (mutate: (c: Catalog) => void = () => {}) => {
    const c: Catalog = {
      namespace: "er",
      images: [
        {
          name: "atom",
          context: "atom",
          chain: "stock",
          platforms: ["linux/amd64", "linux/arm64"],
          tags: ["base-stock"],
          base: { external: `docker.io/library/debian@sha256:${"c".repeat(64)}` },
        },
      ],
    };
    mutate(c);
    return c;
  };
  const run = (c: Catalog, extra: Record<string, string> = {}) =>
    flatPlan(
      planEstate(c, {
        catalogDir: "/c",
        registry: "reg.test",
        release: "",
        builders: BUILDERS,
        files: memoryFiles({ ...chainFiles, ...extra }),
      }),
    );

  it("builds the steps in numeric order, each on top of the previous one, per platform", () => {
    const p = run(chainCatalog());
    const amd = p.builds.filter((b) => b.arch === "amd64");
    assert.deepEqual(
      amd.map((b) => b.id),
      ["atom/first/amd64", "atom/base/amd64", "atom/graphics/amd64"],
    );
    assert.deepEqual(amd[0].base, {
      kind: "external",
      ref: `docker.io/library/debian@sha256:${"c".repeat(64)}`,
    });
    assert.deepEqual(amd[1].base, { kind: "step", build: "atom/first/amd64" });
    assert.deepEqual(amd[2].base, { kind: "step", build: "atom/base/amd64" });
    assert.deepEqual(
      amd.map((b) => b.final),
      [false, false, true],
    );
    assert.deepEqual(p.indexes[0].builds, [
      { platform: "linux/amd64", build: "atom/graphics/amd64" },
      { platform: "linux/arm64", build: "atom/graphics/arm64" },
    ]);
    assert.equal(amd[0].archRef, "reg.test/er/atom:base-stock-first-amd64");
    assert.equal(amd[2].archRef, "reg.test/er/atom:base-stock-amd64");
  });

  it("turns <descriptor>-<platform>-args files into build args (aarch64 means arm64)", () => {
    const p = run(chainCatalog());
    assert.deepEqual(p.builds.find((b) => b.id === "atom/graphics/amd64")?.buildArgs, {
      GL: "mesa",
      OPT: "a=b",
    });
    assert.deepEqual(p.builds.find((b) => b.id === "atom/graphics/arm64")?.buildArgs, {
      GL: "tegra",
    });
    assert.deepEqual(p.builds.find((b) => b.id === "atom/base/arm64")?.buildArgs, {});
  });

  it("rejects a malformed args line with its file and line number", () => {
    const msgs = problems(() =>
      run(chainCatalog(), { "/c/atom/stock/graphics-amd64-args": "GL=mesa\nHOME\n" }),
    );
    assert.ok(
      msgs.some(
        (m) => m.startsWith("/c/atom/stock/graphics-amd64-args:2:") && m.includes("bare KEY"),
      ),
      msgs.join("\n"),
    );
  });

  it("rejects two steps with the same number and a chain with no steps", () => {
    assert.ok(
      problems(() => run(chainCatalog(), { "/c/atom/stock/10-Dockerfile-again": DF })).some((m) =>
        m.includes("have the same number 10"),
      ),
    );
    const empty = chainCatalog((c) => (c.images[0].chain = "nothing"));
    assert.ok(
      problems(() => run(empty, { "/c/atom/nothing/notes.txt": "x" })).some((m) =>
        m.includes("has no <num>-Dockerfile-<descriptor> files"),
      ),
    );
  });
});
