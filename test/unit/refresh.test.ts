/**
 * scripts/refresh.ts's decisions, pure: which resources hold registry credentials other than the
 * stack config's, read from `pulumi stack export --show-secrets` and `pulumi config --json
 * --show-secrets` shapes (secrets wrapped as the CLI prints them).
 */
import { strict as assert } from "assert";
import { configuredCredentials, staleResources, storedCredentials } from "../../scripts/refresh";

const SIG = "4dabf18193072939515e22adb298388d";
const secret = (v: unknown) => ({
  [SIG]: "1b47061264138c4ac30d75fd1eb44270",
  plaintext: JSON.stringify(v),
});
const ADDRESS = "registry.dayu.test:5443";
const urn = (type: string, name: string) => `urn:pulumi:dev::dayu-estate::${type}::${name}`;

/** A deployment as the CLI exports it: an Index, an Image and a guard, each with its own shape. */
function exported(password: string, username = "dayu") {
  return {
    version: 3,
    deployment: {
      resources: [
        { urn: urn("pulumi:pulumi:Stack", "dayu-estate-dev"), type: "pulumi:pulumi:Stack" },
        {
          urn: urn("docker-build:index:Index", "app-latest"),
          inputs: {
            tag: `${ADDRESS}/app:latest`,
            registry: { address: ADDRESS, username, password: secret(password) },
          },
        },
        {
          urn: urn("docker-build:index:Image", "app-amd64"),
          inputs: { registries: [{ address: ADDRESS, username, password: secret(password) }] },
        },
        {
          urn: urn("pulumi-nodejs:dynamic:Resource", "app-latest-guard"),
          inputs: {
            __provider: "stub",
            registry: secret({ address: ADDRESS, username, password }),
          },
        },
        {
          urn: urn("docker-build:index:Index", "elsewhere"),
          inputs: {
            registry: { address: "other.test:5000", username: "x", password: secret("old") },
          },
        },
      ],
    },
  };
}

const config = (password: string | undefined, username = "dayu") => ({
  "dayu-estate:environment": { value: "dev", secret: false },
  "dayu-estate:registry": {
    value: JSON.stringify({ mode: "external", address: ADDRESS, username }),
    objectValue: { mode: "external", address: ADDRESS, username },
    secret: false,
  },
  ...(password === undefined
    ? {}
    : { "dayu-estate:registryPassword": { value: password, secret: true } }),
});

describe("scripts/refresh: credentials stored in state against the stack config", () => {
  it("finds the credentials of every shape: Index registry, Image registries, a guard's secret object", () => {
    const found = storedCredentials(exported("old"));
    assert.deepEqual(
      found.map((c) => [c.urn.split("::").pop(), c.address, c.username, c.password]),
      [
        ["app-latest", ADDRESS, "dayu", "old"],
        ["app-amd64", ADDRESS, "dayu", "old"],
        ["app-latest-guard", ADDRESS, "dayu", "old"],
        ["elsewhere", "other.test:5000", "x", "old"],
      ],
    );
  });

  it("reads the configured address, username and password", () => {
    assert.deepEqual(configuredCredentials(config("new")), {
      address: ADDRESS,
      username: "dayu",
      password: "new",
    });
  });

  it("a rotated password makes every resource of that registry stale, and no other", () => {
    const stale = staleResources(
      storedCredentials(exported("old")),
      configuredCredentials(config("new")),
    );
    assert.deepEqual(
      stale.map((u) => u.split("::").pop()),
      ["app-latest", "app-amd64", "app-latest-guard"],
    );
  });

  it("a changed username is stale too", () => {
    const stale = staleResources(
      storedCredentials(exported("same", "dayu")),
      configuredCredentials(config("same", "dayu2")),
    );
    assert.equal(stale.length, 3);
  });

  it("the same credentials: nothing stale, a plain refresh", () => {
    assert.deepEqual(
      staleResources(storedCredentials(exported("same")), configuredCredentials(config("same"))),
      [],
    );
  });

  it("no registryPassword (ECR, or a registry without auth): nothing to rotate", () => {
    assert.equal(configuredCredentials(config(undefined)), undefined);
    assert.deepEqual(staleResources(storedCredentials(exported("old")), undefined), []);
  });

  it("an export without resources, or of another shape, holds no credentials", () => {
    assert.deepEqual(storedCredentials({}), []);
    assert.deepEqual(storedCredentials({ deployment: { resources: [{ urn: 1 }, null] } }), []);
  });
});
