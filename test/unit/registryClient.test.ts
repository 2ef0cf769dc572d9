/**
 * The registry client, the index read-back and the pre-flight checks against a fake registry on
 * loopback and a fake buildx.
 */
import { strict as assert } from "assert";
import { readBackIndex } from "../../lib/indexCheck";
import { checkBuilders, checkRegistry, parseBuildxInspect, Runner } from "../../lib/preflight";
import {
  backoffMs,
  MAX_BACKOFF_MS,
  RegistryClient,
  RegistryError,
  splitRef,
} from "../../lib/registry";
import { DOCKER_MANIFEST, FakeRegistry, OCI_INDEX } from "./helpers/fakeRegistry";

describe("registry client, read-back and pre-flight (fake registry on loopback)", () => {
  const reg = new FakeRegistry();
  let address = "";
  const client = () =>
    new RegistryClient({ address, username: "u", password: "p", insecure: true, retryBaseMs: 5 });
  let amd = "";
  let arm = "";

  before(async () => {
    address = await reg.start();
    amd = reg.addImage("ns/app", "linux", "amd64", "1-amd64");
    arm = reg.addImage("ns/app", "linux", "arm64", "1-arm64");
    reg.addIndex(
      "ns/app",
      [
        { digest: amd, platform: "linux/amd64" },
        { digest: arm, platform: "linux/arm64" },
      ],
      "1",
    );
  });
  after(() => reg.stop());
  afterEach(() => {
    reg.unhealthy = false;
    reg.faults = 0;
  });

  it("retries a registry that answers 503 for a while, with backoff, and then succeeds", async () => {
    reg.faults = 2;
    reg.faultMode = "503";
    const before = reg.requests;
    assert.equal(await client().resolve("ns/app", "1"), reg.tags.get("ns/app:1"));
    assert.equal(reg.requests - before, 3);
  });

  it("retries connections reset by the registry, then fails naming it and the attempts", async () => {
    reg.faultMode = "reset";
    reg.faults = 3;
    assert.equal(await client().resolve("ns/app", "1"), reg.tags.get("ns/app:1"));
    reg.faults = 100;
    const before = reg.requests;
    await assert.rejects(
      client().resolve("ns/app", "1"),
      (e: unknown) =>
        e instanceof RegistryError &&
        e.message.includes(`registry ${address}`) &&
        e.message.includes("gave up after 4 attempts"),
    );
    assert.equal(reg.requests - before, 4);
  });

  it("backoff doubles from the base, is capped, and jitters by at most 20%", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 10].map((a) => backoffMs(a, 250, () => 1)),
      [250, 500, 1000, 2000, MAX_BACKOFF_MS],
    );
    assert.equal(
      backoffMs(1, 250, () => 0),
      400,
    );
  });

  it("reads an index with all media types and recomputes its digest", async () => {
    const m = await client().getManifest("ns/app", "1");
    assert.equal(m.mediaType, OCI_INDEX);
    assert.equal(m.digest, reg.tags.get("ns/app:1"));
    const platforms = await client().platforms("ns/app", "1");
    assert.deepEqual(
      [...platforms],
      [
        ["linux/amd64", amd],
        ["linux/arm64", arm],
      ],
    );
  });

  it("shows why: asked with only the plain manifest type, a list answers with its amd64 child", async () => {
    const res = await client().call("GET", "/v2/ns/app/manifests/1", { accept: DOCKER_MANIFEST });
    assert.notEqual(String(res.headers["content-type"]), OCI_INDEX);
  });

  it("tells an absent tag (404) from an unhealthy registry (5xx)", async () => {
    assert.equal(await client().resolve("ns/app", "nope"), undefined);
    reg.unhealthy = true;
    await assert.rejects(
      client().resolve("ns/app", "1"),
      (e: unknown) => e instanceof RegistryError && e.status === 503,
    );
  });

  it("pre-flight: names the registry and user on wrong credentials, passes with the right ones", async () => {
    await checkRegistry({ address, username: "u", password: "p", insecure: true });
    await assert.rejects(
      checkRegistry({ address, username: "u", password: "wrong", insecure: true }),
      new RegExp(
        `pre-flight failed, nothing was built: registry ${address} refused the credentials of user "u"`,
      ),
    );
  });

  it("pre-flight: a registry that is down fails fast, naming it", async () => {
    await assert.rejects(
      checkRegistry({
        address: "127.0.0.1:1",
        username: "u",
        password: "p",
        insecure: true,
        timeoutMs: 2000,
      }),
      /pre-flight failed, nothing was built: registry 127\.0\.0\.1:1: GET/,
    );
  });

  it("read-back accepts an index with exactly its platforms from its sources", async () => {
    const back = await readBackIndex(client(), {
      tag: `${address}/ns/app:1`,
      sources: [`${address}/ns/app@${amd}`, `${address}/ns/app@${arm}`],
      platforms: ["linux/amd64", "linux/arm64"],
    });
    assert.deepEqual(back.platforms, { "linux/amd64": amd, "linux/arm64": arm });
    assert.equal(Buffer.from(back.manifest, "base64").length > 0, true);
  });

  it("read-back refuses a missing platform, an extra one, a wrong child and a wrong architecture", async () => {
    const base = {
      tag: `${address}/ns/app:1`,
      sources: [`${address}/ns/app@${amd}`, `${address}/ns/app@${arm}`],
    };
    await assert.rejects(
      readBackIndex(client(), {
        ...base,
        platforms: ["linux/amd64", "linux/arm64", "linux/arm/v7"],
      }),
      /holds linux\/amd64, linux\/arm64 but declares linux\/amd64, linux\/arm\/v7, linux\/arm64 \(missing linux\/arm\/v7\)/,
    );
    await assert.rejects(
      readBackIndex(client(), { ...base, platforms: ["linux/amd64"] }),
      /\(unexpected linux\/arm64\)/,
    );
    const other = reg.addImage("ns/app", "linux", "arm64", undefined, "another build");
    await assert.rejects(
      readBackIndex(client(), {
        ...base,
        sources: [base.sources[0], `${address}/ns/app@${other}`],
        platforms: ["linux/amd64", "linux/arm64"],
      }),
      /its linux\/arm64 child is sha256:\w+, but the linux\/arm64 build pushed sha256:/,
    );
    // An index that says arm64 but whose child is an amd64 image.
    reg.addIndex(
      "ns/app",
      [
        { digest: amd, platform: "linux/amd64" },
        {
          digest: reg.addImage("ns/app", "linux", "amd64", "wrong-arm64"),
          platform: "linux/arm64",
        },
      ],
      "wrong",
    );
    await assert.rejects(
      readBackIndex(client(), {
        tag: `${address}/ns/app:wrong`,
        sources: [],
        platforms: ["linux/amd64", "linux/arm64"],
        atLeast: true,
      }),
      /the linux\/arm64 child's image config says architecture amd64/,
    );
  });

  it("read-back with atLeast accepts extra upstream platforms (mirrors)", async () => {
    const back = await readBackIndex(client(), {
      tag: `${address}/ns/app:1`,
      sources: [],
      platforms: ["linux/arm64"],
      atLeast: true,
    });
    assert.deepEqual(Object.keys(back.platforms), ["linux/arm64"]);
  });

  it("puts a manifest back byte for byte (drift repair)", async () => {
    const published = await client().getManifest("ns/app", "1");
    await client().putManifest("ns/app", "moved", published.body, published.mediaType);
    assert.equal(await client().resolve("ns/app", "moved"), published.digest);
  });

  it("splits references", () => {
    assert.deepEqual(splitRef("reg.test:5000/a/b:t"), {
      address: "reg.test:5000",
      repository: "a/b",
      reference: "t",
    });
    assert.deepEqual(splitRef(`reg.test/a@sha256:${"1".repeat(64)}`), {
      address: "reg.test",
      repository: "a",
      reference: `sha256:${"1".repeat(64)}`,
    });
    assert.deepEqual(
      splitRef(`reg.test/a:t@sha256:${"1".repeat(64)}`).reference,
      `sha256:${"1".repeat(64)}`,
    );
  });
});

