/**
 * The local tooling's TypeScript parts: scripts/local-check.ts (what local-services.sh and standins.sh
 * call instead of re-implementing the registry client, pre-flight checks and catalog loader) and the
 * push-race stress test's option parsing (it must stay bounded and on loopback).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  mirrorLines,
  parseArgs,
  parseBuilders,
  registryCheck,
  retry,
} from "../../scripts/local-check";
import { RegistryAuth, RegistryClient, RegistryError } from "../../lib/registry";
import { errorCode, parseOptions } from "../stress/pushRace";

const ROOT = path.resolve(__dirname, "../..");

describe("local-check.ts", () => {
  it("parses verbs, arguments and --wait, and refuses the rest", () => {
    assert.deepEqual(parseArgs(["registry", "r.test:5443", "--wait", "30"]), {
      verb: "registry",
      args: ["r.test:5443"],
      waitSeconds: 30,
    });
    assert.throws(() => parseArgs(["restart"]), /usage: local-check\.ts/);
    assert.throws(() => parseArgs(["builders"]), /builders: missing arguments/);
    assert.throws(() => parseArgs(["registry", "r:1", "--wait", "soon"]), /--wait needs a number/);
  });

  it("reads builder=platform pairs and names a malformed one", () => {
    assert.deepEqual(parseBuilders(["dayu-amd64=linux/amd64", "pi=linux/arm/v7"]), [
      { name: "dayu-amd64", platform: "linux/amd64" },
      { name: "pi", platform: "linux/arm/v7" },
    ]);
    assert.throws(
      () => parseBuilders(["dayu-arm64"]),
      /builder "dayu-arm64": expected name=os\/arch/,
    );
  });

  it("lists the catalog's mirrors through the catalog loader", () => {
    const lines = mirrorLines(
      fs.readFileSync(path.join(ROOT, "estate.yaml"), "utf8"),
      "estate.yaml",
    );
    assert.ok(
      lines.includes("redis linux/amd64,linux/arm64 docker.io/library/redis:7.2"),
      lines.join("\n"),
    );
    assert.equal(lines.length, 6);
  });

  it("refuses a catalog that does not match its schema, naming the file", () => {
    assert.throws(
      () => mirrorLines("mirrors: 3\n", "bad.yaml"),
      /bad\.yaml: the catalog does not match/,
    );
  });

  describe("registry check", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-check-"));
    const ca = path.join(dir, "ca.crt");
    fs.writeFileSync(ca, "not used by the injected ping");
    const env = { DAYU_REGISTRY_CA: ca, REGISTRY_USERNAME: "dayu", REGISTRY_PASSWORD: "pw" };
    // A registry that refuses anonymous requests and accepts user dayu with password pw.
    const accepts = (auth: RegistryAuth) =>
      auth.username === "dayu" && auth.password === "pw"
        ? Promise.resolve()
        : Promise.reject(new RegistryError("refused", 401));
    const authEnforced = (c: RegistryClient) =>
      accepts((c as unknown as { auth: RegistryAuth }).auth);

    it("passes when anonymous requests get 401 and the credentials are accepted", async () => {
      await registryCheck("r.test:5443", env, authEnforced, accepts)();
    });

    it("fails when the registry answers anonymous requests", async () => {
      await assert.rejects(
        registryCheck("r.test:5443", env, () => Promise.resolve(), accepts)(),
        /r\.test:5443 answers anonymous requests: auth is not enforced/,
      );
    });

    it("fails naming the system store when only the local CA makes it trusted", async () => {
      const withCaOnly = (c: RegistryClient) => {
        const auth = (c as unknown as { auth: RegistryAuth }).auth;
        if (auth.username && !auth.ca) return Promise.reject(new Error("self-signed certificate"));
        return authEnforced(c);
      };
      await assert.rejects(
        registryCheck(
          "r.test:5443",
          { ...env, DAYU_CHECK_SYSTEM_TRUST: "1" },
          withCaOnly,
          accepts,
        )(),
        /not trusted through the system store.*self-signed/,
      );
    });

    it("needs the credentials in the environment", () => {
      assert.throws(
        () => registryCheck("r.test:5443", { DAYU_REGISTRY_CA: ca }),
        /REGISTRY_USERNAME/,
      );
    });
  });

  it("retries a failing check until it passes, and gives up with the last reason", async () => {
    let calls = 0;
    await retry(
      () => (++calls < 3 ? Promise.reject(new Error("not yet")) : Promise.resolve()),
      1,
      10,
    );
    assert.equal(calls, 3);
    await assert.rejects(
      retry(() => Promise.reject(new Error("down")), 0.05, 10),
      /down/,
    );
  });
});

describe("push-race stress test options", () => {
  it("has bounded defaults and takes flags", () => {
    const o = parseOptions(["--address", "127.0.0.1:5901", "--insecure", "--clients", "4"]);
    assert.equal(o.clients, 4);
    assert.equal(o.rounds, 12);
    assert.equal(o.insecure, true);
    assert.equal(o.repository, "stress/shared");
  });

  it("refuses counts beyond the bounds and addresses off loopback", () => {
    assert.throws(
      () => parseOptions(["--address", "127.0.0.1:1", "--clients", "64"]),
      /--clients must be an integer from 1 to 16/,
    );
    assert.throws(
      () => parseOptions(["--address", "127.0.0.1:1", "--seconds", "3600"]),
      /--seconds/,
    );
    assert.throws(() => parseOptions(["--address", "registry.example:5000"]), /loopback/);
    assert.equal(
      parseOptions(["--address", "registry.dayu.test:5443"], ["registry.dayu.test"]).address,
      "registry.dayu.test:5443",
    );
  });

  it("reads the registry's error code from a response body", () => {
    const body = Buffer.from(
      '{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match"}]}',
    );
    assert.equal(errorCode(400, body), "400 DIGEST_INVALID: provided digest did not match");
    assert.equal(errorCode(502, Buffer.from("bad gateway")), "502 bad gateway");
  });
});
