/**
 * The `dayu-estate-policies` CrossGuard pack. Constructing a PolicyPack starts the analyzer server
 * the Pulumi engine talks to, so this file does nothing else; the policies live in policies.ts,
 * where tests import them. Run it with `pulumi preview --policy-pack policy` (docs/policy.md).
 */
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";
import { stackPolicies } from "./supplyChain";

new PolicyPack("dayu-estate-policies", { policies: [...policies, ...stackPolicies] });
