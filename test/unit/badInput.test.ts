/**
 * Bad input the planner refuses (or accepts on purpose), class by class (issue 12): chain folders
 * off the pattern, overrides that cannot act, disagreeing pins, generated names colliding with
 * declared ones, tags too long after a suffix, secret-looking build args and platform spellings.
 * In memory, no mocks; each case asserts the exact problem, naming the image, file or key.
 */
import { strict as assert } from "assert";
import { Catalog, ImageDef, parseCatalog } from "../../estate/catalog";
import { memoryFiles } from "../../estate/files";
import { FlatPlan, PlanError, PlanOptions, flatPlan, planEstate } from "../../estate/planner";
import { EstateInputError } from "../../estate/problems";

const DF = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n";
const PINNED = `docker.io/library/debian@sha256:${"b".repeat(64)}`;
const DIGEST_A = `sha256:${"a".repeat(64)}`;
const DIGEST_C = `sha256:${"c".repeat(64)}`;
const BUILDERS = [
  { name: "amd", platform: "linux/amd64" },
  { name: "arm", platform: "linux/arm64" },
];

const img = (name: string, extra: Partial<ImageDef> = {}): ImageDef => ({
  name,
  context: name,
  platforms: ["linux/amd64", "linux/arm64"],
  tags: ["${release}"],
  base: { external: PINNED },
  ...extra,
});

/** Plans `catalog` over in-memory files (a Dockerfile in every image's context by default). */
function plan(
  catalog: Partial<Catalog>,
  files: Record<string, string> = {},
  opts: Partial<PlanOptions> = {},
): FlatPlan {
  const full: Catalog = { namespace: "ns", images: [], ...catalog };
  const dockerfiles = Object.fromEntries(full.images.map((i) => [`/c/${i.name}/Dockerfile`, DF]));
  return flatPlan(
    planEstate(full, {
      catalogDir: "/c",
      registry: "reg.test",
      release: "v1",
      builders: BUILDERS,
      files: memoryFiles({ ...dockerfiles, ...files }),
      ...opts,
    }),
  );
}

/** The problems of a refused plan (fails when it is accepted). */
function refused(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof EstateInputError, String(err));
    return err.problems;
  }
  assert.fail("accepted");
}

describe("bad input: Atom-style chain folders", () => {
  const atom = (files: Record<string, string>) =>
    plan(
      { images: [img("atom", { chain: "stock", tags: ["t"] })] },
      {
        "/c/atom/stock/1-Dockerfile-base": DF,
        "/c/atom/stock/2-Dockerfile-python": DF,
        ...files,
      },
    );

  it("refuses Dockerfile-like names off the <num>-Dockerfile-<descriptor> pattern", () => {
    assert.deepEqual(
      refused(() =>
        atom({ "/c/atom/stock/10-dockerfile-app": DF, "/c/atom/stock/Dockerfile-x": DF }),
      ),
      [
        'image "atom": chain file 10-dockerfile-app does not follow <num>-Dockerfile-<descriptor> (e.g. 10-Dockerfile-base; "Dockerfile" with this case), so it would not be built',
        'image "atom": chain file Dockerfile-x does not follow <num>-Dockerfile-<descriptor> (e.g. 10-Dockerfile-base; "Dockerfile" with this case), so it would not be built',
      ],
    );
  });

  it("refuses an args file of no step (a typo) or of an unknown architecture", () => {
    const got = refused(() =>
      atom({
        "/c/atom/stock/pyhton-arm64-args": "A=1\n",
        "/c/atom/stock/base-amr64-args": "A=1\n",
      }),
    );
    assert.equal(got.length, 2, got.join("\n"));
    assert.match(got[0], /^image "atom": args file base-amr64-args: unknown architecture "amr64"/);
    assert.equal(
      got[1],
      'image "atom": args file pyhton-arm64-args belongs to no chain step (<descriptor>-<arch>-args; descriptors: base, python)',
    );
  });

  it("refuses two args files for one platform under two spellings", () => {
    assert.deepEqual(
      refused(() =>
        atom({
          "/c/atom/stock/base-arm64-args": "A=1\n",
          "/c/atom/stock/base-aarch64-args": "A=2\n",
        }),
      ),
      [
        'image "atom": args files base-aarch64-args and base-arm64-args are both for linux/arm64: keep one',
      ],
    );
  });

  it("reads aliases the way platforms are normalised (x86_64 → amd64, aarch64 → arm64) and leaves other files alone", () => {
    const p = atom({
      "/c/atom/stock/python-x86_64-args": "PY=amd\n",
      "/c/atom/stock/python-aarch64-args": "PY=arm\n",
      "/c/atom/stock/notes.txt": "x",
    });
    const py = p.builds.filter((b) => b.step === "python");
    assert.deepEqual(
      py.map((b) => [b.arch, b.buildArgs.PY]),
      [
        ["amd64", "amd"],
        ["arm64", "arm"],
      ],
    );
  });
});

