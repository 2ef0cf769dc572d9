/**
 * The registry client, the index read-back and the pre-flight checks against a fake registry on
 * loopback and a fake buildx.
 */
import { strict as assert } from "assert";
import { readBackIndex } from "../../lib/indexCheck";
import { stackKey } from "../../estate/problems";
import {
  PreflightError,
  checkBuilders,
  checkRegistry,
  parseBuildxInspect,
  probeRepository,
  Runner,
} from "../../lib/preflight";
import {
  backoffMs,
  MAX_BACKOFF_MS,
  PROBE_BYTES,
  RegistryClient,
  RegistryError,
  registryErrorText,
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
    reg.full = false;
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

  describe("pre-flight test upload (the registry can store a blob now)", () => {
    const auth = () => ({
      address,
      username: "u",
      password: "p",
      insecure: true,
      retryBaseMs: 1,
    });
    const where = stackKey("dayu-estate", "faults");

    it("passes on a registry with room: one upload started, written and cancelled", async () => {
      const started = reg.uploadsStarted;
      const from = reg.log.length;
      await checkRegistry(auth(), where, "ns/app");
      assert.equal(reg.uploadsStarted - started, 1);
      assert.deepEqual(
        reg.log.slice(from).map((l) => l.split(" ")[0]),
        ["GET", "POST", "PATCH", "DELETE"],
      );
      assert.equal(reg.uploads.size, 0, "nothing is left behind");
    });

    it("a full storage is refused before any build, under registry.address, quoting the registry", async () => {
      for (const full of ["start", "write"] as const) {
        reg.full = full;
        const started = reg.uploadsStarted;
        await assert.rejects(checkRegistry(auth(), where, "ns/app"), (err: Error) => {
          assert.ok(err instanceof PreflightError, String(err));
          assert.match(
            err.message,
            new RegExp(
              `^pre-flight failed, nothing was built: dayu-estate:registry\\.address in Pulumi\\.faults\\.yaml: registry ${address.replace(/\./g, "\\.")} could not store a test upload of 64 KiB in ns/app: (starting|writing) the upload answered 500: UNKNOWN: unknown error: filesystem: write .*: no space left on device$`,
            ),
          );
          return true;
        });
        // 500 is retryable: the whole test, a fresh upload each time (never a second chunk into a
        // failed one), one try and three retries; every started upload cancelled.
        assert.equal(reg.uploadsStarted - started, full === "start" ? 0 : 4, full);
        assert.equal(reg.uploads.size, 0, `${full}: nothing is left behind`);
      }
    });

    it("retries a whole test through passing 503s and resets, then passes", async () => {
      reg.faultMode = "503";
      reg.faults = 2;
      await checkRegistry(auth(), where, "ns/app");
      reg.faultMode = "reset";
      reg.faults = 2;
      await checkRegistry(auth(), where, "ns/app");
      assert.equal(reg.uploads.size, 0);
    });

    it("a registry that cannot take the test (unknown repository, 404) passes: the pushes say more", async () => {
      await checkRegistry(auth(), where, "new/repository");
      await new RegistryClient(auth()).probeUpload("new/repository", PROBE_BYTES);
    });

    it("the repository tested is the plan's first, without the registry address", () => {
      assert.equal(probeRepository("r:5000", ["r:5000/ns/base", "r:5000/ns/app"]), "ns/base");
      assert.equal(probeRepository("r:5000", ["other/ns/app"]), "other/ns/app");
      assert.equal(probeRepository("r:5000", []), undefined);
    });

    it("quotes the registry's own words from an error body", () => {
      const body = (o: unknown) => Buffer.from(JSON.stringify(o));
      assert.equal(
        registryErrorText(
          body({ errors: [{ code: "UNKNOWN", message: "unknown error", detail: "disk full" }] }),
        ),
        "UNKNOWN: unknown error: disk full",
      );
      assert.equal(
        registryErrorText(body({ errors: [{ code: "DENIED", message: "no", detail: { a: 1 } }] })),
        'DENIED: no: {"a":1}',
      );
      assert.equal(registryErrorText(Buffer.from("  plain text ")), "plain text");
    });
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

  it("read-back of a mirror: the copy is its pinned source, or an index holding that manifest", async () => {
    const want = { tag: `${address}/ns/app:1`, platforms: ["linux/arm64"], atLeast: true };
    const index = await client().resolve("ns/app", "1");
    await readBackIndex(client(), { ...want, sources: [`${address}/up/app@${index}`] });
    await readBackIndex(client(), { ...want, sources: [`${address}/up/app@${arm}`] });
    const elsewhere = reg.addImage("ns/app", "linux", "arm64", undefined, "another upstream");
    await assert.rejects(
      readBackIndex(client(), { ...want, sources: [`${address}/up/app@${elsewhere}`] }),
      new RegExp(`ns/app:1 serves ${index}, which is not its pinned source \\S+@${elsewhere}`),
    );
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
