import { strict as assert } from "assert";
import {
  SourceSummary,
  adoptionDecision,
  listedForReplace,
  parseSourceSummary,
  promotionSources,
  replaceExistingProblems,
} from "../../estate/promote";
import { Plan, PlannedImage } from "../../estate/planner";
import { Problems } from "../../estate/problems";
import { plannedBuild } from "./helpers/fixtures";

const d = (c: string) => `sha256:${c.repeat(64)}`;

/** A plan of one image `app` (amd64 + arm64) with a release tag and `latest`, and one mirror. */
function plan(): Plan {
  const builds = [plannedBuild("app", "amd64"), plannedBuild("app", "arm64")];
  const index = (tag: string, release: boolean) => ({
    id: `app:${tag}`,
    image: "app",
    variant: "default",
    tag,
    ref: `reg.test/ns/app:${tag}`,
    builds: builds.map((b) => ({ platform: b.platform, build: b.id })),
    release,
  });
  const image: PlannedImage = {
    name: "app",
    repository: "reg.test/ns/app",
    builds,
    indexes: [index("v1.3", true), index("latest", false)],
  };
  return {
    registry: "reg.test",
    release: "v1.3",
    images: [image],
    mirrors: [
      {
        name: "redis",
        source: `docker.io/library/redis:7@${d("e")}`,
        repository: "reg.test/ns/redis",
        refs: ["reg.test/ns/redis:7"],
        platforms: ["linux/amd64"],
      },
    ],
    imageEdges: [],
  };
}

const src = (tag: string, c: string): SourceSummary[string][string] => ({
  ref: `staging.test:5443/ns/app:${tag}@${d(c)}`,
  platforms: {
    "linux/amd64": `staging.test:5443/ns/app@${d("1")}`,
    "linux/arm64": `staging.test:5443/ns/app@${d("2")}`,
  },
});