describe("bad input: overrides that cannot act and pins that disagree", () => {
  it("refuses a Dockerfile override on a chain image, wherever it is set", () => {
    assert.deepEqual(
      refused(() =>
        plan({
          variants: [{ name: "jp5", tagSuffix: "-jp5" }],
          images: [
            img("atom", {
              chain: "stock",
              variants: ["jp5"],
              variantOverrides: { jp5: { "linux/arm64": { dockerfile: "Dockerfile.jp5" } } },
            }),
          ],
        }),
      ),
      [
        'image "atom": variantOverrides.jp5.linux/arm64.dockerfile would have no effect: a chain image builds its chain folder\'s Dockerfiles (set either chain or dockerfile, not both)',
      ],
    );
  });

  it("refuses a baseArg on an image that names no base", () => {
    assert.deepEqual(
      refused(() => plan({ images: [img("a", { base: undefined, baseArg: "FROM_IMAGE" })] })),
      [
        'image "a": baseArg FROM_IMAGE would have no effect: the image names no base (base, or one in its overrides)',
      ],
    );
  });

  it("refuses a mirror whose source digest and digest disagree, and accepts them agreeing", () => {
    const mirror = (source: string) => ({
      mirrors: [
        {
          name: "redis",
          source,
          digest: DIGEST_A,
          repository: "redis",
          tags: ["7"],
          platforms: ["linux/amd64"],
        },
      ],
      images: [img("a")],
    });
    assert.deepEqual(
      refused(() => plan(mirror(`docker.io/library/redis:7@${DIGEST_C}`))),
      [
        `mirror "redis": source docker.io/library/redis:7@${DIGEST_C} is pinned to ${DIGEST_C} but digest is ${DIGEST_A}: keep one pin`,
      ],
    );
    assert.equal(
      plan(mirror(`docker.io/library/redis:7@${DIGEST_A}`)).mirrors[0].source,
      `docker.io/library/redis:7@${DIGEST_A}`,
    );
  });
});

