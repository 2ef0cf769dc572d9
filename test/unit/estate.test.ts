/**
 * The estate's components under Pulumi mocks: every registration is recorded and checked against the
 * plan. The program itself (index.ts) is loaded with the dev stack's config.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
  installMocks,
  isSecretInput,
  ofType,
  plain,
  promiseOf,
  registrations,
  reset,
  settle,
  typeChain,
} from "./helpers/mocks";
import { flatPlan, type BaseLink, type FlatPlan } from "../../estate/planner";
import { plannedBuild } from "./helpers/fixtures";

const ROOT = path.resolve(__dirname, "../..");
const PIN = (n: string) => `registry.dayu.test:5443/upstream/${n}@sha256:${"e".repeat(64)}`;
const DIGEST = /^registry\.dayu\.test:5443\/[a-z0-9/_.-]+@sha256:[a-f0-9]{64}$/;

interface ImageInputs {
  platforms: string[];
  context?: { location: string; named?: Record<string, { location: string }> };
  dockerfile?: { location: string };
  builder: { name: string };
  tags: string[];
  buildArgs?: Record<string, string>;
  cacheFrom: { registry: { ref: string } }[];
  cacheTo: { registry: { ref: string } }[];
  push: boolean;
  registries: { address: string; username: string; password: string }[];
}

describe("the program under mocks (dev stack, Dayu catalog)", function () {
  this.timeout(60000);
  let program: {
    summary: pulumi.Output<unknown>;
    counts: { builds: number; indexes: number; mirrors: number };
  };
  let plan: FlatPlan;

  before(async () => {
    reset();
    await installMocks("dayu-estate", "dev");
    const catalog = (await import("../../estate/catalog")).parseCatalog(
      fs.readFileSync(path.join(ROOT, "estate.yaml"), "utf8"),
      "estate.yaml",
    );
    const mirrorSources = Object.fromEntries(
      (catalog.mirrors ?? []).map((m) => [m.name, PIN(m.name)]),
    );
    const stackFile = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
    const config = (await import("yaml")).parse(stackFile).config as Record<string, unknown>;
    const all: Record<string, string> = {};
    for (const [k, v] of Object.entries(config))
      all[k] = typeof v === "string" ? v : JSON.stringify(v);
    all["dayu-estate:mirrorSources"] = JSON.stringify(mirrorSources);
    all["dayu-estate:registryPassword"] = "s3cret-for-tests";
    all["dayu-estate:preflight"] = "false";
    all["dayu-estate:registryCache"] = "true";
    all["dayu-estate:registry"] = JSON.stringify({
      ...(config["dayu-estate:registry"] as object),
      caFile: undefined,
    });
    pulumi.runtime.setAllConfig(all, ["dayu-estate:registryPassword"]);
    program = await import("../../index");
    const { planForStack } = await import("../../scripts/plan");
    plan = flatPlan(planForStack("dev"));
    await promiseOf(program.summary);
    await settle();
  });

  const images = () =>
    new Map(ofType("docker-build:index:Image").map((r) => [r.name, plain<ImageInputs>(r.inputs)]));

  it("declares one Image per planned build and one Index per tag plus the mirrors", () => {
    // The Dayu images' 60 builds and 56 indexes, + the Atom-style chain: 3 steps × 2 platforms, 1 tag.
    assert.equal(program.counts.builds, 60 + 6);
    assert.equal(program.counts.indexes, 56 + 1);
    assert.equal(ofType("docker-build:index:Image").length, 60 + 6);
    assert.equal(ofType("docker-build:index:Index").length, 56 + 1 + 6);
    assert.equal(plan.builds.length, 60 + 6);
  });

  it("builds each Image for exactly one platform, on that platform's builder, pushed as an arch tag", () => {
    for (const r of ofType("docker-build:index:Image")) {
      const i = plain<ImageInputs>(r.inputs);
      assert.equal(i.platforms.length, 1, r.name);
      const arch = i.platforms[0].split("/")[1];
      assert.equal(i.builder.name, `dayu-${arch}`, r.name);
      assert.equal(i.push, true);
      assert.equal(i.tags.length, 1);
      assert.ok(i.tags[0].endsWith(`-${arch}`), i.tags[0]);
      assert.equal(i.cacheFrom[0].registry.ref, i.cacheTo[0].registry.ref);
      assert.ok(i.cacheTo[0].registry.ref.endsWith(`-${arch}`));
      assert.equal(i.registries[0].username, "dayu");
      assert.ok(
        isSecretInput(r.inputs.registries),
        `${r.name}: registry credentials must arrive as a secret`,
      );
    }
    const caches = ofType("docker-build:index:Image").map(
      (r) => (r.inputs as unknown as ImageInputs).cacheTo[0].registry.ref,
    );
    assert.equal(new Set(caches).size, caches.length, "no cache ref shared by two builds");
  });

  it("has zero redundant amd64 builds", () => {
    const amd64 = ofType("docker-build:index:Image").filter(
      (r) => (r.inputs as unknown as ImageInputs).platforms[0] === "linux/amd64",
    );
    // Each build has a staging folder of its own: compare what was staged from, not where.
    const planned = new Map(plan.builds.map((b) => [b.id, b]));
    const keys = amd64.map((r) => {
      const inputs = plain<ImageInputs>(r.inputs);
      const b = planned.get(r.name);
      return JSON.stringify({
        ...r.inputs,
        context: { ...inputs.context, location: [b?.context, b?.contextSources] },
        dockerfile: { location: b?.dockerfile },
        tags: undefined,
        cacheFrom: undefined,
        cacheTo: undefined,
        labels: undefined,
      });
    });
    assert.equal(
      new Set(keys).size,
      amd64.length,
      "no two amd64 Images with the same build inputs",
    );
    // One per image, the chain's one per step.
    assert.equal(amd64.length, 20 + 3);
  });

  it("gives every Index exactly the per-arch digest refs of its tag's builds", () => {
    const built = images();
    const byTag = new Map(
      ofType("docker-build:index:Index").map((r) => [
        String(r.inputs.tag),
        r.inputs.sources as string[],
      ]),
    );
    for (const idx of plan.indexes) {
      const sources = byTag.get(idx.ref);
      assert.ok(sources, `no Index for ${idx.ref}`);
      assert.equal(sources.length, idx.builds.length, idx.id);
      idx.builds.forEach((b, n) => {
        assert.match(sources[n], DIGEST);
        const img = built.get(b.build);
        assert.ok(img, b.build);
        assert.equal(img.platforms[0], b.platform);
        // The mock's digest for that Image, as the ref's digest.
        const repo = plan.builds.find((x) => x.id === b.build)?.repository;
        assert.ok(sources[n].startsWith(`${repo}@sha256:`), `${idx.id}: ${sources[n]}`);
      });
    }
  });

  it("passes each dependent its base by digest of the same platform's build", () => {
    const built = images();
    const digestOf = new Map(
      ofType("docker-build:index:Image").map((r) => [r.name, String(r.state.digest)]),
    );
    /**
     * What a base link must arrive as: `repository@sha256:…` of the same platform's build (another
     * image's, or the previous step's of this image's chain).
     */
    const expected = (b: (typeof plan.builds)[number], link: BaseLink) => {
      if (link.kind === "build" || link.kind === "step") {
        const base = plan.builds.find((x) => x.id === link.build);
        assert.equal(base?.platform, b.platform);
        return `${base?.repository}@${digestOf.get(base?.id ?? "")}`;
      }
      if (link.kind === "mirror") {
        // The copy is the pinned source (its guard checks it): the digest the stack pins it to
        // (mirrorSources), in the mirror's repository.
        const m = plan.mirrors.find((x) => x.name === link.mirror);
        return `${m?.repository}@${PIN(link.mirror).split("@")[1]}`;
      }
      return link.kind === "external" ? link.ref : "";
    };
    for (const b of plan.builds) {
      const inputs = built.get(b.id);
      const args = inputs?.buildArgs ?? {};
      // Named contexts (Dayu's FROM lines): exactly the plan's keys, each a pinned docker-image.
      const named = inputs?.context?.named ?? {};
      assert.deepEqual(Object.keys(named).sort(), b.contexts.map((c) => c.key).sort(), b.id);
      for (const c of b.contexts) {
        const location = named[c.key]?.location ?? "";
        assert.equal(location, `docker-image://${expected(b, c.base)}`, `${b.id} ${c.key}`);
        assert.match(location.slice("docker-image://".length), DIGEST, b.id);
      }
      if (!b.base) {
        assert.equal(args.BASE_IMAGE, undefined, b.id);
        continue;
      }
      assert.equal(args.BASE_IMAGE, expected(b, b.base), b.id);
      assert.match(args.BASE_IMAGE, DIGEST, b.id);
    }
    // Spot check: the jp5 arm64 processor gets dayubase's jp5 arm64 digest, the amd64 one dayubase's
    // amd64, each under the name its FROM line uses; datasource (Atom-style) its base in BASE_IMAGE.
    const namedOf = (id: string, key: string) => built.get(id)?.context?.named?.[key]?.location;
    assert.ok(
      namedOf("car-detection/jp5/arm64", "dayuhub/dayubase:latest-jp5")?.endsWith(
        digestOf.get("dayubase/jp5/arm64") ?? "?",
      ),
    );
    assert.ok(
      namedOf("car-detection/amd64", "dayuhub/dayubase")?.endsWith(
        digestOf.get("dayubase/amd64") ?? "?",
      ),
    );
    assert.ok(
      built
        .get("datasource/arm64")
        ?.buildArgs?.BASE_IMAGE?.endsWith(digestOf.get("rtsp-server/arm64") ?? "?"),
    );
  });

  it("builds from a staged context of only what the build reads, at a path relative to the project", () => {
    const built = images();
    const car = built.get("car-detection/jp5/arm64");
    assert.equal(car?.context?.location, ".estate/contexts/car-detection__jp5__arm64/context");
    assert.equal(
      car?.dockerfile?.location,
      ".estate/contexts/car-detection__jp5__arm64/Dockerfile",
    );
    const staged = path.join(ROOT, ".estate/contexts/car-detection__jp5__arm64");
    const listing = (dir: string): string[] =>
      fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) =>
          e.isDirectory() ? listing(path.join(dir, e.name)).map((x) => `${e.name}/${x}`) : [e.name],
        )
        .sort();
    assert.deepEqual(listing(path.join(staged, "context")), [
      "components/processor/start.sh",
      "dependency/core/applications/car_detection/app.sh",
      "dependency/core/lib/requirements.txt",
    ]);
    assert.equal(
      fs.readFileSync(path.join(staged, "Dockerfile"), "utf8"),
      fs.readFileSync(path.join(ROOT, "dockerfiles/build/car_detection.Dockerfile"), "utf8"),
    );
    for (const [id, i] of built) {
      assert.ok(!path.isAbsolute(i.context?.location ?? "/"), id);
      assert.ok(!path.isAbsolute(i.dockerfile?.location ?? "/"), id);
    }
  });

  it("mirrors third-party images by digest, redis at the registry root", () => {
    const mirrors = ofType("docker-build:index:Index").filter((r) =>
      (r.inputs.sources as string[])[0].includes("/upstream/"),
    );
    assert.equal(mirrors.length, 6);
    const redis = mirrors.find((r) => r.inputs.tag === "registry.dayu.test:5443/redis:latest");
    assert.deepEqual(redis?.inputs.sources, [PIN("redis")]);
  });

  it("nests every resource under its component", () => {
    const components = registrations
      .filter((r) => r.type.startsWith("dayu:estate:"))
      .map((r) => r.type);
    assert.equal(components.filter((t) => t === "dayu:estate:ImageEstate").length, 1);
    assert.equal(components.filter((t) => t === "dayu:estate:MultiArchImage").length, 20 + 1);
    // Builds are children of their image's component: no wrapper per build (issue 11).
    assert.equal(components.filter((t) => t === "dayu:estate:ArchImage").length, 0);
    assert.equal(ofType("docker-build:index:Image").length, 60 + 6);
    assert.equal(components.filter((t) => t === "dayu:estate:MirroredImage").length, 6);
  });

  it("reads every tag of an image back with one guard per image and per mirror (issue 11)", () => {
    const guards = ofType("pulumi-nodejs:dynamic:Resource").filter((r) => "indexes" in r.inputs);
    assert.equal(guards.length, 20 + 1 + 6);
    const guarded = new Map<string, string>();
    for (const g of guards) {
      for (const [id, i] of Object.entries(g.inputs.indexes as Record<string, { tag: string }>)) {
        assert.equal(guarded.has(id), false, `${id} is guarded once`);
        guarded.set(id, i.tag);
      }
    }
    // Every Index, built or mirrored, is read back under its own name and tag.
    const indexes = ofType("docker-build:index:Index");
    assert.deepEqual(
      Object.fromEntries([...guarded].sort()),
      Object.fromEntries(indexes.map((r) => [r.name, r.inputs.tag as string]).sort()),
    );
  });
});

