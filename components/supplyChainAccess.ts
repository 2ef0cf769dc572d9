import * as pulumi from "@pulumi/pulumi";
import { SigningKey, SupplyChainTools, ToolCredentials } from "../lib/supplyChain";

/** What every supply-chain resource (attestation, signature) needs to run cosign and syft. */
export interface SupplyChainAccess {
  /** Tool paths and registry access (no credentials). */
  tools: pulumi.Input<SupplyChainTools>;
  /** Registry credentials (secret). */
  registry: pulumi.Input<ToolCredentials>;
  /** The cosign key pair (secret). */
  key: pulumi.Input<SigningKey>;
}

/** The inputs whose outputs stay secret in state. */
export const ACCESS_SECRET_OUTPUTS = ["registry", "key"];

/** The access inputs of a dynamic resource, credentials and key marked secret. */
export function accessInputs(args: SupplyChainAccess): Record<string, pulumi.Input<unknown>> {
  return {
    tools: args.tools,
    registry: pulumi.secret(args.registry),
    key: pulumi.secret(args.key),
  };
}