describe("bad input: generated names against declared ones", () => {
  it("refuses a declared tag equal to a per-arch tag or a cache tag of the same image", () => {
    const got = refused(() =>
      plan({ images: [img("a", { tags: ["v1", "v1-amd64", "buildcache-default-arm64"] })] }),
    );
    assert.deepEqual(got, [
      'reg.test/ns/a:v1-amd64 is pushed by both image "a" (per-arch tag of build a/amd64) and image "a" (index tag of variant default)',
      'reg.test/ns/a:buildcache-default-arm64 is pushed by both image "a" (cache tag of build a/arm64) and image "a" (index tag of variant default)',
    ]);
  });

  it("refuses two images in one repository, and an image in a mirror's; mirrors may share one", () => {
    const m = (name: string, tag: string, repository = "up/x") => ({
      name,
      source: `docker.io/up/x:${tag}`,
      digest: DIGEST_A,
      repository,
      tags: [tag],
      platforms: ["linux/amd64"],
    });
    const got = refused(() =>
      plan({
        mirrors: [m("x1", "one"), m("x2", "two")],
        images: [img("a"), img("b", { repository: "ns/a" }), img("c", { repository: "up/x" })],
      }),
    );
    assert.deepEqual(got, [
      'image "a" and image "b" both push to repository reg.test/ns/a: give each image its own repository (their generated per-arch and cache tags would collide)',
      'reg.test/ns/a:v1-amd64 is pushed by both image "a" (per-arch tag of build a/amd64) and image "b" (per-arch tag of build b/amd64)',
      'reg.test/ns/a:buildcache-default-amd64 is pushed by both image "a" (cache tag of build a/amd64) and image "b" (cache tag of build b/amd64)',
      'reg.test/ns/a:v1-arm64 is pushed by both image "a" (per-arch tag of build a/arm64) and image "b" (per-arch tag of build b/arm64)',
      'reg.test/ns/a:buildcache-default-arm64 is pushed by both image "a" (cache tag of build a/arm64) and image "b" (cache tag of build b/arm64)',
      'reg.test/ns/a:v1 is pushed by both image "a" (index tag of variant default) and image "b" (index tag of variant default)',
      'mirror "x1" and image "c" both push to repository reg.test/up/x: give each image its own repository (their generated per-arch and cache tags would collide)',
    ]);
    assert.equal(
      plan({ mirrors: [m("x1", "one"), m("x2", "two")], images: [img("a")] }).mirrors.length,
      2,
    );
  });

  it("refuses two variants with one name or one tag suffix", () => {
    const got = refused(() =>
      plan({
        variants: [
          { name: "jp5", tagSuffix: "-jp5" },
          { name: "jp5", tagSuffix: "-jp5b" },
          { name: "jp6", tagSuffix: "-jp5" },
        ],
        images: [img("a")],
      }),
    );
    assert.deepEqual(got, [
      'variant "jp5" is declared twice in the catalog',
      'variants "jp5" and "jp6" have the same tagSuffix "-jp5": their tags would collide',
    ]);
  });

  it("refuses a tag listed twice, also once ${release} is substituted", () => {
    assert.deepEqual(
      refused(() => plan({ images: [img("a", { tags: ["x", "x"] })] })),
      ['image "a": tag "x" is listed twice'],
    );
    assert.deepEqual(
      refused(() => plan({ images: [img("a", { tags: ["${release}", "v1"] })] })),
      ['image "a": tags "${release}" and "v1" are both v1'],
    );
  });

  it("refuses a mirror tag listed twice", () => {
    assert.deepEqual(
      refused(() =>
        plan({
          mirrors: [
            {
              name: "redis",
              source: "docker.io/library/redis:7",
              digest: DIGEST_A,
              repository: "redis",
              tags: ["7", "7"],
              platforms: ["linux/amd64"],
            },
          ],
          images: [img("a")],
        }),
      ),
      ['mirror "redis": tag 7 is listed twice'],
    );
  });

  it("refuses an intermediate chain step whose -<step>-<arch> tag passes 128", () => {
    const t = "t".repeat(118); // +"-amd64" fits, +"-base-amd64" does not
    const got = refused(() =>
      plan(
        { images: [img("atom", { chain: "stock", tags: [t], platforms: ["linux/amd64"] })] },
        { "/c/atom/stock/1-Dockerfile-base": DF, "/c/atom/stock/2-Dockerfile-app": DF },
      ),
    );
    assert.deepEqual(got, [
      `image "atom": the per-arch tag of build atom/base/amd64 is invalid: tag "${t.slice(0, 40)}..." is longer than 128 characters (made from the image's first tag; shorten it or the variant's tagSuffix)`,
    ]);
  });

  it("refuses a tag that only a variant suffix, a step or an arch makes longer than 128", () => {
    const t = "t".repeat(124);
    const viaSuffix = refused(() =>
      plan({
        variants: [{ name: "jp5", tagSuffix: "-jp5x" }],
        images: [img("a", { tags: [t], variants: ["jp5"] })],
      }),
    );
    assert.ok(
      viaSuffix.includes(
        `image "a": variant jp5's tag suffix "-jp5x" makes an invalid tag "${t.slice(0, 40)}..." is longer than 128 characters`,
      ),
      viaSuffix.join("\n"),
    );
    const viaArch = refused(() => plan({ images: [img("a", { tags: [t] })] }));
    assert.deepEqual(viaArch, [
      `image "a": the per-arch tag of build a/amd64 is invalid: tag "${t.slice(0, 40)}..." is longer than 128 characters (made from the image's first tag; shorten it or the variant's tagSuffix)`,
      `image "a": the per-arch tag of build a/arm64 is invalid: tag "${t.slice(0, 40)}..." is longer than 128 characters (made from the image's first tag; shorten it or the variant's tagSuffix)`,
    ]);
  });
});

