/**
 * IndexGuard's provider against the fake registry: a lean state (digests, no copy of the index), drift
 * put back from the registry by digest, the upgrade of version 2 states, and a `pulumi refresh` after
 * a password rotation reading with the stack's current password.
 */
import { strict as assert } from "assert";
import {
  GUARD_STATE_VERSION,
  GuardInputs,
  GuardState,
  currentCredentials,
  guardProvider,
} from "../../components/indexGuardProvider";
import { RegistryClient } from "../../lib/registry";
import { FakeRegistry } from "./helpers/fakeRegistry";

const stored = { address: "registry.dayu.test:5443", username: "dayu", password: "old" };
const config = (values: Record<string, string>) => ({ get: (k: string) => values[k] });

describe("IndexGuard credentials", () => {
  it("prefers the stack's current password for the same registry", () => {
    const c = config({
      registry: JSON.stringify({ mode: "external", address: stored.address, username: "dayu" }),
      registryPassword: "rotated",
    });
    assert.deepEqual(currentCredentials(stored, c), { ...stored, password: "rotated" });
  });

  it("takes a renamed user along with its password", () => {
    const c = config({
      registry: JSON.stringify({ address: stored.address, username: "dayu-2" }),
      registryPassword: "new",
    });
    assert.deepEqual(currentCredentials(stored, c), {
      address: stored.address,
      username: "dayu-2",
      password: "new",
    });
  });

  it("keeps the stored credentials without a config, for another registry, or without a password (ECR)", () => {
    assert.deepEqual(currentCredentials(stored, undefined), stored);
    const other = config({
      registry: JSON.stringify({ address: "elsewhere:5000", username: "dayu" }),
      registryPassword: "x",
    });
    assert.deepEqual(currentCredentials(stored, other), stored);
    const ecr = config({ registry: JSON.stringify({ mode: "ecr" }) });
    assert.deepEqual(currentCredentials(stored, ecr), stored);
    const broken = config({ registry: "{not json", registryPassword: "x" });
    assert.deepEqual(currentCredentials(stored, broken), stored);
    const throwing = {
      get: (): string | undefined => {
        throw new TypeError("no config was sent");
      },
    };
    assert.deepEqual(currentCredentials(stored, throwing), stored);
  });
});

