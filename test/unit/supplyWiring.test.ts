/**
 * The supply chain wired into the program: the pure stages (build facts, provenance, the prune
 * policy) without mocks, then index.ts under Pulumi mocks with the dev stack's settings and the
 * supply chain switched on: an Attestation per final build, an IndexSignature per index, secrets kept
 * secret, provenance naming the pushed digest and the pinned base.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { memoryFiles } from "../../estate/files";
import { ConfigError, parseStackConfig } from "../../estate/settings";
import { FlatPlan, flatPlan } from "../../estate/planner";
import {
  planRefs,
  releaseTemplates,
  releasesInTags,
  releasesNewestFirst,
  retentionPolicyFor,
} from "../../estate/retentionPolicy";
import { buildFacts, provenanceFor } from "../../lib/buildProvenance";
import { provenancePredicate, sha256Of } from "../../lib/provenance";
import { plannedBuild } from "./helpers/fixtures";
import {
  installMocks,
  isSecretInput,
  ofType,
  plain,
  promiseOf,
  registrations,
  reset,
  settle,
} from "./helpers/mocks";

const ROOT = path.resolve(__dirname, "../..");
const R = "registry.dayu.test:5443";
const D = (c: string) => `sha256:${c.repeat(64)}`;

describe("supply chain wiring: pure stages", () => {
  const files = memoryFiles({
    "/p/dockerfiles/a/Dockerfile": "FROM x\n",
    "/p/dockerfiles/a/app.py": "print(1)\n",
  });
  const build = plannedBuild("a", "arm64", {
    builder: "dayu-arm64",
    repository: `${R}/dayuhub/a`,
    context: "/p/dockerfiles/a",
    dockerfile: "/p/dockerfiles/a/Dockerfile",
    buildArgs: { MODE: "edge" },
    baseArg: "BASE_IMAGE",
  });

  it("hashes each final build's Dockerfile and context once, paths relative to the project", () => {
    const step = { ...build, id: "a/step/arm64", final: false };
    const facts = buildFacts([build, step], files, "/p");
    assert.deepEqual(
      Object.keys(facts),
      ["a/arm64"],
      "chain steps are attested via their final build",
    );
    assert.deepEqual(facts["a/arm64"].dockerfile, {
      path: "dockerfiles/a/Dockerfile",
      digest: sha256Of("FROM x\n"),
    });
    assert.equal(facts["a/arm64"].context.path, "dockerfiles/a");
    const changed = memoryFiles({
      "/p/dockerfiles/a/Dockerfile": "FROM x\n",
      "/p/dockerfiles/a/app.py": "print(2)\n",
    });
    assert.notEqual(
      buildFacts([build], changed, "/p")["a/arm64"].context.digest,
      facts["a/arm64"].context.digest,
      "a changed file changes the context digest",
    );
  });

  it("builds a valid provenance naming the pushed digest, the builder and the pinned base", () => {
    const facts = buildFacts([build], files, "/p")["a/arm64"];
    const base = `${R}/dayuhub/dayubase@${D("b")}`;
    const source = { uri: "urn:dayu-estate:source:dayu-estate", revision: "c".repeat(40) };
    const p = provenanceFor(build, facts, `${R}/dayuhub/a@${D("a")}`, base, source);
    assert.deepEqual(p.subject, { name: `${R}/dayuhub/a`, digest: D("a") });
    assert.deepEqual(p.builder, { name: "dayu-arm64", platform: "linux/arm64" });
    assert.deepEqual(p.buildArgs, { MODE: "edge", BASE_IMAGE: base });
    assert.deepEqual(p.bases, [{ ref: base }]);
    assert.deepEqual(p.source, source);
    assert.doesNotThrow(() => provenancePredicate(p));
    const noBase = provenanceFor(build, facts, `${R}/dayuhub/a@${D("a")}`, undefined, undefined);
    assert.deepEqual(noBase.bases, []);
    assert.equal(noBase.source, undefined);
  });

  const plan: FlatPlan = {
    registry: R,
    release: "v1.10",
    builds: [
      plannedBuild("a", "amd64", {
        archRef: `${R}/dayuhub/a:v1.10-amd64`,
        cacheRef: `${R}/dayuhub/a:buildcache-default-amd64`,
      }),
    ],
    indexes: [
      {
        id: "a:v1.10",
        image: "a",
        variant: "default",
        tag: "v1.10",
        ref: `${R}/dayuhub/a:v1.10`,
        builds: [],
        release: true,
      },
      {
        id: "a:v1.10-jp5",
        image: "a",
        variant: "jp5",
        tag: "v1.10-jp5",
        ref: `${R}/dayuhub/a:v1.10-jp5`,
        builds: [],
        release: true,
      },
      {
        id: "a:latest",
        image: "a",
        variant: "default",
        tag: "latest",
        ref: `${R}/dayuhub/a:latest`,
        builds: [],
        release: false,
      },
    ],
    mirrors: [
      {
        name: "redis",
        source: "x",
        repository: `${R}/redis`,
        refs: [`${R}/redis:7.2`],
        platforms: [],
      },
    ],
  };

  it("keeps every tag the plan uses, without the registry host", () => {
    const { inUse, repositories } = planRefs(plan);
    assert.deepEqual(inUse, [
      "dayuhub/a:buildcache-default-amd64",
      "dayuhub/a:latest",
      "dayuhub/a:v1.10",
      "dayuhub/a:v1.10-amd64",
      "dayuhub/a:v1.10-jp5",
      "redis:7.2",
    ]);
    assert.deepEqual(repositories, ["dayuhub/a", "redis"]);
  });

  it("finds earlier releases in the registry's tags and orders them newest first", () => {
    assert.deepEqual(releaseTemplates(plan), ["${release}", "${release}-jp5"]);
    const found = releasesInTags(plan, [
      "v1.9",
      "v1.9-jp5",
      "v1.8-jp5",
      "v1.9-amd64-x",
      "latest",
      "foo",
      "2024.06",
      `sha256-${"a".repeat(64)}`,
      "v1.10",
    ]);
    assert.deepEqual(releasesNewestFirst("v1.10", found), ["v1.10", "v1.9", "v1.8", "2024.06"]);
    // Hand-pushed tags are never read as (old, hence deleted) releases; nor are per-arch tags.
    assert.ok(
      !found.includes("foo") && !found.includes("latest") && !found.includes("v1.9-amd64-x"),
    );
  });

  it("takes keepReleases, neverTouch and pruneRemoved from the settings", () => {
    const policy = retentionPolicyFor(
      plan,
      { keepReleases: 3, pruneRemoved: true, neverTouch: ["keep-*"] },
      ["v1.2", "v1.9"],
    );
    assert.deepEqual(policy.releases, ["v1.10", "v1.9", "v1.2"]);
    assert.equal(policy.keepReleases, 3);
    assert.equal(policy.pruneRemoved, true);
    assert.deepEqual(policy.neverTouch, ["keep-*"]);
    assert.ok(policy.inUse.includes("dayuhub/a:latest"));
  });

  it("turns retention.maxAge into the policy's age limit; without it there is none", () => {
    const aged = retentionPolicyFor(
      plan,
      { keepReleases: 1, maxAge: "2w", pruneRemoved: false, neverTouch: [] },
      [],
    );
    assert.equal(aged.maxAgeMs, 14 * 24 * 3_600_000);
    const counted = retentionPolicyFor(
      plan,
      { keepReleases: 2, pruneRemoved: false, neverTouch: [] },
      [],
    );
    assert.equal("maxAgeMs" in counted, false);
  });
});

describe("supply chain wiring: settings", () => {
  const base = (env: string, extra: Record<string, unknown> = {}) => ({
    environment: env,
    release: "v1.3",
    registry: { address: "r.test:5000", username: "dayu" },
    builders: [{ name: "b", platform: "linux/amd64" }],
    ...extra,
  });

  it("turns the supply chain on except on dev, with its documented defaults", () => {
    const dev = parseStackConfig(base("dev"), "dev");
    assert.deepEqual(dev.supplyChain, { enabled: false, sbomFormat: "spdx-json" });
    assert.deepEqual(dev.retention, {
      keepReleases: 2,
      maxAge: undefined,
      pruneRemoved: false,
      neverTouch: [],
    });
    const aged = parseStackConfig(
      base("dev", { retention: { keepReleases: 1, maxAge: "90d" } }),
      "dev",
    );
    assert.deepEqual(aged.retention, {
      keepReleases: 1,
      maxAge: "90d",
      pruneRemoved: false,
      neverTouch: [],
    });
    assert.deepEqual(dev.vulnerabilityGate, { threshold: "Critical", accept: [] });
    assert.equal(dev.cosignPublicKey, "");
    assert.equal(parseStackConfig(base("prod"), "prod").supplyChain.enabled, true);
    const on = parseStackConfig(base("dev", { supplyChain: { enabled: "true" } }), "dev");
    assert.equal(on.supplyChain.enabled, true, "pulumi config set --path gives text");
  });

  it("refuses bad values naming each key", () => {
    assert.throws(
      () =>
        parseStackConfig(
          base("dev", {
            supplyChain: { sbomFormat: "spdx" },
            retention: { keepReleases: 0, neverTouch: "v1.*", maxAge: "30 days" },
            vulnerabilityGate: { threshold: "Severe" },
          }),
          "dev",
        ),
      (err: ConfigError) => {
        const text = err.message;
        assert.match(
          text,
          /supplyChain\.sbomFormat in Pulumi\.dev\.yaml: must be spdx-json, cyclonedx-json/,
        );
        assert.match(
          text,
          /retention\.keepReleases in Pulumi\.dev\.yaml: must be a whole number ≥ 1/,
        );
        assert.match(text, /retention\.neverTouch in Pulumi\.dev\.yaml: must be/);
        assert.match(
          text,
          /retention\.maxAge in Pulumi\.dev\.yaml: must be a whole number of hours, days or weeks/,
        );
        assert.match(text, /vulnerabilityGate\.threshold in Pulumi\.dev\.yaml: must be Negligible/);
        return true;
      },
    );
  });
});

describe("supply chain wiring: the program under mocks (dev settings, supplyChain on)", function () {
  this.timeout(600000);
  const PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n";
  let program: { summary: pulumi.Output<unknown>; environment: string };

  /** The dev stack file's config as the CLI passes it, plus the given keys. */
  function devConfig(extra: Record<string, string>): Record<string, string> {
    const config = parseYaml(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"))
      .config as Record<string, unknown>;
    const catalog = parseYaml(fs.readFileSync(path.join(ROOT, "estate.yaml"), "utf8")) as {
      mirrors: { name: string }[];
    };
    const all: Record<string, string> = {};
    for (const [k, v] of Object.entries(config))
      all[k] = typeof v === "string" ? v : JSON.stringify(v);
    all["dayu-estate:registry"] = JSON.stringify({
      ...(config["dayu-estate:registry"] as object),
      caFile: undefined,
    });
    all["dayu-estate:mirrorSources"] = JSON.stringify(
      Object.fromEntries(catalog.mirrors.map((m) => [m.name, `${R}/upstream/${m.name}@${D("e")}`])),
    );
    all["dayu-estate:preflight"] = "false";
    all["dayu-estate:registryPassword"] = "s3cret-for-tests";
    return { ...all, ...extra };
  }

  it("refuses the supply chain without its key pair, naming every key at once", async () => {
    reset();
    await installMocks("dayu-estate", "dev");
    pulumi.runtime.setAllConfig(
      devConfig({ "dayu-estate:supplyChain": JSON.stringify({ enabled: true }) }),
      ["dayu-estate:registryPassword"],
    );
    const { loadStackConfig } = await import("../../config");
    assert.throws(
      () => loadStackConfig(ROOT),
      (err: Error) => {
        assert.match(
          err.message,
          /cosignPrivateKey in Pulumi\.dev\.yaml: is required \(a secret\)/,
        );
        assert.match(err.message, /cosignPassword in Pulumi\.dev\.yaml: is required/);
        assert.match(err.message, /cosignPublicKey in Pulumi\.dev\.yaml: must be the PEM/);
        assert.doesNotMatch(err.message, /\n\s+at /, "no stack trace");
        return true;
      },
    );
  });

  describe("with the key pair", () => {
    before(async () => {
      reset();
      await installMocks("dayu-estate", "dev");
      const secrets = ["registryPassword", "cosignPrivateKey", "cosignPassword"];
      pulumi.runtime.setAllConfig(
        devConfig({
          "dayu-estate:supplyChain": JSON.stringify({
            enabled: true,
            sbomFormat: "cyclonedx-json",
          }),
          "dayu-estate:cosignPublicKey": PUBLIC_KEY,
          "dayu-estate:cosignPrivateKey": "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nx\n",
          "dayu-estate:cosignPassword": "pw-for-tests",
        }),
        secrets.map((k) => `dayu-estate:${k}`),
      );
      delete require.cache[require.resolve("../../index")];
      program = await import("../../index");
      await promiseOf(program.summary);
      await settle();
    });

    const dynamic = (suffix: string) =>
      ofType("pulumi-nodejs:dynamic:Resource").filter((r) => r.name.endsWith(suffix));

    it("attests every final build once and signs every estate index once", async () => {
      const { planForStack } = await import("../../scripts/plan");
      const finals = new Set(
        flatPlan(planForStack("dev"))
          .builds.filter((b) => b.final)
          .map((b) => b.id),
      );
      // Every build is final but the Atom-style chain's intermediate steps (2 of its 3, per arch).
      const images = ofType("docker-build:index:Image").filter((i) => finals.has(i.name));
      assert.equal(images.length, 66 - 4);
      const attestations = dynamic("-attestation");
      assert.equal(attestations.length, 66 - 4);
      assert.deepEqual(
        attestations.map((a) => a.name.replace(/-attestation$/, "")).sort(),
        images.map((i) => i.name).sort(),
      );
      const estateIndexes = ofType("docker-build:index:Index").filter((r) => r.name.includes(":"));
      const signatures = dynamic("-signature");
      assert.equal(signatures.length, 57);
      for (const s of signatures) {
        const tag = plain<{ tag: string }>(s.inputs).tag;
        assert.ok(tag.startsWith(`${R}/`), tag);
      }
      assert.ok(estateIndexes.length >= 57);
      assert.equal(program.environment, "dev");
    });

    it("attests each image by its pushed digest, with a provenance of that build", () => {
      const images = new Map(ofType("docker-build:index:Image").map((r) => [r.name, r]));
      for (const a of dynamic("-attestation")) {
        const inputs = plain<{
          ref: string;
          sbomFormat: string;
          provenance: {
            buildId: string;
            subject: { name: string; digest: string };
            buildArgs: Record<string, string>;
            bases: { ref: string }[];
            builder: { name: string };
          };
        }>(a.inputs);
        const image = images.get(a.name.replace(/-attestation$/, ""));
        assert.ok(image, a.name);
        const digest = String(image.state.digest);
        const repo = plain<{ tags: string[] }>(image.inputs).tags[0].replace(/:[^:/]+$/, "");
        assert.equal(inputs.ref, `${repo}@${digest}`, a.name);
        assert.equal(inputs.sbomFormat, "cyclonedx-json");
        assert.equal(inputs.provenance.subject.digest, digest);
        const args = plain<{ buildArgs?: Record<string, string> }>(image.inputs).buildArgs ?? {};
        assert.deepEqual(inputs.provenance.buildArgs, args, `${a.name}: the args buildx got`);
        if (args.BASE_IMAGE) assert.deepEqual(inputs.provenance.bases, [{ ref: args.BASE_IMAGE }]);
        assert.ok(isSecretInput(a.inputs.key), `${a.name}: key secret`);
        assert.ok(isSecretInput(a.inputs.registry), `${a.name}: credentials secret`);
      }
    });

    it("keeps the private key and its password out of every plain input", () => {
      for (const r of registrations) {
        const text = JSON.stringify(r.inputs);
        if (isSecretInput(r.inputs.key)) continue;
        assert.ok(!text.includes("pw-for-tests"), `${r.type} ${r.name}`);
      }
    });
  });
});