describe("bad input: secret-looking build args", () => {
  const withArgs = (buildArgs: Record<string, string>, notSecret?: string[]) => () =>
    plan({ images: [img("a", { buildArgs, ...(notSecret ? { notSecret } : {}) })] });

  for (const name of [
    "NPM_PASS",
    "GITLAB_PAT",
    "SSH_KEY",
    "REGISTRY_AUTH",
    "GITHUB_TOKEN",
    "githubToken",
    "PASSWORD",
  ]) {
    it(`refuses the name ${name}`, () => {
      const got = refused(withArgs({ [name]: "x" }));
      assert.equal(got.length, 1, got.join("\n")); // both platforms' builds: one problem
      assert.match(
        got[0],
        new RegExp(
          `^image "a": build arg ${name} looks like a secret: its name looks like a credential \\(the word [A-Z_]+\\); .*or list it under notSecret if it is none\\)$`,
        ),
      );
    });
  }

  for (const name of [
    "TOKENIZERS_PARALLELISM",
    "MAX_TOKENS",
    "PASS_THROUGH",
    "AUTHOR",
    "KEYBOARD",
    "PATH_PREFIX",
  ]) {
    it(`accepts the harmless name ${name}`, () => {
      assert.equal(withArgs({ [name]: "1" })().builds.length, 2);
    });
  }

  it("refuses credentials in values without quoting them, even under notSecret", () => {
    const got = refused(
      withArgs(
        {
          PIP_INDEX_URL: "https://bob:hunter2@pypi.internal/simple",
          DEPLOY: "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
          SOME: `ghp_${"x".repeat(36)}`,
        },
        ["PIP_INDEX_URL"],
      ),
    );
    assert.deepEqual(got.slice(0, 3), [
      'image "a": build arg PIP_INDEX_URL looks like a secret: its value holds a URL with a password (user:password@); build args are stored in image history and state in plaintext (use BuildKit secrets)',
      'image "a": build arg DEPLOY looks like a secret: its value holds a private key block; build args are stored in image history and state in plaintext (use BuildKit secrets)',
      'image "a": build arg SOME looks like a secret: its value holds what looks like an access token; build args are stored in image history and state in plaintext (use BuildKit secrets)',
    ]);
    assert.ok(!got.some((m) => m.includes("hunter2") || m.includes("MIIE") || m.includes("ghp_")));
  });

  it("honours notSecret for names, and refuses a notSecret entry that names no build arg", () => {
    const builds = withArgs({ MODEL_AUTH: "none", B: "1" }, ["MODEL_AUTH"])().builds;
    assert.deepEqual(
      builds.map((b) => b.notSecret),
      [["MODEL_AUTH"], ["MODEL_AUTH"]],
    );
    assert.equal(withArgs({ B: "1" })().builds[0].notSecret, undefined);
    assert.deepEqual(refused(withArgs({ A: "1" }, ["MODEL_AUTH"])), [
      'image "a": notSecret lists MODEL_AUTH, which is no build arg of the image',
    ]);
  });
});

