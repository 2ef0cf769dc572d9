import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { EcrTagRules, EstateRepository, ecrLifecyclePolicy, ecrTagRules } from "../estate/backends";
import { EcrRegistrySettings, REGISTRY_DEFAULTS } from "../estate/settings";
import { RegistryCredentials, secretCredentials } from "./credentials";
import { EstateRegistry } from "./registryCommon";

/**
 * `registry.ecr` of the stack settings (region, account id; the provider refuses any other
 * account), plus the repositories the plan pushes to. `expireTemporaryAfterDays` defaults to the
 * schema's default (14).
 */
export interface EcrRegistryOptions
  extends
    Omit<EcrRegistrySettings, "expireTemporaryAfterDays">,
    Partial<Pick<EcrRegistrySettings, "expireTemporaryAfterDays">> {
  /** One ECR repository each. Plain: decides which repositories exist. */
  repositories: EstateRepository[];
  /** Tag patterns of temporary tags, e.g. `*-amd64`, `buildcache-*`. Plain. Default none. */
  temporaryTagPatterns?: string[];
}

/** Arguments of {@link EcrRegistry}. */
export type EcrRegistryArgs = EcrRegistryOptions;

/**
 * The estate on Amazon ECR: one repository per estate repository (release repositories immutable
 * except for the re-pushed temporary tags, see {@link ecrTagRules}), a lifecycle policy expiring
 * temporary tags, and push credentials from `aws.ecr.getAuthorizationToken` (secret; the token is
 * fetched on every run and lasts 12 hours).
 */
export class EcrRegistry extends pulumi.ComponentResource implements EstateRegistry {
  public static readonly type = "dayu:estate:EcrRegistry";

  public readonly address: pulumi.Output<string>;
  public readonly credentials: pulumi.Output<RegistryCredentials>;
  public readonly caCert: pulumi.Output<string | undefined>;
  public readonly provider: aws.Provider;
  /** By repository name. */
  public readonly repositories: Record<string, aws.ecr.Repository> = {};
  /** By repository name: the tag mutability chosen and why. */
  public readonly tagRules: Record<string, EcrTagRules> = {};
  /** By repository name. */
  public readonly lifecyclePolicies: Record<string, aws.ecr.LifecyclePolicy> = {};

  constructor(name: string, args: EcrRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super(EcrRegistry.type, name, {}, opts);
    if (!/^\d{12}$/.test(args.accountId)) {
      throw new pulumi.ResourceError(`"${args.accountId}" is not a 12-digit account id`, this);
    }
    if (args.repositories.length === 0) {
      throw new pulumi.ResourceError("the estate has no repository to create", this);
    }
    const days = args.expireTemporaryAfterDays ?? REGISTRY_DEFAULTS.ecr.expireTemporaryAfterDays;
    const patterns = args.temporaryTagPatterns ?? [];

    // Region and account are pinned so the repositories land where the address says they are.
    this.provider = new aws.Provider(
      `${name}-aws`,
      { region: args.region, allowedAccountIds: [args.accountId] },
      { parent: this },
    );
    const children = { parent: this, provider: this.provider };
    const policy = JSON.stringify(ecrLifecyclePolicy(patterns, days));

    for (const repo of args.repositories) {
      const rules = ecrTagRules(repo, patterns);
      this.tagRules[repo.name] = rules;
      const r = new aws.ecr.Repository(
        `${name}-${repo.name}`,
        {
          name: repo.name,
          imageTagMutability: rules.mutability,
          imageTagMutabilityExclusionFilters:
            rules.exclusions.length > 0
              ? rules.exclusions.map((filter) => ({ filter, filterType: "WILDCARD" }))
              : undefined,
          imageScanningConfiguration: { scanOnPush: true },
          // ECR refuses to delete a repository that still holds images.
          forceDelete: false,
          tags: { "dayu:estate": "true" },
        },
        children,
      );
      this.repositories[repo.name] = r;
      if (patterns.length > 0) {
        this.lifecyclePolicies[repo.name] = new aws.ecr.LifecyclePolicy(
          `${name}-${repo.name}`,
          { repository: r.name, policy },
          children,
        );
      }
    }

    this.address = pulumi.output(`${args.accountId}.dkr.ecr.${args.region}.amazonaws.com`);
    this.caCert = pulumi.output<string | undefined>(undefined);
    const token = aws.ecr.getAuthorizationTokenOutput({ registryId: args.accountId }, children);
    // Pushes need the repositories: the credentials resolve only once they all exist.
    this.credentials = secretCredentials(
      this.address,
      pulumi.secret(token.userName),
      pulumi.secret(token.password),
      Object.values(this.repositories).map((r) => r.repositoryUrl),
    );
    this.registerOutputs({ address: this.address, credentials: this.credentials });
  }
}
