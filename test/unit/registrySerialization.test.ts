/**
 * The registry client as a dynamic provider runs it: serialized by Pulumi's closure serializer, then
 * loaded and called. A retried call must work there too (a module-level Set did not survive the
 * serialization and made every retry check throw inside IndexGuard and IndexSignature).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { RegistryClient } from "../../lib/registry";
import { FakeRegistry } from "./helpers/fakeRegistry";

describe("registry client inside a serialized closure", () => {
  it("resolves a tag after a retried 503, as a dynamic provider would", async () => {
    const reg = new FakeRegistry();
    const address = await reg.start();
    try {
      const digest = reg.addImage("ns/app", "linux", "amd64", "v1");
      const resolve = async () =>
        new RegistryClient({
          address,
          insecure: true,
          username: "u",
          password: "p",
          retryBaseMs: 1,
        }).resolve("ns/app", "v1");
      const serialized = await pulumi.runtime.serializeFunction(resolve);
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dayu-ser-")), "f.js");
      fs.writeFileSync(file, serialized.text);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const loaded = require(file)[serialized.exportName] as typeof resolve;
      reg.faults = 1;
      assert.equal(await loaded(), digest);
      assert.equal(reg.faults, 0, "the first answer was a 503 and was retried");
    } finally {
      await reg.stop();
    }
  });
});