describe("components under mocks", () => {
  before(async () => {
    reset();
    await installMocks("dayu-estate", "unit");
  });

  it("pins a mirror's dependents to its source digest, through its guard (they wait for the read-back)", async () => {
    const { MirroredImage } = await import("../../components/mirroredImage");
    const source = `upstream.test/library/redis@sha256:${"c".repeat(64)}`;
    const mirror = new MirroredImage("redis", {
      mirror: {
        name: "redis",
        source,
        repository: "reg.test:5000/redis",
        refs: ["reg.test:5000/redis:7", "reg.test:5000/redis:latest"],
        platforms: ["linux/amd64"],
      },
      registry: { address: "reg.test:5000", username: "u", password: "p" },
    });
    assert.equal(await promiseOf(mirror.pinnedRef), `reg.test:5000/redis@sha256:${"c".repeat(64)}`);
    const carried = await (
      mirror.pinnedRef as unknown as { allResources: () => Promise<Set<pulumi.Resource>> }
    ).allResources();
    assert.ok(carried.has(mirror.guard), "a dependent's input depends on the mirror's guard");
    assert.deepEqual(
      Object.keys(await promiseOf(mirror.guard.publishedDigests)),
      ["redis:7", "redis:latest"],
      "one guard reads both copies back",
    );
  });

  it("refuses a mirror whose source is not pinned by digest, naming it", async () => {
    const { MirroredImage } = await import("../../components/mirroredImage");
    for (const source of [
      "upstream.test/library/redis:7",
      "upstream.test/library/redis@sha256:abc",
    ])
      assert.throws(
        () =>
          new MirroredImage(`unpinned-${source.length}`, {
            mirror: {
              name: "redis",
              source,
              repository: "reg.test:5000/redis",
              refs: ["reg.test:5000/redis:7"],
              platforms: ["linux/amd64"],
            },
            registry: { address: "reg.test:5000", username: "u", password: "p" },
          }),
        new RegExp(`mirror redis: source ${source} is not pinned by digest`),
      );
  });

  it("keeps the registry password secret", async () => {
    const { PrivateRegistry } = await import("../../components/privateRegistry");
    const reg = new PrivateRegistry("r", {
      mode: "external",
      address: "reg.test:5000",
      username: "u",
      password: "hunter2",
    });
    assert.ok(await pulumi.isSecret(reg.password));
    assert.ok(await pulumi.isSecret(reg.credentials));
    assert.equal(await promiseOf(reg.password), "hunter2");
    assert.equal(await promiseOf(reg.address), "reg.test:5000");
  });

  it("parents each build's Image and each Index under MultiArchImage", async () => {
    const { MultiArchImage } = await import("../../components/multiArchImage");
    const build = (arch: string) => plannedBuild("app", arch, { buildArgs: { A: "1" } });
    const img = new MultiArchImage("app", {
      image: {
        name: "app",
        repository: "reg.test/ns/app",
        builds: [build("amd64"), build("arm64")],
        indexes: [
          {
            id: "app:1",
            image: "app",
            variant: "default",
            tag: "1",
            ref: "reg.test/ns/app:1",
            builds: [
              { platform: "linux/amd64", build: "app/amd64" },
              { platform: "linux/arm64", build: "app/arm64" },
            ],
            release: true,
          },
        ],
      },
      registry: pulumi.secret({ address: "reg.test", username: "u", password: "p" }),
    });
    const summary = await promiseOf(img.summary);
    assert.deepEqual(Object.keys(summary["1"].platforms), ["linux/amd64", "linux/arm64"]);
    assert.deepEqual(await typeChain(img.indexes["1"]), [
      "dayu:estate:MultiArchImage",
      "docker-build:index:Index",
    ]);
    // A URN names the parent's type and the resource's own type.
    assert.deepEqual(await typeChain(img.archImages["app/arm64"].image), [
      "dayu:estate:MultiArchImage",
      "docker-build:index:Image",
    ]);
  });

  it("wires a chain step's base inside the image: the earlier step's digest", async () => {
    const { MultiArchImage } = await import("../../components/multiArchImage");
    const first = plannedBuild("atom", "amd64", {
      id: "atom/gl/amd64",
      step: "gl",
      final: false,
      base: { kind: "external", ref: `docker.io/library/debian@sha256:${"c".repeat(64)}` },
    });
    const last = plannedBuild("atom", "amd64", {
      id: "atom/app/amd64",
      step: "app",
      base: { kind: "step", build: "atom/gl/amd64" },
    });
    const img = new MultiArchImage("atom", {
      image: {
        name: "atom",
        repository: "reg.test/ns/atom",
        builds: [first, last],
        indexes: [
          {
            id: "atom:1",
            image: "atom",
            variant: "default",
            tag: "1",
            ref: "reg.test/ns/atom:1",
            builds: [{ platform: "linux/amd64", build: "atom/app/amd64" }],
            release: false,
          },
        ],
      },
      baseRefs: { "atom/gl/amd64": `docker.io/library/debian@sha256:${"c".repeat(64)}` },
      registry: pulumi.secret({ address: "reg.test", username: "u", password: "p" }),
    });
    await promiseOf(img.summary);
    const args = await promiseOf(
      pulumi.output(img.archImages["atom/app/amd64"].image.buildArgs) as pulumi.Output<
        Record<string, string>
      >,
    );
    assert.equal(args.BASE_IMAGE, await promiseOf(img.archImages["atom/gl/amd64"].pinnedRef));
    assert.match(args.BASE_IMAGE, /^reg\.test\/ns\/atom@sha256:[a-f0-9]{64}$/);
  });

  it("aliases a build's Image to its place under the former ArchImage wrapper, and its former names", async () => {
    const { archImage } = await import("../../components/archImage");
    const parent = new pulumi.ComponentResource("dayu:estate:MultiArchImage", "app");
    const build = plannedBuild("app", "arm64", {
      id: "app/v2/arm64",
      formerIds: ["app/v3/arm64"],
    });
    const arch = archImage(
      { build, registry: { address: "r.test", username: "u", password: "p" } },
      parent,
    );
    await promiseOf(arch.digest);
    const urns = (arch.image as unknown as { __aliases: pulumi.Input<string>[] }).__aliases;
    const all = await Promise.all(urns.map((u) => promiseOf(pulumi.output(u))));
    const tail = (urn: string) => urn.slice(urn.indexOf("::", urn.indexOf("::") + 2) + 2);
    assert.deepEqual(all.map(tail).sort(), [
      // v1.x stacks: the Image under its ArchImage, today's name and the former one
      "dayu:estate:MultiArchImage$dayu:estate:ArchImage$docker-build:index:Image::app/v2/arm64",
      "dayu:estate:MultiArchImage$dayu:estate:ArchImage$docker-build:index:Image::app/v3/arm64",
      // a rename after the wrapper went: the former name in today's place
      "dayu:estate:MultiArchImage$docker-build:index:Image::app/v3/arm64",
    ]);
    assert.match(
      await promiseOf(arch.image.urn),
      /::dayu:estate:MultiArchImage\$docker-build:index:Image::app\/v2\/arm64$/,
    );
  });

  it("refuses a build whose planned base was not wired", async () => {
    const { archImage } = await import("../../components/archImage");
    const parent = new pulumi.ComponentResource("dayu:estate:MultiArchImage", "orphan");
    assert.throws(
      () =>
        archImage(
          {
            build: plannedBuild("x", "amd64", {
              base: { kind: "build", image: "y", build: "y/amd64" },
            }),
            registry: { address: "r.test", username: "u", password: "p" },
          },
          parent,
        ),
      /build x\/amd64: the plan gives it a base but no baseRef was passed/,
    );
  });

  it("refuses a build whose named context was not wired", async () => {
    const { archImage } = await import("../../components/archImage");
    const parent = new pulumi.ComponentResource("dayu:estate:MultiArchImage", "orphan-named");
    assert.throws(
      () =>
        archImage(
          {
            build: plannedBuild("x", "amd64", {
              contexts: [
                { key: "dayuhub/y", base: { kind: "build", image: "y", build: "y/amd64" } },
              ],
            }),
            registry: { address: "r.test", username: "u", password: "p" },
          },
          parent,
        ),
      /build x\/amd64: no pinned reference was passed for its named context\(s\) dayuhub\/y/,
    );
  });

  it("gives docker-build each named context as a pinned docker-image", async () => {
    const { namedContexts } = await import("../../components/archImage");
    const b = plannedBuild("x", "amd64", {
      contexts: [{ key: "dayuhub/y", base: { kind: "build", image: "y", build: "y/amd64" } }],
    });
    const ref = `reg.test/ns/y@sha256:${"d".repeat(64)}`;
    const named = namedContexts(b, { "dayuhub/y": ref }).named ?? {};
    assert.deepEqual(Object.keys(named), ["dayuhub/y"]);
    assert.equal(await promiseOf(named["dayuhub/y"].location), `docker-image://${ref}`);
    assert.deepEqual(namedContexts(plannedBuild("x", "amd64"), undefined), {});
  });
});
