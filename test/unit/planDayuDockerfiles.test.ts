/**
 * Dayu's Dockerfiles as they are: the planner resolves each build's Dockerfile with its args, infers
 * the image graph from the FROM / COPY --from / RUN --mount references that name estate images or
 * mirrors, pins them as named contexts, refuses what does not add up (file:line), leaves FROM-only
 * args out of a build's identity, and narrows the context to what the build reads. In memory.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Catalog } from "../../estate/catalog";
import { diskFiles, memoryFiles } from "../../estate/files";
import { FlatPlan, Plan, PlanError, PlanOptions, flatPlan, planEstate } from "../../estate/planner";
import { contextSources } from "../../estate/plan/prepare";
import { Problems } from "../../estate/problems";
import { STAGING_ROOT, stageContexts, stagingOf } from "../../estate/stage";
import { resolveDockerfile } from "../../estate/dockerfile";
import { parseReference } from "../../estate/reference";

const BUILDERS = [
  { name: "amd", platform: "linux/amd64" },
  { name: "arm", platform: "linux/arm64" },
];
const DIGEST = `sha256:${"c".repeat(64)}`;

/** Dayu's header: registry, repository and tag of dayubase as global ARGs, used only in FROM. */
const HEADER = "ARG REG=docker.io\nARG BASE_REPO=dayuhub\nARG TAG=latest\n";
const BASE_AMD = `ARG REG=docker.io\nFROM \${REG}/library/debian@${DIGEST}\nRUN echo amd\n`;
const BASE_JP5 = `ARG REG=docker.io\nFROM \${REG}/library/debian@${DIGEST}\nRUN echo jp5\n`;
const PROCESSOR = `${HEADER}FROM \${REG}/\${BASE_REPO}/dayubase:\${TAG}
ARG code_dir=components/processor
ARG app_dir=dependency/applications/car
COPY \${app_dir} /home/app
COPY \${code_dir}/* /app/
`;

/** A repository-shaped tree at /r: dayubase (amd64 + jp5 arm64) and a processor on it. */
function tree(extra: Record<string, string> = {}): Record<string, string> {
  return {
    "/r/build/dayubase_amd64.Dockerfile": BASE_AMD,
    "/r/build/dayubase_jp5.Dockerfile": BASE_JP5,
    "/r/build/car.Dockerfile": PROCESSOR,
    "/r/components/processor/main.py": "print('p')\n",
    "/r/dependency/applications/car/app.py": "print('car')\n",
    "/r/dependency/applications/face/app.py": "print('face')\n",
    "/r/backend/main.py": "print('b')\n",
    ...extra,
  };
}

function catalog(mutate: (c: Catalog) => void = () => {}): Catalog {
  const c: Catalog = {
    namespace: "dayuhub",
    variants: [{ name: "jp5", tagSuffix: "-jp5" }],
    images: [
      {
        name: "dayubase",
        context: "r",
        platforms: ["linux/amd64", "linux/arm64"],
        tags: ["latest"],
        variants: ["jp5"],
        platformOverrides: {
          "linux/amd64": { dockerfile: "build/dayubase_amd64.Dockerfile" },
          "linux/arm64": { dockerfile: "build/dayubase_jp5.Dockerfile" },
        },
      },
      {
        name: "car",
        context: "r",
        dockerfile: "build/car.Dockerfile",
        platforms: ["linux/amd64", "linux/arm64"],
        tags: ["v1"],
        variants: ["jp5"],
        variantOverrides: {
          jp5: {
            "linux/amd64": { buildArgs: { TAG: "latest-jp5" } },
            "linux/arm64": { buildArgs: { TAG: "latest-jp5" } },
          },
        },
      },
    ],
  };
  mutate(c);
  return c;
}

function options(files: Record<string, string>, extra: Partial<PlanOptions> = {}): PlanOptions {
  return {
    catalogDir: "/",
    registry: "reg.test:5000",
    release: "v1",
    builders: BUILDERS,
    files: memoryFiles(files),
    ...extra,
  };
}

