/**
 * Output properties of our custom resources reach the program. With `target: ES2022` TypeScript
 * emits a class field for every declared property (`useDefineForClassFields`), so a property written
 * `public readonly x!: pulumi.Output<T>` was set to undefined right after the Resource constructor
 * had made it an Output. The real promotion run found it: with `adopt: true` the ReleaseLock's
 * `adoptedDigest` was always undefined, so the Index published the source instead of the adopted
 * digest and moved the tag. Outputs are declared with `declare` (no emitted field).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { Plan } from "../../estate/planner";
import type { PromotedSource } from "../../estate/promote";
import { plain, promiseOf } from "./helpers/mocks";

const KEPT = `sha256:${"a".repeat(64)}`;
const SOURCE = `sha256:${"b".repeat(64)}`;
const PUBLISHED = `sha256:${"c".repeat(64)}`;

interface Seen {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

describe("output properties of the custom resources", () => {
  const seen: Seen[] = [];

  before(async () => {
    // What the providers return: a lock that kept an existing digest, a guard that read one back.
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          const inputs = args.inputs as Record<string, unknown>;
          seen.push({ type: args.type, name: args.name, inputs });
          const state: Record<string, unknown> = { ...inputs };
          if (args.name.endsWith("-release-lock")) state.adoptedDigest = KEPT;
          else if (args.type === "pulumi-nodejs:dynamic:Resource") {
            const ids = Object.keys(inputs.indexes as Record<string, unknown>);
            state.publishedDigests = Object.fromEntries(ids.map((id) => [id, PUBLISHED]));
            state.liveDigests = Object.fromEntries(ids.map((id) => [id, PUBLISHED]));
          }
          if (args.type === "docker-build:index:Index") state.ref = `${String(inputs.tag)}@x`;
          return { id: `${args.name}-id`, state };
        },
        call() {
          throw new Error("no invokes expected");
        },
      },
      "dayu-estate",
      "outputs",
      false,
    );
  });

  const registry = { address: "prod.dayu.test:5000", username: "u", password: "p" };

  it("ReleaseLock.adoptedDigest is the provider's output", async () => {
    const { ReleaseLock } = await import("../../components/releaseLock");
    const lock = new ReleaseLock("t", {
      tag: "prod.dayu.test:5000/dayuhub/app:v1.3",
      sources: [`prod.dayu.test:5000/dayuhub/app@${SOURCE}`],
      adoption: { registry, adopt: true, digest: SOURCE },
    });
    assert.ok(pulumi.Output.isInstance(lock.adoptedDigest), "an Output, not a class field");
    assert.equal(await promiseOf(lock.adoptedDigest), KEPT);
  });

  it("IndexGuard.publishedDigests and liveDigests are the provider's outputs, by index id", async () => {
    const { IndexGuard } = await import("../../components/indexGuard");
    const guard = new IndexGuard("g", {
      indexes: {
        "app:v1.3": {
          tag: "prod.dayu.test:5000/dayuhub/app:v1.3",
          sources: [],
          platforms: ["linux/amd64"],
        },
      },
      registry,
    });
    assert.deepEqual(await promiseOf(guard.publishedDigests), { "app:v1.3": PUBLISHED });
    assert.deepEqual(await promiseOf(guard.liveDigests), { "app:v1.3": PUBLISHED });
    assert.equal(await promiseOf(guard.digestOf("app:v1.3")), PUBLISHED);
  });

  it("promote mode with adopt: the Index republishes the kept digest and the read-back requires it", async () => {
    const { PromotedEstate } = await import("../../components/promotedEstate");
    const repository = "prod.dayu.test:5000/dayuhub/app";
    const index = {
      id: "app:v1.3",
      image: "app",
      tag: "v1.3",
      ref: `${repository}:v1.3`,
      release: true,
      builds: [{ platform: "linux/amd64" }],
    };
    const plan = {
      registry: "prod.dayu.test:5000",
      mirrors: [],
      images: [{ name: "app", repository, indexes: [index] }],
    } as unknown as Plan;
    const sources: Record<string, PromotedSource> = {
      "app:v1.3": {
        source: `staging.dayu.test:5000/dayuhub/app@${SOURCE}`,
        digest: SOURCE,
        children: { "linux/amd64": `sha256:${"d".repeat(64)}` },
      },
    };
    const estate = new PromotedEstate("adopting", {
      plan,
      indexSources: sources,
      mirrorSources: {},
      registry,
      sourceRegistry: { ...registry, address: "staging.dayu.test:5000" },
      protectReleases: true,
      adoption: { adopt: true, replaceExisting: [] },
    });
    await promiseOf(estate.guards["app"].urn);
    await new Promise((r) => setTimeout(r, 50));
    const idx = seen.find((s) => s.type === "docker-build:index:Index" && s.name === "app:v1.3");
    assert.deepEqual(plain(idx?.inputs.sources), [`${repository}@${KEPT}`], "the kept digest");
    const guard = seen.find((s) => s.type === "pulumi-nodejs:dynamic:Resource" && s.name === "app");
    const guarded = plain(guard?.inputs.indexes) as Record<string, { digest?: string }>;
    assert.equal(guarded["app:v1.3"]?.digest, KEPT, "the read-back requires the kept digest");
  });

  it("no component declares an output property as a class field (`x!: pulumi.Output`)", () => {
    const dir = path.resolve(__dirname, "../../components");
    const offenders: string[] = [];
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
      fs.readFileSync(path.join(dir, f), "utf8")
        .split("\n")
        .forEach((line, n) => {
          if (/^\s*(public\s+)?readonly\s+\w+!:\s*pulumi\.Output/.test(line))
            offenders.push(`components/${f}:${n + 1}: ${line.trim()} (write \`declare\`)`);
        });
    }
    assert.deepEqual(offenders, []);
  });
});
