import { strict as assert } from "assert";
import {
  checkBases,
  EstateNames,
  matchReference,
  matchReferences,
  namedContextKey,
  RefMatch,
} from "../../estate/baseRefs";
import { ExternalReference, resolveDockerfile, ResolveOptions } from "../../estate/dockerfile";
import { Problems } from "../../estate/problems";

const DIGEST = `sha256:${"b".repeat(64)}`;
const jp = ["jp4", "jp5", "jp6"].map((n) => ({ name: n, tagSuffix: `-${n}` }));
const names: EstateNames = {
  registry: "registry.dayu.test:5443",
  repositoryPrefix: "e2e",
  namespace: "dayuhub",
  images: [
    { name: "dayubase", tags: ["latest"], variants: jp },
    { name: "car-detection", tags: ["v1.3"], variants: jp },
    { name: "rtsp-server", tags: ["latest"] },
    { name: "atom", repository: "atom/stock", tags: ["v1"] },
  ],
  mirrors: [
    { name: "node", source: "docker.io/library/node:20", repository: "node", tags: ["20"] },
    {
      name: "ultralytics-jp5",
      source: "docker.io/ultralytics/ultralytics:latest-jetson-jetpack5",
      repository: "ultralytics/ultralytics",
      tags: ["latest-jetson-jetpack5"],
    },
  ],
};

describe("matching Dockerfile references to the estate", () => {
  const img = (image: string, variant = "default"): RefMatch => ({ kind: "image", image, variant });
  const mirror = (m: string): RefMatch => ({ kind: "mirror", mirror: m });
  const ext = (ref: string, pinned = false): RefMatch => ({ kind: "external", ref, pinned });
  const table: [string, RefMatch][] = [
    ["docker.io/dayuhub/dayubase:latest-jp5", img("dayubase", "jp5")],
    ["dayuhub/dayubase:latest-jp5", img("dayubase", "jp5")],
    ["dayuhub/dayubase:latest", img("dayubase")],
    ["dayuhub/dayubase", img("dayubase")],
    ["registry.dayu.test:5443/dayuhub/dayubase:latest-jp4", img("dayubase", "jp4")],
    ["registry.dayu.test:5443/e2e/dayuhub/dayubase:latest", img("dayubase")],
    ["registry.dayu.test:5443/e2e/dayuhub/rtsp-server", img("rtsp-server")],
    ["dayuhub/car-detection:v1.3-jp6", img("car-detection", "jp6")],
    [`dayuhub/dayubase@${DIGEST}`, img("dayubase")],
    [`dayuhub/dayubase:latest-jp6@${DIGEST}`, img("dayubase", "jp6")],
    ["registry.dayu.test:5443/atom/stock:v1", img("atom")],
    ["docker.io/atom/stock:v1", img("atom")],
    // Mirrors: by their private repository, at docker.io, or by their upstream source.
    ["registry.dayu.test:5443/node:20", mirror("node")],
    ["registry.dayu.test:5443/e2e/node:20", mirror("node")],
    ["node:20", mirror("node")],
    ["docker.io/library/node:20", mirror("node")],
    ["ultralytics/ultralytics:latest-jetson-jetpack5", mirror("ultralytics-jp5")],
    // External: other registries, other repositories, the upstream at another tag.
    ["node:18", ext("node:18")],
    [
      "other.example.invalid:5000/dayuhub/dayubase:latest",
      ext("other.example.invalid:5000/dayuhub/dayubase:latest"),
    ],
    ["dayubase:latest", ext("dayubase:latest")],
    [
      "docker.io/yuefan2022/tensorrt-ubuntu20.04-cuda11.6:latest",
      ext("docker.io/yuefan2022/tensorrt-ubuntu20.04-cuda11.6:latest"),
    ],
    [`python@${DIGEST}`, ext(`python@${DIGEST}`, true)],
    ["docker/dockerfile:1", ext("docker/dockerfile:1")],
  ];
  for (const [ref, want] of table) {
    it(`${ref} → ${JSON.stringify(want)}`, () =>
      assert.deepEqual(matchReference(ref, names), want));
  }

  it("an estate image or mirror with a tag the estate does not push is an unknown tag", () => {
    assert.deepEqual(matchReference("dayuhub/dayubase:latest-jp7", names), {
      kind: "unknown-tag",
      of: "image",
      name: "dayubase",
      tag: "latest-jp7",
      known: ["latest", "latest-jp4", "latest-jp5", "latest-jp6"],
    });
    assert.equal(matchReference("dayuhub/car-detection", names).kind, "unknown-tag");
    assert.deepEqual(matchReference("registry.dayu.test:5443/node:18", names), {
      kind: "unknown-tag",
      of: "mirror",
      name: "node",
      tag: "18",
      known: ["20"],
    });
  });
});

describe("matching a build's references, with problems at file:line", () => {
  const ref = (r: string, line: number, used = true): ExternalReference => ({
    ref: r,
    raw: r,
    kind: "from",
    where: `build/x.Dockerfile:${line}`,
    line,
    stage: 0,
    used,
  });
  it("matches the used references and reports unknown tags and invalid references", () => {
    const problems = new Problems();
    const out = matchReferences(
      [
        ref("docker.io/dayuhub/dayubase:latest-jp5", 3),
        ref("dayuhub/dayubase:latest-jp9", 4),
        ref("Bad/Ref", 5),
        ref("dayuhub/dayubase:nope", 6, false),
      ],
      names,
      problems,
    );
    assert.deepEqual(
      out.map((o) => [o.line, o.match]),
      [[3, { kind: "image", image: "dayubase", variant: "jp5" }]],
    );
    assert.equal(problems.list.length, 2);
    assert.match(
      problems.list[0],
      /^build\/x\.Dockerfile:4: "dayuhub\/dayubase:latest-jp9" names estate image "dayubase" with tag "latest-jp9", which the estate does not push \(its tags: latest, latest-jp4, latest-jp5, latest-jp6\)$/,
    );
    assert.match(problems.list[1], /^build\/x\.Dockerfile:5: reference "Bad\/Ref": .*lowercase/);
  });
});

