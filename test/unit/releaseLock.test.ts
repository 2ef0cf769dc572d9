import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { plannedBuild } from "./helpers/fixtures";
import { installMocks, ofType, promiseOf, reset } from "./helpers/mocks";

const A = `reg.test/ns/app@sha256:${"a".repeat(64)}`;
const B = `reg.test/ns/app@sha256:${"b".repeat(64)}`;
const C = `reg.test/ns/app@sha256:${"c".repeat(64)}`;
const TAG = "reg.test/ns/app:v1.3";

describe("release lock", () => {
  let lock: typeof import("../../components/releaseLock");
  before(async () => {
    lock = await import("../../components/releaseLock");
  });

  it("allows the same digests again (an idempotent retry)", () => {
    assert.equal(lock.releaseMoveError(TAG, [A, B], [A, B]), undefined);
  });

  it("refuses other digests, naming the tag, both sides and the way out", () => {
    const err = lock.releaseMoveError(TAG, [A, B], [A, C]) ?? "";
    assert.match(err, /^release tag reg\.test\/ns\/app:v1\.3 is immutable on this stack/);
    assert.ok(err.includes(B) && err.includes(C));
    assert.match(err, /config release/);
    assert.match(err, /protectReleases: false/);
  });

  it("fails a preview when both lists are pinned and differ", async () => {
    const p = lock.releaseLockProvider;
    const res = await p.check?.({ tag: TAG, sources: [A, B] }, { tag: TAG, sources: [A, C] });
    assert.equal(res?.failures?.length, 1);
    assert.equal(res?.failures?.[0].property, "sources");
  });

  it("lets a preview with a pending build through, and refuses at update time", async () => {
    const p = lock.releaseLockProvider;
    const { PENDING_DIGEST } = await import("../../components/archImage");
    const pending = { tag: TAG, sources: [A, `reg.test/ns/app:v1.3-arm64@${PENDING_DIGEST}`] };
    const res = await p.check?.({ tag: TAG, sources: [A, B] }, pending);
    assert.deepEqual(res?.failures, []);
    const diff = await p.diff?.(TAG, { tag: TAG, sources: [A, B] }, { tag: TAG, sources: [A, C] });
    assert.equal(diff?.changes, true);
    await assert.rejects(
      p.update?.(TAG, { tag: TAG, sources: [A, B] }, { tag: TAG, sources: [A, C] }) ??
        Promise.reject(),
      /is immutable/,
    );
    assert.deepEqual(
      (await p.update?.(TAG, { tag: TAG, sources: [A, B] }, { tag: TAG, sources: [A, B] }))?.outs,
      { tag: TAG, sources: [A, B] },
    );
  });

  it("is created only before release indexes, and only on protected stacks", async () => {
    reset();
    await installMocks("dayu-estate", "prod");
    const { MultiArchImage } = await import("../../components/multiArchImage");
    const build = plannedBuild("app", "amd64");
    const index = (tag: string, release: boolean) => ({
      id: `app:${tag}`,
      image: "app",
      variant: "default",
      tag,
      ref: `reg.test/ns/app:${tag}`,
      builds: [{ platform: "linux/amd64", build: "app/amd64" }],
      release,
    });
    const registry = pulumi.secret({ address: "reg.test", username: "u", password: "p" });
    const make = (name: string, protectReleases: boolean) =>
      new MultiArchImage(name, {
        image: {
          name: "app",
          repository: "reg.test/ns/app",
          builds: [build],
          indexes: [index("v1.3", true), index("latest", false)],
        },
        registry,
        protectReleases,
      });
    await promiseOf(make("protected", true).summary);
    const locks = () =>
      ofType("pulumi-nodejs:dynamic:Resource").filter((r) => r.name.endsWith("-release-lock"));
    assert.deepEqual(
      locks().map((r) => r.name),
      ["app:v1.3-release-lock"],
    );
    assert.equal(locks()[0].inputs.tag, "reg.test/ns/app:v1.3");
    reset();
    await promiseOf(make("open", false).summary);
    assert.deepEqual(locks(), []);
  });
});

describe("registry cache switch", () => {
  it("leaves cacheFrom/cacheTo out of an Image when registryCache is false", async () => {
    reset();
    await installMocks("dayu-estate", "unit");
    const { archImage } = await import("../../components/archImage");
    const parent = new pulumi.ComponentResource("dayu:estate:MultiArchImage", "x");
    const build = plannedBuild("x", "amd64");
    const registry = { address: "r.test", username: "u", password: "p" };
    await promiseOf(archImage({ build: { ...build, id: "with" }, registry }, parent).digest);
    const uncached = { build: { ...build, id: "without" }, registry, registryCache: false };
    await promiseOf(archImage(uncached, parent).digest);
    const images = ofType("docker-build:index:Image");
    const withCache = images.find((r) => r.name === "with")?.inputs;
    const without = images.find((r) => r.name === "without")?.inputs;
    assert.deepEqual(withCache?.cacheFrom, [
      { registry: { ref: "reg.test/ns/x:buildcache-default-amd64" } },
    ]);
    assert.equal(without?.cacheFrom, undefined);
    assert.equal(without?.cacheTo, undefined);
  });
});
