/**
 * The program in promote mode under Pulumi mocks (dev stack settings plus a digest file made for
 * every planned index): no Image at all, one Index per planned index whose single source is the
 * source index by digest, every copy through one provider holding both registries, read-backs that
 * require the source digest, release locks on the target's copy.
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
  installMocks,
  isSecretInput,
  ofType,
  plain,
  promiseOf,
  reset,
  settle,
} from "./helpers/mocks";
import { flatPlan, type FlatPlan } from "../../estate/planner";

const ROOT = path.resolve(__dirname, "../..");
const SOURCE = "staging.dayu.test:6443";
const PIN = (n: string) => `registry.dayu.test:5443/upstream/${n}@sha256:${"e".repeat(64)}`;
const hex = (s: string) => createHash("sha256").update(s).digest("hex");

describe("the program in promote mode (digest file)", function () {
  this.timeout(60000);
  let program: { summary: pulumi.Output<Record<string, Record<string, { ref: string }>>> };
  let plan: FlatPlan;
  /** Planned index id → the source digest the file gives it. */
  const digests = new Map<string, string>();

  before(async () => {
    reset();
    await installMocks("dayu-estate", "dev");
    const { planForStack } = await import("../../scripts/plan");
    plan = flatPlan(planForStack("dev"));
    // The digest file: what `npm run promote:export` writes from a source stack's summary.
    const summary: Record<string, Record<string, unknown>> = {};
    for (const i of plan.indexes) {
      const d = `sha256:${hex(i.id)}`;
      digests.set(i.id, d);
      const path_ = i.ref.slice(i.ref.indexOf("/") + 1);
      (summary[i.image] ??= {})[i.tag] = {
        ref: `${SOURCE}/${path_}@${d}`,
        platforms: Object.fromEntries(
          i.builds.map((b) => [b.platform, `${SOURCE}/x@sha256:${hex(b.build)}`]),
        ),
      };
    }
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "promote-")), "digests.json");
    fs.writeFileSync(file, JSON.stringify(summary));

    const stackFile = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
    const config = (await import("yaml")).parse(stackFile).config as Record<string, unknown>;
    const all: Record<string, string> = {};
    for (const [k, v] of Object.entries(config))
      all[k] = typeof v === "string" ? v : JSON.stringify(v);
    all["dayu-estate:mirrorSources"] = JSON.stringify(
      Object.fromEntries(plan.mirrors.map((m) => [m.name, PIN(m.name)])),
    );
    all["dayu-estate:registryPassword"] = "target-pass";
    all["dayu-estate:promoteRegistryPassword"] = "source-pass";
    all["dayu-estate:preflight"] = "false";
    all["dayu-estate:protectReleases"] = "true";
    all["dayu-estate:registry"] = JSON.stringify({
      ...(config["dayu-estate:registry"] as object),
      caFile: undefined,
    });
    all["dayu-estate:promote"] = JSON.stringify({
      digestFile: file,
      registry: { address: SOURCE, username: "reader" },
    });
    pulumi.runtime.setAllConfig(all, [
      "dayu-estate:registryPassword",
      "dayu-estate:promoteRegistryPassword",
    ]);
    // A fresh copy of the program (another test file may have loaded it with other config).
    delete require.cache[require.resolve("../../index")];
    program = await import("../../index");
    await promiseOf(program.summary);
    await settle();
  });

  it("declares no docker_build.Image and no builder", () => {
    assert.equal(ofType("docker-build:index:Image").length, 0);
    assert.equal(ofType("dayu:builder:BuildxBuilder").length, 0);
    assert.ok(plan.indexes.length > 10, "the plan has indexes to promote");
  });

  it("publishes each planned index from the source index by digest, and only from it", () => {
    const indexes = new Map(
      ofType("docker-build:index:Index").map((r) => [
        r.name,
        plain<{ tag: string; sources: string[] }>(r.inputs),
      ]),
    );
    for (const i of plan.indexes) {
      const got = indexes.get(i.id);
      assert.ok(got, `an Index for ${i.id}`);
      assert.equal(got.tag, i.ref);
      const path_ = i.ref.slice(i.ref.indexOf("/") + 1, i.ref.lastIndexOf(":"));
      assert.deepEqual(got.sources, [`${SOURCE}/${path_}@${digests.get(i.id)}`]);
    }
    // Mirrors come from the source registry's copies, by this stack's pins.
    const redis = plan.mirrors.find((m) => m.name === "redis");
    const mirrorIndex = ofType("docker-build:index:Index").find((r) => r.name.startsWith("redis:"));
    assert.deepEqual(plain<{ sources: string[] }>(mirrorIndex?.inputs).sources, [
      `${SOURCE}/${redis?.repository.slice(redis.repository.indexOf("/") + 1)}@sha256:${"e".repeat(64)}`,
    ]);
  });

  it("copies through one provider holding both registries' credentials, as secrets", () => {
    const providers = ofType("pulumi:providers:docker-build");
    assert.equal(providers.length, 1);
    // Provider inputs reach the engine as JSON text; the whole value is secret.
    const regs = providers[0].inputs.registries;
    assert.ok(isSecretInput(regs), "the registries input is secret");
    const raw = plain<unknown>(regs);
    const creds = (typeof raw === "string" ? JSON.parse(raw) : raw) as {
      address: string;
      username: string;
      password: string;
    }[];
    assert.deepEqual(creds, [
      { address: "registry.dayu.test:5443", username: "dayu", password: "target-pass" },
      { address: SOURCE, username: "reader", password: "source-pass" },
    ]);
    for (const r of ofType("docker-build:index:Index")) {
      assert.ok(
        r.provider?.includes("dayu-promote"),
        `${r.name} goes through the promote provider`,
      );
    }
  });

  it("reads each index back requiring the source digest; release locks hold the target's copy", () => {
    // One guard per image, requiring each of its indexes' source digests.
    const images = new Set(plan.indexes.map((i) => i.image));
    const guards = ofType("pulumi-nodejs:dynamic:Resource").filter((r) => images.has(r.name));
    assert.equal(guards.length, images.size);
    const required: Record<string, string> = {};
    for (const g of guards) {
      const indexes = g.inputs.indexes as Record<string, { digest: string }>;
      for (const [id, i] of Object.entries(indexes)) required[id] = i.digest;
    }
    assert.deepEqual(required, Object.fromEntries(digests));
    const locks = ofType("pulumi-nodejs:dynamic:Resource").filter((r) =>
      r.name.endsWith("-release-lock"),
    );
    const releases = plan.indexes.filter((i) => i.release);
    assert.equal(locks.length, releases.length);
    const first = releases[0];
    const lock = locks.find((l) => l.name === `${first.id}-release-lock`);
    const repo = first.ref.slice(0, first.ref.lastIndexOf(":"));
    assert.deepEqual(lock?.inputs.sources, [`${repo}@${digests.get(first.id)}`]);
    assert.equal(lock?.inputs.wantDigest, digests.get(first.id));
    // The first up's adoption check reads the target with the stack's credentials, kept secret.
    assert.ok(isSecretInput(lock?.inputs.registry), "the lock's registry credentials are secret");
    assert.equal(lock?.inputs.adopt, false);
  });

  it("reports the promoted digests in the summary", async () => {
    const summary = await promiseOf(program.summary);
    const i = plan.indexes[0];
    assert.ok(summary[i.image][i.tag].ref.startsWith(`${i.ref}@`));
  });
});
