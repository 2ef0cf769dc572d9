import { strict as assert } from "assert";
import { createLock } from "../../components/releaseLock";
import { readBackIndex } from "../../lib/indexCheck";
import { RegistryClient } from "../../lib/registry";
import { FakeRegistry } from "./helpers/fakeRegistry";

/**
 * The release lock's create() (the first up for a tag) against a fake registry that already holds
 * the tag: refuse other content, keep it with adopt, move it with replaceExisting; the read-back of a
 * promoted index by digest.
 */
describe("adoption at the release lock's create()", () => {
  const reg = new FakeRegistry();
  let address = "";
  let client: RegistryClient;
  let amd = "";
  let arm = "";
  let oldAmd = "";
  let existing = "";

  before(async () => {
    address = await reg.start();
    client = new RegistryClient({ address, username: "u", password: "p", insecure: true });
    amd = reg.addImage("ns/app", "linux", "amd64", "v1.3-amd64", "new");
    arm = reg.addImage("ns/app", "linux", "arm64", "v1.3-arm64", "new");
    oldAmd = reg.addImage("ns/app", "linux", "amd64", undefined, "old");
    existing = reg.addIndex("ns/app", [{ digest: oldAmd, platform: "linux/amd64" }], "v1.3");
  });
  after(() => reg.stop());

  const inputs = (over: object = {}) => ({
    tag: `${address}/ns/app:v1.3`,
    sources: [`${address}/ns/app:v1.3-amd64@${amd}`, `${address}/ns/app:v1.3-arm64@${arm}`],
    ...over,
  });

  it("refuses other content, naming the tag, its digest and the children it would publish", async () => {
    await assert.rejects(createLock(inputs(), client), (err: Error) => {
      assert.ok(err.message.startsWith(`release tag ${address}/ns/app:v1.3 already exists`));
      assert.ok(err.message.includes(existing), "names the current digest");
      assert.ok(err.message.includes(`linux/amd64 ${amd}`) && err.message.includes(arm));
      return true;
    });
  });

  it("records the existing digest with adopt, without touching the tag", async () => {
    const { outs } = await createLock(inputs({ adopt: true }), client);
    assert.equal(outs.adoptedDigest, existing);
    assert.equal(reg.tags.get("ns/app:v1.3"), existing);
  });

  it("moves only a tag replaceExisting lists, recording what it replaced", async () => {
    const { outs } = await createLock(inputs({ replace: true }), client);
    assert.equal(outs.replacedDigest, existing);
    assert.equal(outs.adoptedDigest, undefined);
  });

  it("publishes as usual when the tag is absent or holds the same content", async () => {
    const absent = await createLock(inputs({ tag: `${address}/ns/app:v1.4` }), client);
    assert.deepEqual(Object.keys(absent.outs).sort(), ["sources", "tag"]);
    const same = reg.addIndex(
      "ns/app",
      [
        { digest: amd, platform: "linux/amd64" },
        { digest: arm, platform: "linux/arm64" },
      ],
      "v1.5",
    );
    const r = await createLock(inputs({ tag: `${address}/ns/app:v1.5` }), client);
    assert.equal(r.outs.adoptedDigest, undefined);
    // A promotion compares the index digest itself.
    const byDigest = await createLock(
      inputs({ tag: `${address}/ns/app:v1.5`, wantDigest: same }),
      client,
    );
    assert.equal(byDigest.id, `${address}/ns/app:v1.5`);
    await assert.rejects(
      createLock(inputs({ wantDigest: same }), client),
      new RegExp(`would publish ${same}`),
    );
  });

  it("the read-back of a promoted index requires the source's digest", async () => {
    const tag = `${address}/ns/app:v1.5`;
    const want = { tag, sources: [], platforms: ["linux/amd64", "linux/arm64"] };
    const same = reg.tags.get("ns/app:v1.5") ?? "";
    assert.equal((await readBackIndex(client, { ...want, digest: same })).digest, same);
    await assert.rejects(
      readBackIndex(client, { ...want, digest: existing }),
      new RegExp(`serves ${same}, but its source index is ${existing}`),
    );
  });
});