describe("builder pre-flight", () => {
  const inspect = (platforms: string, status = "running") =>
    `Name:          dayu-arm64\nDriver:        remote\n\nNodes:\nName:                  dayu-arm640\nEndpoint:              tcp://127.0.0.1:9102\nStatus:                ${status}\nPlatforms:             ${platforms}\n`;

  it("parses buildx inspect", () => {
    assert.deepEqual(parseBuildxInspect(inspect("linux/arm64*, linux/amd64")), {
      status: "running",
      platforms: ["linux/arm64", "linux/amd64"],
    });
  });

  it("passes when each builder serves its platform", async () => {
    const run: Runner = async (_c, args) =>
      inspect(args[2] === "a" ? "linux/amd64*" : "linux/arm64*");
    await checkBuilders(
      [
        { name: "a", platform: "linux/amd64" },
        { name: "b", platform: "linux/arm64" },
      ],
      run,
    );
  });

  it("fails naming the builder and the platform it lacks, or that it is down", async () => {
    const run: Runner = async (_c, args) => {
      if (args[2] === "down")
        throw new Error("buildx inspect --bootstrap down: connection refused");
      return inspect("linux/amd64*");
    };
    await assert.rejects(
      checkBuilders(
        [
          { name: "jetson", platform: "linux/arm64" },
          { name: "down", platform: "linux/amd64" },
        ],
        run,
      ),
      (e: Error) => {
        assert.match(
          e.message,
          /builder "jetson" is declared for linux\/arm64 but serves linux\/amd64/,
        );
        assert.match(
          e.message,
          /builder "down" \(for linux\/amd64\) is not reachable: .*connection refused/,
        );
        return true;
      },
    );
    await assert.rejects(
      checkBuilders([{ name: "x", platform: "linux/arm64" }], async () =>
        inspect("linux/arm64", "inactive"),
      ),
      /builder "x" \(for linux\/arm64\) is inactive/,
    );
  });
});