describe("bad input: platforms and builders", () => {
  const yaml = (platforms: string, extra = "") =>
    `namespace: n\nimages:\n  - name: a\n    context: a\n    platforms: ${platforms}\n    tags: [t]\n${extra}`;

  it("normalises aliases in the catalog, in lists and in override keys", () => {
    const c = parseCatalog(
      yaml(
        "[linux/x86_64, linux/aarch64]",
        "    platformOverrides:\n      linux/arm64/v8: { dockerfile: D.arm }\n",
      ),
      "e.yaml",
    );
    assert.deepEqual(c.images[0].platforms, ["linux/amd64", "linux/arm64"]);
    assert.deepEqual(Object.keys(c.images[0].platformOverrides ?? {}), ["linux/arm64"]);
  });

  it("refuses two override keys for one platform, with the line", () => {
    assert.throws(
      () =>
        parseCatalog(
          yaml(
            "[linux/arm64]",
            "    platformOverrides:\n      linux/arm64: { dockerfile: A }\n      linux/arm64/v8: { dockerfile: B }\n",
          ),
          "e.yaml",
        ),
      (err: unknown) => {
        assert.ok(err instanceof EstateInputError);
        assert.deepEqual(err.problems, [
          'e.yaml: images[a].platformOverrides: "linux/arm64" and "linux/arm64/v8" are both linux/arm64 at line 9',
        ]);
        return true;
      },
    );
  });

  it("refuses a platform twice under two spellings, an unknown one, and a bare arch with a hint (with lines)", () => {
    assert.throws(
      () => parseCatalog(yaml("[linux/arm64, linux/aarch64, linux/amr64]"), "e.yaml"),
      (err: unknown) => {
        assert.ok(err instanceof EstateInputError);
        assert.equal(err.problems.length, 2);
        assert.equal(
          err.problems[0],
          'e.yaml: images[a].platforms: lists linux/arm64 twice (as "linux/aarch64" too) at line 5',
        );
        assert.match(
          err.problems[1],
          /^e\.yaml: images\[a\]\.platforms\[2\]: platform "linux\/amr64": unknown architecture "amr64" .* at line 5$/,
        );
        return true;
      },
    );
    assert.throws(
      () => parseCatalog(yaml("[x86_64]"), "e.yaml"),
      /images\[a\]\.platforms\[0\]: must match pattern .* \(platform "x86_64" has no OS: write linux\/amd64\) at line 5/,
    );
  });

  it("normalises builder platforms like the catalog's and refuses names buildx would", () => {
    const p = plan(
      { images: [img("a")] },
      {},
      {
        builders: [
          { name: "amd", platform: "linux/x86_64" },
          { name: "arm", platform: "linux/arm64/v8" },
        ],
      },
    );
    assert.deepEqual(
      p.builds.map((b) => [b.platform, b.builder]),
      [
        ["linux/amd64", "amd"],
        ["linux/arm64", "arm"],
      ],
    );
    const got = refused(() =>
      plan(
        { images: [img("a", { platforms: ["linux/amd64"] })] },
        {},
        {
          builders: [
            { name: "1amd", platform: "linux/amd64" },
            { name: "Dayu-arm", platform: "x86_64" },
            { name: "dayu-ARM", platform: "linux/arm64" },
          ],
        },
      ),
    );
    assert.deepEqual(got, [
      'config builders[0].name: builder name "1amd" is not one buildx accepts (a letter, then letters, digits, ".", "_" or "-")',
      'config builders[1].platform: platform "x86_64" has no OS: write linux/amd64',
      'config builders[2].name: builders "Dayu-arm" and "dayu-ARM" are one builder to buildx (it lowercases names)',
    ]);
  });

  it("is a PlanError for planner problems", () => {
    assert.throws(() => plan({ images: [img("a", { tags: ["x", "x"] })] }), PlanError);
  });
});