describe("named context keys (BuildKit's lookup name for a FROM reference)", () => {
  const table: [string, string][] = [
    ["docker.io/dayuhub/dayubase:latest-jp5", "dayuhub/dayubase:latest-jp5"],
    ["dayuhub/dayubase:latest", "dayuhub/dayubase"],
    ["dayuhub/dayubase", "dayuhub/dayubase"],
    ["docker.io/library/node:20", "node:20"],
    ["node", "node"],
    ["docker.io/library/a/b:1", "library/a/b:1"],
    ["registry.dayu.test:5443/dayuhub/dayubase:latest", "registry.dayu.test:5443/dayuhub/dayubase"],
    [
      "registry.dayu.test:5443/e2e/dayuhub/x:v1.3-jp4",
      "registry.dayu.test:5443/e2e/dayuhub/x:v1.3-jp4",
    ],
    [`python@${DIGEST}`, `python@${DIGEST}`],
    [`python:3@${DIGEST}`, `python:3@${DIGEST}`],
  ];
  for (const [ref, key] of table) {
    it(`${ref} → ${key}`, () => assert.equal(namedContextKey(ref), key));
  }
});

describe("declared bases against the Dockerfile (base inference and its refusals)", () => {
  /** Resolves, matches and checks one Dockerfile; returns the bases used and the problems. */
  function check(
    text: string,
    declared?: { image?: string; mirror?: string },
    baseArg?: string,
    opts: Partial<ResolveOptions> = {},
  ) {
    const problems = new Problems();
    const resolved = resolveDockerfile(text, { file: "build/x.Dockerfile", ...opts });
    resolved.problems.forEach((p) => problems.add(p));
    const matched = matchReferences(resolved.references, names, problems);
    const used = checkBases(resolved, matched, declared, baseArg, 'image "x"', problems);
    return {
      bases: used.bases.map((b) => JSON.stringify(b.match)),
      floating: used.floating.map((f) => f.where),
      problems: problems.list,
    };
  }
  const dayu = "ARG REG=docker.io\nARG TAG=latest\nFROM ${REG}/dayuhub/dayubase:${TAG}\nCOPY x /x";

  it("infers the base from the FROM line; the build's TAG selects the variant", () => {
    assert.deepEqual(check(dayu, undefined, undefined, { buildArgs: { TAG: "latest-jp5" } }), {
      bases: ['{"kind":"image","image":"dayubase","variant":"jp5"}'],
      floating: [],
      problems: [],
    });
  });
  it("accepts a declared base the FROM line names", () => {
    assert.deepEqual(check(dayu, { image: "dayubase" }).problems, []);
    assert.deepEqual(check("FROM node:20", { mirror: "node" }).problems, []);
  });
  it("refuses a FROM naming another estate image, and a declared base never used", () => {
    assert.deepEqual(check(dayu, { image: "rtsp-server" }).problems, [
      'build/x.Dockerfile:3: FROM "docker.io/dayuhub/dayubase:latest" names estate image "dayubase", but image "x" declares base image "rtsp-server"',
      'image "x": declares base image "rtsp-server", which build/x.Dockerfile never uses (its FROM lines: docker.io/dayuhub/dayubase:latest at line 3)',
    ]);
  });
  it("lists external references without a digest as floating, with file:line", () => {
    const pinned = `python@sha256:${"c".repeat(64)}`;
    const r = check(`FROM python:3 AS a\nFROM ${pinned}\nCOPY --from=a / /`);
    assert.deepEqual(r.floating, ["build/x.Dockerfile:1"]);
  });
  it("checks the ARG BASE_IMAGE convention for real", () => {
    const ok = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE} AS b\nRUN true\nFROM b";
    const pin = { BASE_IMAGE: `registry.dayu.test:5443/dayuhub/dayubase@sha256:${"d".repeat(64)}` };
    assert.deepEqual(check(ok, undefined, "BASE_IMAGE", { buildArgs: pin }).problems, []);
    assert.deepEqual(
      check("FROM a\nARG BASE_IMAGE\nFROM ${BASE_IMAGE}", undefined, "BASE_IMAGE", {
        buildArgs: pin,
      }).problems,
      [
        "build/x.Dockerfile:3: base name (${BASE_IMAGE}) should not be blank",
        'image "x": build/x.Dockerfile must declare ARG BASE_IMAGE before its first FROM, or the pinned base is not seen by FROM',
      ],
    );
    assert.deepEqual(
      check(
        "ARG BASE_IMAGE\nFROM $BASE_IMAGE AS b\nFROM alpine\nCOPY --from=b / /",
        undefined,
        "BASE_IMAGE",
        { buildArgs: pin },
      ).problems,
      [
        'build/x.Dockerfile:3: the final stage derives from "alpine", not from ${BASE_IMAGE}, so the pinned base would be ignored (image "x")',
      ],
    );
  });
});
