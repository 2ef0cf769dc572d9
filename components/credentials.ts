/**
 * Registry credentials, the one type every component that pushes or reads images takes. A module of
 * its own so leaf components (images, mirrors, guards) do not import a registry component.
 */
import * as pulumi from "@pulumi/pulumi";
import { RegistryClient } from "../lib/registry";

/** Credentials in the shape docker-build's `registries`/`registry` inputs take. */
export interface RegistryCredentials {
  address: string;
  username: string;
  password: string;
}

/**
 * Address, username and password as one secret Output. It resolves only after `readiness` does, so
 * whatever reads the credentials (pre-flight checks, pushes) waits until the registry can serve.
 */
export function secretCredentials(
  address: pulumi.Input<string>,
  username: pulumi.Input<string>,
  password: pulumi.Input<string>,
  readiness: pulumi.Input<unknown>[] = [],
): pulumi.Output<RegistryCredentials> {
  const ready = pulumi.all(readiness);
  return pulumi.secret(
    pulumi
      .all([address, username, password, ready])
      .apply(([a, u, p]): RegistryCredentials => ({ address: a, username: u, password: p })),
  );
}

/**
 * A registry client for the dynamic providers (IndexGuard, ReleaseLock): no username means no auth
 * (dev), an empty CA means the system store.
 */
export function clientFor(registry: RegistryCredentials, caCert?: string): RegistryClient {
  return new RegistryClient({
    address: registry.address,
    username: registry.username || undefined,
    password: registry.password,
    ca: caCert || undefined,
  });
}
