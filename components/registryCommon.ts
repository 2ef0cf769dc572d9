/**
 * What every registry mode shares: the {@link EstateRegistry} interface the estate consumes and the
 * arguments of the modes that run a registry themselves (credentials: ./credentials.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { htpasswdProblem } from "../estate/backends";
import type { RegistryCredentials } from "./credentials";

/** What the estate needs from a registry, whatever backend serves it. */
export interface EstateRegistry {
  /** host[:port]. */
  readonly address: pulumi.Output<string>;
  /** Address, username and password (secret). */
  readonly credentials: pulumi.Output<RegistryCredentials>;
  /** PEM CA of the registry's certificate, when not in the system store. */
  readonly caCert: pulumi.Output<string | undefined>;
}

/** Arguments shared by the modes that run a distribution registry (docker-host, kubernetes). */
export interface RegistryServerArgs {
  /** host[:port] clients use; the TLS certificate must be valid for its host. */
  address: string;
  /** The user the estate pushes as; must have an entry in `htpasswd`. */
  username: pulumi.Input<string>;
  /** That user's password (handled as a secret). */
  password: pulumi.Input<string>;
  /** htpasswd file content, bcrypt entries (`htpasswd -Bbn`); handled as a secret. */
  htpasswd: pulumi.Input<string>;
  /** The registry's TLS certificate (PEM, chain allowed). */
  tlsCert: pulumi.Input<string>;
  /** The certificate's private key (PEM); handled as a secret. */
  tlsKey: pulumi.Input<string>;
  /** PEM CA clients trust the registry with, when not in the system store. Default none. */
  caCert?: pulumi.Input<string>;
}

/**
 * The htpasswd content as a secret, refused (failing the deployment, naming the problem but never the
 * content) when it is not a bcrypt file with an entry for `username`. Secrets are Outputs, so this
 * check cannot run before resources are declared; it runs before the registry resource is sent.
 */
export function checkedHtpasswd(
  htpasswd: pulumi.Input<string>,
  username: pulumi.Input<string>,
  resource: pulumi.Resource,
  key = "registryHtpasswd",
): pulumi.Output<string> {
  return pulumi.secret(
    pulumi.all([htpasswd, username]).apply(([content, user]) => {
      const problem = htpasswdProblem(content, user);
      if (problem) {
        throw new pulumi.ResourceError(
          `${pulumi.getProject()}:${key} (secret) in Pulumi.${pulumi.getStack()}.yaml ${problem}; set it with: htpasswd -Bbn ${user} "$PASSWORD" | pulumi config set --secret ${key}`,
          resource,
        );
      }
      return content;
    }),
  );
}