describe("IndexGuard provider on a registry", () => {
  let reg: FakeRegistry;
  let address: string;
  let inputs: GuardInputs;
  let published: string;
  const provider = () =>
    guardProvider(
      (c) =>
        new RegistryClient({
          address: c.address,
          username: c.username || undefined,
          password: c.password,
          insecure: true,
          retries: 0,
        }),
    );

  beforeEach(async () => {
    reg = new FakeRegistry("dayu", "pw");
    address = await reg.start();
    const amd = reg.addImage("ns/app", "linux", "amd64", "v1-amd64");
    const arm = reg.addImage("ns/app", "linux", "arm64", "v1-arm64");
    published = reg.addIndex(
      "ns/app",
      [
        { digest: amd, platform: "linux/amd64" },
        { digest: arm, platform: "linux/arm64" },
      ],
      "v1",
    );
    inputs = {
      tag: `${address}/ns/app:v1`,
      sources: [`${address}/ns/app@${amd}`, `${address}/ns/app@${arm}`],
      platforms: ["linux/amd64", "linux/arm64"],
      atLeast: false,
      digest: "",
      registry: { address, username: "dayu", password: "pw" },
      caCert: "",
    };
  });
  afterEach(() => reg.stop());

  /** Moves the tag to another index, as a person with push rights might. */
  function moveTag(): string {
    const other = reg.addImage("ns/app", "linux", "amd64", undefined, "other");
    return reg.addIndex("ns/app", [{ digest: other, platform: "linux/amd64" }], "v1");
  }

  it("stores digests only: no copy of the index bytes", async () => {
    const { id, outs } = await provider().create(inputs);
    assert.equal(id, inputs.tag);
    assert.equal(outs.publishedDigest, published);
    assert.equal(outs.liveDigest, published);
    assert.equal(outs.stateVersion, GUARD_STATE_VERSION);
    assert.deepEqual(Object.keys(outs.servedPlatforms), ["linux/amd64", "linux/arm64"]);
    assert.equal("manifest" in outs, false);
    assert.equal("mediaType" in outs, false);
    assert.ok(JSON.stringify(outs).length < 1200, JSON.stringify(outs));
  });

  it("a moved tag: refresh records it, diff wants an update, update puts the published index back by digest", async () => {
    const p = provider();
    const { outs } = await p.create(inputs);
    const other = moveTag();
    const read = await p.read!(inputs.tag, outs);
    assert.equal(read.props.liveDigest, other);
    const diff = await p.diff!(inputs.tag, read.props, inputs);
    assert.deepEqual(diff, { changes: true, replaces: [], deleteBeforeReplace: false });
    const { outs: after } = await p.update!(inputs.tag, read.props, inputs);
    assert.equal(reg.tags.get("ns/app:v1"), published);
    assert.equal(after.publishedDigest, published);
    assert.equal(after.liveDigest, published);
    const again = await p.diff!(inputs.tag, after, inputs);
    assert.equal(again.changes, false);
  });

  it("a deleted tag reads as absent and is put back", async () => {
    const p = provider();
    const { outs } = await p.create(inputs);
    reg.tags.delete("ns/app:v1");
    const read = await p.read!(inputs.tag, outs);
    assert.equal(read.props.liveDigest, "absent");
    await p.update!(inputs.tag, read.props, inputs);
    assert.equal(reg.tags.get("ns/app:v1"), published);
  });

  it("the published digest gone from the registry: the update says so and how to republish", async () => {
    const p = provider();
    const { outs } = await p.create(inputs);
    moveTag();
    reg.manifests.delete(`ns/app@${published}`);
    const read = await p.read!(inputs.tag, outs);
    await assert.rejects(
      p.update!(inputs.tag, read.props, inputs),
      new RegExp(
        `ns/app:v1 was published as ${published}, which the registry no longer holds.*--replace`,
      ),
    );
  });

  describe("a version 2 state (a copy of the index, the old provider)", () => {
    async function v2State(): Promise<GuardState> {
      const { outs } = await provider().create(inputs);
      const m = reg.manifests.get(`ns/app@${published}`);
      assert.ok(m);
      return {
        ...outs,
        stateVersion: 2,
        manifest: m.body.toString("base64"),
        mediaType: m.type,
      };
    }

    it("the next up updates it once, without a push and without a replacement, to a lean state", async () => {
      const p = provider();
      const olds = await v2State();
      const diff = await p.diff!(inputs.tag, olds, inputs);
      assert.deepEqual(diff, { changes: true, replaces: [], deleteBeforeReplace: false });
      let pushes = 0;
      const put = reg.putManifest.bind(reg);
      reg.putManifest = (...a) => (pushes++, put(...a));
      const { outs } = await p.update!(inputs.tag, olds, inputs);
      assert.equal(pushes, 0, "an upgrade pushes nothing");
      assert.equal(reg.tags.get("ns/app:v1"), published);
      assert.equal(outs.stateVersion, GUARD_STATE_VERSION);
      assert.equal(outs.publishedDigest, published);
      assert.equal("manifest" in outs, false);
      assert.equal((await p.diff!(inputs.tag, outs, inputs)).changes, false);
    });

    it("drifted with its published digest gone: its own copy serves once", async () => {
      const p = provider();
      const olds = await v2State();
      moveTag();
      reg.manifests.delete(`ns/app@${published}`);
      const read = await p.read!(inputs.tag, olds);
      const { outs } = await p.update!(inputs.tag, read.props, inputs);
      assert.equal(reg.tags.get("ns/app:v1"), published);
      assert.equal("manifest" in outs, false);
    });
  });

  describe("pulumi refresh after the registry password was rotated", () => {
    it("reads with the stack's current password (the config of the last up), not the one in the guard's state", async () => {
      const p = provider();
      const { outs } = await p.create(inputs);
      // The registry now wants a new password; the state still holds "pw".
      const rotated = new FakeRegistry("dayu", "rotated-pw");
      const rotatedAddress = await rotated.start();
      try {
        const digest = rotated.addImage("ns/app", "linux", "amd64", "v1");
        const state = {
          ...outs,
          tag: `${rotatedAddress}/ns/app:v1`,
          registry: { ...outs.registry, address: rotatedAddress },
        };
        await p.configure!({
          config: config({
            registry: JSON.stringify({ address: rotatedAddress, username: "dayu" }),
            registryPassword: "rotated-pw",
          }),
        } as never);
        const read = await p.read!(state.tag, state);
        assert.equal(read.props.liveDigest, digest);
        // The stored credentials are not rewritten by a refresh: the next up's inputs do that.
        assert.equal(read.props.registry.password, "pw");
      } finally {
        await rotated.stop();
      }
    });

    it("with only the stale password, the refresh says what to run instead of an unknown error", async () => {
      const p = provider();
      const { outs } = await p.create(inputs);
      const stale = { ...outs, registry: { ...outs.registry, password: "stale" } };
      await assert.rejects(
        p.read!(stale.tag, stale),
        /registry 127\.0\.0\.1:\d+ refused the password of user "dayu".*registryPassword was rotated since the last up, refresh with npm run refresh -- --stack <stack>/,
      );
    });
  });
});