function plan(c: Catalog = catalog(), files = tree(), extra: Partial<PlanOptions> = {}): FlatPlan {
  return flatPlan(planEstate(c, options(files, extra)));
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

describe("planning Dayu's Dockerfiles unmodified", () => {
  it("infers the graph from FROM lines (no base: in the catalog) and orders the base first", () => {
    const p = planEstate(catalog(), options(tree()));
    assert.deepEqual(
      p.images.map((i) => i.name),
      ["dayubase", "car"],
    );
    assert.deepEqual(p.imageEdges, [{ from: "dayubase", to: "car", kind: "base" }]);
  });

  it("pins each reference as a named context under BuildKit's key, its tag picking the variant", () => {
    const p = plan();
    const ctx = (id: string) => p.builds.find((b) => b.id === id)?.contexts;
    assert.deepEqual(ctx("car/arm64"), [
      {
        key: "dayuhub/dayubase",
        base: { kind: "build", image: "dayubase", build: "dayubase/arm64" },
      },
    ]);
    assert.deepEqual(ctx("car/jp5/arm64"), undefined, "jp5 arm64 equals default: shared");
    assert.equal(p.builds.find((b) => b.id === "car/arm64")?.base, undefined);
  });

  it("a variant whose TAG selects another base build gets its own build, pinned to that base", () => {
    const c = catalog((x) => {
      x.images[0].variantOverrides = {
        jp5: { "linux/arm64": { buildArgs: { FLAVOUR: "jp5" } } },
      };
    });
    const files = tree({
      "/r/build/dayubase_jp5.Dockerfile": `${BASE_JP5}ARG FLAVOUR\nRUN echo $FLAVOUR\n`,
    });
    const p = plan(c, files);
    assert.deepEqual(p.builds.find((b) => b.id === "car/jp5/arm64")?.contexts, [
      {
        key: "dayuhub/dayubase:latest-jp5",
        base: { kind: "build", image: "dayubase", build: "dayubase/jp5/arm64" },
      },
    ]);
  });

  it("leaves FROM-only args out of the identity: the JetPack variants share their amd64 build", () => {
    const p = plan();
    const amd = p.builds.filter((b) => b.image === "car" && b.platform === "linux/amd64");
    assert.equal(amd.length, 1);
    assert.deepEqual(amd[0].variants, ["default", "jp5"]);
    // An arg a stage reads keeps the variants apart.
    const staged = tree({ "/r/build/car.Dockerfile": `${PROCESSOR}ARG TAG\nRUN echo $TAG\n` });
    const apart = plan(catalog(), staged).builds.filter(
      (b) => b.image === "car" && b.platform === "linux/amd64",
    );
    assert.equal(apart.length, 2);
  });

  it("refuses a declared base the Dockerfile never uses, and a FROM naming another estate image", () => {
    const c = catalog((x) => {
      x.images.push({
        name: "other",
        context: "r",
        dockerfile: "build/other.Dockerfile",
        platforms: ["linux/amd64"],
        tags: ["v1"],
      });
      x.images[1].base = { image: "other" };
    });
    const files = tree({
      "/r/build/other.Dockerfile": `FROM docker.io/library/debian@${DIGEST}\n`,
    });
    const msgs = problems(() => plan(c, files));
    assert.ok(
      msgs.some((m) =>
        m.startsWith(
          'r/build/car.Dockerfile:4: FROM "docker.io/dayuhub/dayubase:latest" names estate image "dayubase", but image "car" declares base image "other"',
        ),
      ),
      msgs.join("\n"),
    );
    assert.ok(
      msgs.some((m) =>
        m.startsWith(
          'image "car": declares base image "other", which r/build/car.Dockerfile never',
        ),
      ),
      msgs.join("\n"),
    );
  });

  it("refuses a reference with a tag the estate does not push, at its file:line", () => {
    const c = catalog((x) => {
      x.images[1].buildArgs = { TAG: "latest-jp9" };
    });
    const msgs = problems(() => plan(c));
    assert.ok(
      msgs.some((m) =>
        m.startsWith(
          'r/build/car.Dockerfile:4: "docker.io/dayuhub/dayubase:latest-jp9" names estate image "dayubase" with tag "latest-jp9"',
        ),
      ),
      msgs.join("\n"),
    );
  });

  it("refuses floating external references on non-dev stacks only, at file:line", () => {
    const files = tree({
      "/r/build/dayubase_amd64.Dockerfile": "ARG REG=docker.io\nFROM ${REG}/library/debian:12\n",
    });
    assert.equal(plan(catalog(), files, { environment: "dev" }).builds.length > 0, true);
    const msgs = problems(() => plan(catalog(), files, { environment: "prod" }));
    assert.deepEqual(msgs, [
      'r/build/dayubase_amd64.Dockerfile:2: "docker.io/library/debian:12" is not pinned by digest, which a prod stack requires (add @sha256:..., or mirror it in the catalog)',
    ]);
  });

  it("keeps ARG BASE_IMAGE working, checked for real: the ARG must come before the FROM", () => {
    const atom = () =>
      catalog((x) => {
        x.images.push({
          name: "atom",
          context: "r",
          dockerfile: "build/atom.Dockerfile",
          platforms: ["linux/amd64"],
          tags: ["v1"],
          base: { image: "car" },
        });
      });
    const ok = plan(
      atom(),
      tree({ "/r/build/atom.Dockerfile": "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN true\n" }),
    );
    assert.deepEqual(ok.builds.find((b) => b.id === "atom/amd64")?.base, {
      kind: "build",
      image: "car",
      build: "car/amd64",
    });
    assert.deepEqual(ok.builds.find((b) => b.id === "atom/amd64")?.contexts, []);
    const late = problems(() =>
      plan(
        atom(),
        tree({ "/r/build/atom.Dockerfile": "FROM scratch AS s\nARG BASE_IMAGE\nFROM s\n" }),
      ),
    );
    assert.ok(
      late.some((m) => m.includes("does not declare ARG BASE_IMAGE before its first FROM")),
      late.join("\n"),
    );
  });

  it("refuses a declared external base that neither a FROM line nor ARG BASE_IMAGE reads", () => {
    const pinned = `docker.io/library/debian@${DIGEST}`;
    const declare = (external: string) =>
      catalog((x) => {
        x.images[0].base = { external };
      });
    // dayubase's Dockerfiles read exactly this image: accepted.
    assert.ok(plan(declare(pinned)).builds.length > 0);
    const other = `docker.io/library/alpine@${DIGEST}`;
    const msgs = problems(() => plan(declare(other)));
    assert.ok(
      msgs.some((m) =>
        m.startsWith(
          `image "dayubase": declares external base ${other}, which no FROM line of r/build/dayubase_amd64.Dockerfile reads`,
        ),
      ),
      msgs.join("\n"),
    );
  });

  it("narrows the context to what the build reads; a missing source is refused at file:line", () => {
    const p = plan();
    assert.deepEqual(p.builds.find((b) => b.id === "car/amd64")?.contextSources, [
      "components/processor",
      "dependency/applications/car",
    ]);
    const gone = tree();
    delete gone["/r/dependency/applications/car/app.py"];
    const msgs = problems(() => plan(catalog(), gone));
    assert.ok(
      msgs.includes(
        'r/build/car.Dockerfile:7: COPY source "dependency/applications/car" is not in the context /r',
      ),
      msgs.join("\n"),
    );
  });
});

describe("contextSources", () => {
  const files = memoryFiles(tree());
  const src = (p: string, line = 1) => ({
    path: p,
    instruction: "COPY" as const,
    where: `f:${line}`,
    line,
    stage: 0,
  });

  it("covers a pattern by its folder, drops what a listed folder covers, and sorts", () => {
    const problems = new Problems();
    assert.deepEqual(
      contextSources(
        [
          src("dependency/applications/car/app.py"),
          src("components/processor/*"),
          src("dependency"),
        ],
        "/r",
        files,
        problems,
      ),
      ["components/processor", "dependency"],
    );
    assert.deepEqual(problems.list, []);
  });

  it("is the whole context for `.`", () => {
    assert.deepEqual(contextSources([src("."), src("backend")], "/r", files, new Problems()), [
      ".",
    ]);
  });
});

describe("staged contexts", () => {
  function stageIn(dir: string): Plan {
    fs.mkdirSync(path.join(dir, "r/build"), { recursive: true });
    for (const [p, text] of Object.entries(tree())) {
      fs.mkdirSync(path.join(dir, path.dirname(p)), { recursive: true });
      fs.writeFileSync(path.join(dir, p), text);
    }
    const planned = planEstate(catalog(), { ...options({}), catalogDir: dir, files: diskFiles });
    return stageContexts(planned, dir);
  }

  it("copies only what each build reads, with locations relative to the project", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stage-"));
    try {
      const staged = flatPlan(stageIn(dir));
      const car = staged.builds.find((b) => b.id === "car/amd64");
      assert.equal(car?.context, `${STAGING_ROOT}/car__amd64/context`);
      assert.equal(car?.dockerfile, `${STAGING_ROOT}/car__amd64/Dockerfile`);
      const ctx = path.join(dir, car?.context ?? "");
      assert.deepEqual(fs.readdirSync(ctx).sort(), ["components", "dependency"]);
      assert.deepEqual(fs.readdirSync(path.join(ctx, "dependency/applications")), ["car"]);
      assert.equal(fs.readFileSync(path.join(dir, car?.dockerfile ?? ""), "utf8"), PROCESSOR);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a second checkout at another path stages the same locations and the same files", () => {
    const a = fs.mkdtempSync(path.join(os.tmpdir(), "stage-a-"));
    const b = fs.mkdtempSync(path.join(os.tmpdir(), "stage-b-"));
    try {
      const pa = flatPlan(stageIn(a));
      const pb = flatPlan(stageIn(b));
      const where = (p: FlatPlan) => p.builds.map((x) => [x.id, x.context, x.dockerfile]);
      assert.deepEqual(where(pa), where(pb));
      const files = (root: string): string[] =>
        fs
          .readdirSync(root, { withFileTypes: true, recursive: true })
          .filter((e) => e.isFile())
          .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
          .sort();
      assert.deepEqual(files(path.join(a, STAGING_ROOT)), files(path.join(b, STAGING_ROOT)));
    } finally {
      fs.rmSync(a, { recursive: true, force: true });
      fs.rmSync(b, { recursive: true, force: true });
    }
  });

  it("plans the copies of a build purely", () => {
    const b = plan().builds.find((x) => x.id === "car/amd64");
    assert.ok(b);
    assert.deepEqual(stagingOf(b).copies, [
      {
        from: "/r/components/processor",
        to: `${STAGING_ROOT}/car__amd64/context/components/processor`,
      },
      {
        from: "/r/dependency/applications/car",
        to: `${STAGING_ROOT}/car__amd64/context/dependency/applications/car`,
      },
      {
        from: "/r/.dockerignore",
        to: `${STAGING_ROOT}/car__amd64/context/.dockerignore`,
        optional: true,
      },
      { from: "/r/build/car.Dockerfile", to: `${STAGING_ROOT}/car__amd64/Dockerfile` },
      {
        from: "/r/build/car.Dockerfile.dockerignore",
        to: `${STAGING_ROOT}/car__amd64/Dockerfile.dockerignore`,
        optional: true,
      },
    ]);
  });
});

describe("our stand-in Dockerfiles (dockerfiles/build, dockerfiles/atom)", () => {
  // BuildKit's InvalidDefaultArgInFrom check expands each FROM with the ARG defaults alone (no build
  // args) and warns, on every build, when the result is not a valid image name. The estate always
  // passes its own args; the defaults only keep our files free of that warning.
  const root = path.resolve(__dirname, "../../dockerfiles");
  const ours = fs
    .readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".Dockerfile") || /(^|\/)\d+-Dockerfile-[^/]+$/.test(f))
    .sort();
  it("covers every stand-in Dockerfile, the Atom chain's steps too", () => {
    assert.ok(ours.includes("build/datasource.Dockerfile"));
    assert.ok(ours.includes("atom/stock/10-Dockerfile-base"));
    assert.ok(ours.length >= 26, ours.join(", "));
  });
  for (const file of ours) {
    it(`${file}: every FROM names a valid image with the ARG defaults alone`, () => {
      const text = fs.readFileSync(path.join(root, file), "utf8");
      const resolved = resolveDockerfile(text, { file, platform: "linux/amd64" });
      const froms = resolved.references.filter((r) => r.kind === "from");
      assert.ok(froms.length > 0, `${file} has no external FROM`);
      for (const r of froms)
        assert.doesNotThrow(() => parseReference(r.ref), `${r.where}: FROM ${r.raw} → "${r.ref}"`);
    });
  }
});
