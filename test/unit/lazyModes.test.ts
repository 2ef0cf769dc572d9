/**
 * The provider SDKs of the registry and builder modes load only when a stack chooses their mode:
 * loading the program's components must not load @pulumi/aws, @pulumi/kubernetes or @pulumi/docker
 * (checked in a fresh Node process, since this test process loads them for other tests).
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");

function loadedSdks(modules: string[]): string[] {
  const script = `
    for (const m of ${JSON.stringify(modules)}) require(m);
    const sdks = ["@pulumi/aws", "@pulumi/kubernetes", "@pulumi/docker"].filter((s) =>
      Object.keys(require.cache).some((k) => k.includes("/node_modules/" + s + "/")));
    process.stdout.write(JSON.stringify(sdks));`;
  const out = execFileSync(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", "-e", script],
    { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
  );
  return JSON.parse(out) as string[];
}

describe("mode SDKs load lazily", () => {
  it("the registry and builder components load no mode SDK until a mode needs it", function () {
    this.timeout(90_000);
    assert.deepEqual(
      loadedSdks([
        "./components/privateRegistry",
        "./components/buildxBuilder",
        "./components/imageEstate",
      ]),
      [],
    );
  });

  it("the check itself sees an SDK that is loaded (it can fail)", function () {
    this.timeout(90_000);
    assert.deepEqual(loadedSdks(["./components/ecrRegistry"]), ["@pulumi/aws"]);
  });
});
