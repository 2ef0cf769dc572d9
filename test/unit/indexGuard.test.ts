/**
 * IndexGuard's provider against the fake registry: one guard per image, a lean state (digests by index
 * id, no copy of an index), drift put back tag by tag from the registry by digest, the upgrade of an
 * older state, and a `pulumi refresh` after a password rotation reading with the stack's current
 * password.
 */
import { strict as assert } from "assert";
import {
  GUARD_STATE_VERSION,
  GuardInputs,
  currentCredentials,
  driftedIndexes,
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
  /** The published digests of the image's two tags, v1 and v1-jp5. */
  let published: string;
  let publishedJp5: string;
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
    const armJp5 = reg.addImage("ns/app", "linux", "arm64", "v1-jp5-arm64", "jp5");
    published = reg.addIndex(
      "ns/app",
      [
        { digest: amd, platform: "linux/amd64" },
        { digest: arm, platform: "linux/arm64" },
      ],
      "v1",
    );
    publishedJp5 = reg.addIndex(
      "ns/app",
      [
        { digest: amd, platform: "linux/amd64" },
        { digest: armJp5, platform: "linux/arm64" },
      ],
      "v1-jp5",
    );
    inputs = {
      indexes: {
        "app:v1": {
          tag: `${address}/ns/app:v1`,
          sources: [`${address}/ns/app@${amd}`, `${address}/ns/app@${arm}`],
          platforms: ["linux/amd64", "linux/arm64"],
          atLeast: false,
          digest: "",
        },
        "app:v1-jp5": {
          tag: `${address}/ns/app:v1-jp5`,
          sources: [`${address}/ns/app@${amd}`, `${address}/ns/app@${armJp5}`],
          platforms: ["linux/amd64", "linux/arm64"],
          atLeast: false,
          digest: "",
        },
      },
      registry: { address, username: "dayu", password: "pw" },
      caCert: "",
    };
  });
  afterEach(() => reg.stop());

  /** Moves v1 to another index, as a person with push rights might. */
  function moveTag(): string {
    const other = reg.addImage("ns/app", "linux", "amd64", undefined, "other");
    return reg.addIndex("ns/app", [{ digest: other, platform: "linux/amd64" }], "v1");
  }

  /** Counts the manifests pushed from now on. */
  function countPushes(): { n: number } {
    const count = { n: 0 };
    const put = reg.putManifest.bind(reg);
    reg.putManifest = (...a) => (count.n++, put(...a));
    return count;
  }

  it("one guard reads every tag of the image back and stores digests only, by index id", async () => {
    const { id, outs } = await provider().create(inputs);
    assert.equal(id, `${address}/ns/app`);
    assert.deepEqual(outs.publishedDigests, { "app:v1": published, "app:v1-jp5": publishedJp5 });
    assert.deepEqual(outs.liveDigests, outs.publishedDigests);
    assert.equal(outs.stateVersion, GUARD_STATE_VERSION);
    assert.deepEqual(Object.keys(outs.servedPlatforms["app:v1"]), ["linux/amd64", "linux/arm64"]);
    assert.equal("manifest" in outs, false);
    assert.ok(JSON.stringify(outs).length < 2000, JSON.stringify(outs));
  });

  it("a tag that does not hold what was declared fails the read-back, naming the tag", async () => {
    const wrong = structuredClone(inputs);
    wrong.indexes["app:v1-jp5"].sources = inputs.indexes["app:v1"].sources;
    await assert.rejects(provider().create(wrong), /ns\/app:v1-jp5: its linux\/arm64 child is/);
  });

  it("a moved tag: refresh records it, diff wants an update, update puts only that tag back by digest", async () => {
    const p = provider();
    const { id, outs } = await p.create(inputs);
    const other = moveTag();
    const read = await p.read!(id, outs);
    assert.deepEqual(read.props.liveDigests, { "app:v1": other, "app:v1-jp5": publishedJp5 });
    assert.deepEqual(driftedIndexes(read.props), ["app:v1"]);
    const diff = await p.diff!(id, read.props, inputs);
    assert.deepEqual(diff, { changes: true, replaces: [], deleteBeforeReplace: false });
    const pushes = countPushes();
    const { outs: after } = await p.update!(id, read.props, inputs);
    assert.equal(pushes.n, 1, "only the moved tag is put back");
    assert.equal(reg.tags.get("ns/app:v1"), published);
    assert.equal(reg.tags.get("ns/app:v1-jp5"), publishedJp5);
    assert.deepEqual(after.liveDigests, after.publishedDigests);
    assert.equal((await p.diff!(id, after, inputs)).changes, false);
  });

  it("a deleted tag reads as absent and is put back", async () => {
    const p = provider();
    const { id, outs } = await p.create(inputs);
    reg.tags.delete("ns/app:v1");
    const read = await p.read!(id, outs);
    assert.equal(read.props.liveDigests["app:v1"], "absent");
    await p.update!(id, read.props, inputs);
    assert.equal(reg.tags.get("ns/app:v1"), published);
  });

  it("a drifted tag the program now declares otherwise is not put back: its Index pushed the new one", async () => {
    const p = provider();
    const { id, outs } = await p.create(inputs);
    moveTag();
    const read = await p.read!(id, outs);
    const next = structuredClone(inputs);
    delete next.indexes["app:v1"];
    const pushes = countPushes();
    const { outs: after } = await p.update!(id, read.props, next);
    assert.equal(pushes.n, 0);
    assert.deepEqual(Object.keys(after.publishedDigests), ["app:v1-jp5"]);
  });

  it("a tag added to or removed from the image is a change", async () => {
    const p = provider();
    const { id, outs } = await p.create(inputs);
    const fewer = structuredClone(inputs);
    delete fewer.indexes["app:v1-jp5"];
    assert.equal((await p.diff!(id, outs, fewer)).changes, true);
    const other = structuredClone(inputs);
    other.indexes["app:v1"].platforms = ["linux/amd64"];
    assert.equal((await p.diff!(id, outs, other)).changes, true);
    assert.equal((await p.diff!(id, outs, structuredClone(inputs))).changes, false);
  });

  it("the published digest gone from the registry: the update says so and how to republish", async () => {
    const p = provider();
    const { id, outs } = await p.create(inputs);
    moveTag();
    reg.manifests.delete(`ns/app@${published}`);
    const read = await p.read!(id, outs);
    await assert.rejects(
      p.update!(id, read.props, inputs),
      new RegExp(
        `ns/app:v1 was published as ${published}, which the registry no longer holds.*--replace`,
      ),
    );
  });

  it("a state of an older version is updated once by a read-back, without a push", async () => {
    const p = provider();
    const { id, outs } = await p.create(inputs);
    const older = { ...outs, stateVersion: GUARD_STATE_VERSION - 1 };
    assert.equal((await p.diff!(id, older, inputs)).changes, true);
    const pushes = countPushes();
    const { outs: after } = await p.update!(id, older, inputs);
    assert.equal(pushes.n, 0);
    assert.equal(after.stateVersion, GUARD_STATE_VERSION);
    assert.equal((await p.diff!(id, after, inputs)).changes, false);
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
          indexes: { "app:v1": { ...outs.indexes["app:v1"], tag: `${rotatedAddress}/ns/app:v1` } },
          registry: { ...outs.registry, address: rotatedAddress },
        };
        await p.configure!({
          config: config({
            registry: JSON.stringify({ address: rotatedAddress, username: "dayu" }),
            registryPassword: "rotated-pw",
          }),
        } as never);
        const read = await p.read!("app", state);
        assert.equal(read.props.liveDigests["app:v1"], digest);
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
        p.read!("app", stale),
        /registry 127\.0\.0\.1:\d+ refused the password of user "dayu".*registryPassword was rotated since the last up, refresh with npm run refresh -- --stack <stack>/,
      );
    });
  });
});