describe("promotion sources", () => {
  it("publishes each planned index from the source index by digest, in this stack's repository path", () => {
    const problems = new Problems();
    const summary = { app: { "v1.3": src("v1.3", "a"), latest: src("latest", "a") } };
    const p = promotionSources(plan(), summary, "staging.test:5443", "promote.fromStack", problems);
    assert.deepEqual(problems.list, []);
    assert.deepEqual(p.indexes["app:v1.3"], {
      source: `staging.test:5443/ns/app@${d("a")}`,
      digest: d("a"),
      children: { "linux/amd64": d("1"), "linux/arm64": d("2") },
    });
    assert.equal(p.indexes["app:latest"].source, `staging.test:5443/ns/app@${d("a")}`);
  });

  it("promotes mirrors from the source registry's copy, by this stack's pinned digest", () => {
    const summary = { app: { "v1.3": src("v1.3", "a"), latest: src("latest", "b") } };
    const p = promotionSources(plan(), summary, "staging.test:5443", "k", new Problems());
    assert.deepEqual(p.mirrors, { redis: `staging.test:5443/ns/redis@${d("e")}` });
  });

  it("names every missing image or tag, all at once, at the source's key", () => {
    const problems = new Problems((k) => `dayu-estate:${k} in Pulumi.prod.yaml`);
    promotionSources(
      plan(),
      { app: { latest: src("latest", "a") } },
      "s",
      "promote.fromStack",
      problems,
    );
    assert.deepEqual(problems.list, [
      "dayu-estate:promote.fromStack in Pulumi.prod.yaml: app:v1.3 is not in the source (its tags of app: latest)",
    ]);
    const none = new Problems();
    promotionSources(plan(), {}, "s", "promote.digestFile", none);
    // One problem per missing image, not one per tag.
    assert.equal(none.list.length, 1);
    assert.match(none.list[0], /^promote\.digestFile: image app is not in the source/);
  });

  it("refuses a source index that lacks a planned platform", () => {
    const problems = new Problems();
    const amd = { ...src("v1.3", "a"), platforms: { "linux/amd64": `x@${d("1")}` } };
    promotionSources(plan(), { app: { "v1.3": amd, latest: amd } }, "s", "k", problems);
    assert.match(problems.list[0], /app:v1\.3: the source index .* lacks linux\/arm64/);
  });

  it("checks the shape of a digest file, naming the image and tag", () => {
    const problems = new Problems();
    const parsed = parseSourceSummary(
      { app: { "v1.3": { ref: "reg/app:v1.3", platforms: {} }, latest: src("latest", "a") } },
      "promote.digestFile",
      problems,
    );
    assert.deepEqual(Object.keys(parsed.app), ["latest"]);
    assert.match(problems.list[0], /^promote\.digestFile: app:v1\.3: needs \{ ref/);
    const bad = new Problems();
    parseSourceSummary([], "promote.digestFile", bad);
    assert.match(bad.list[0], /is not a summary/);
  });
});

describe("adoption of an existing registry", () => {
  const TAG = "reg.test/ns/app:v1.3";
  const children = { "linux/amd64": d("1"), "linux/arm64": d("2") };
  const base = { tag: TAG, adopt: false, replace: false };

  it("publishes when the tag is absent or already holds the same content", () => {
    assert.deepEqual(adoptionDecision({ ...base, wanted: { children } }), { action: "publish" });
    const existing = { digest: d("a"), children };
    assert.deepEqual(adoptionDecision({ ...base, existing, wanted: { children } }), {
      action: "publish",
    });
    assert.deepEqual(
      adoptionDecision({ ...base, existing, wanted: { digest: d("a"), children: {} } }),
      { action: "publish" },
    );
  });

  it("refuses other content, naming the tag, its current digest, what would be published and both ways out", () => {
    const existing = { digest: d("a"), children: { "linux/amd64": d("9") } };
    const r = adoptionDecision({ ...base, existing, wanted: { children } });
    assert.equal(r.action, "refuse");
    const msg = r.action === "refuse" ? r.message : "";
    assert.ok(msg.startsWith(`release tag ${TAG} already exists in the registry at ${d("a")}`));
    assert.ok(msg.includes(`linux/amd64 ${d("1")}`) && msg.includes(`linux/arm64 ${d("2")}`));
    assert.match(msg, /adopt: true/);
    assert.match(msg, /"ns\/app:v1\.3" in replaceExisting/);
    const byDigest = adoptionDecision({ ...base, existing, wanted: { digest: d("b"), children } });
    assert.ok(byDigest.action === "refuse" && byDigest.message.includes(`publish ${d("b")}`));
  });

  it("records the existing digest with adopt, and moves only what replaceExisting lists", () => {
    const existing = { digest: d("a"), children: {} };
    const wanted = { digest: d("b"), children };
    assert.deepEqual(adoptionDecision({ ...base, adopt: true, existing, wanted }), {
      action: "record",
      digest: d("a"),
    });
    assert.deepEqual(adoptionDecision({ ...base, adopt: true, replace: true, existing, wanted }), {
      action: "replace",
      digest: d("a"),
    });
  });

  it("replaceExisting names release tags without the registry; an unknown entry is a problem", () => {
    assert.ok(listedForReplace(TAG, ["ns/app:v1.3"]));
    assert.ok(!listedForReplace(TAG, ["ns/app:latest"]));
    const problems = new Problems();
    replaceExistingProblems(plan(), ["ns/app:v1.3", "ns/app:latest", "ns/ap:v1.3"], problems);
    assert.equal(problems.list.length, 2);
    assert.match(problems.list[0], /^replaceExisting\[1\]: "ns\/app:latest" is not a release tag/);
    assert.match(problems.list[1], /^replaceExisting\[2\]/);
  });
});

describe("npm run promote:export", () => {
  it("writes the summary as the digest file, and refuses a malformed one naming the entry", async () => {
    const { digestFileText } = await import("../../scripts/promote-export");
    const summary = { app: { "v1.3": src("v1.3", "a") } };
    assert.deepEqual(JSON.parse(digestFileText(JSON.stringify(summary), "org/p/staging")), summary);
    assert.throws(
      () => digestFileText(JSON.stringify({ app: { "v1.3": { ref: "x" } } }), "org/p/staging"),
      /^Error: summary of stack org\/p\/staging: app:v1\.3: needs/,
    );
    assert.throws(() => digestFileText("not json", "s"), /is not JSON/);
  });
});

describe("promote settings", () => {
  const base = {
    environment: "prod",
    release: "v1.3",
    registry: { address: "reg.test", username: "u" },
    builders: [{ name: "a", platform: "linux/amd64" }],
  };
  const parse = async (extra: object) =>
    (await import("../../estate/settings")).parseStackConfig({ ...base, ...extra }, "prod");
  const problemsOf = async (extra: object): Promise<string[]> => {
    try {
      await parse(extra);
      return [];
    } catch (err) {
      return (err as { problems: string[] }).problems;
    }
  };

  it("is off by default ({}), with adopt false and no replaceExisting", async () => {
    const s = await parse({});
    assert.equal(s.promote, undefined);
    assert.equal(s.adopt, false);
    assert.deepEqual(s.replaceExisting, []);
  });

  it("takes fromStack or digestFile with the source registry", async () => {
    const s = await parse({
      promote: {
        fromStack: "org/dayu-estate/staging",
        registry: { address: "s:1", username: "r" },
      },
      adopt: true,
      replaceExisting: ["ns/app:v1.3"],
    });
    assert.equal(s.promote?.fromStack, "org/dayu-estate/staging");
    assert.equal(s.promote?.digestFile, undefined);
    assert.equal(s.promote?.registry.address, "s:1");
    assert.equal(s.promote?.registry.username, "r");
    assert.equal(s.promote?.registry.insecure, false);
    assert.equal(s.adopt, true);
  });

  it("refuses both or neither source, a missing registry, no auth or plain HTTP off dev, naming each key", async () => {
    const where = "dayu-estate:promote";
    const both = await problemsOf({
      promote: { fromStack: "o/p/s", digestFile: "d.json", registry: { address: "s" } },
    });
    assert.deepEqual(both, [
      `${where} in Pulumi.prod.yaml: needs exactly one of fromStack (a stack reference) or digestFile`,
      `${where}.registry.username in Pulumi.prod.yaml: is required on a prod stack: the source registry must use authentication`,
    ]);
    const noRegistry = await problemsOf({ promote: { digestFile: "d.json" } });
    assert.match(noRegistry[0], /promote\.registry in Pulumi\.prod\.yaml: is required/);
    const http = await problemsOf({
      promote: { digestFile: "d", registry: { address: "s", username: "r", insecure: true } },
    });
    assert.match(http[0], /promote\.registry\.insecure .*plain HTTP is refused/);
    const badRef = await problemsOf({
      promote: { fromStack: "staging", registry: { address: "s" } },
    });
    assert.match(badRef[0], /promote\.fromStack .*must be <org>\/<project>\/<stack>/);
    const badList = await problemsOf({ replaceExisting: ["v1.3"] });
    assert.match(badList[0], /replaceExisting .*must be a list of <repository>:<tag>/);
  });
});
