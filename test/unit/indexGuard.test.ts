/**
 * IndexGuard's choice of credentials: a `pulumi refresh` after a password rotation reads the registry
 * with the stack's current password (given to the dynamic provider's `configure`), not the one stored
 * in state.
 */
import { strict as assert } from "assert";
import { currentCredentials } from "../../components/indexGuard";

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
