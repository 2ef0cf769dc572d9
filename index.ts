/**
 * Dayu's image estate: stack config → plan (pure) → registry, builders and every image.
 * The decisions live in estate/ (tested without Pulumi) and the reading in config.ts; this file only
 * wires components. A user's mistake stops the program as one block, never a stack trace.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { asRunError, loadStackConfig } from "./config";
import { BuildxBuilder } from "./components/buildxBuilder";
import { secretCredentials } from "./components/credentials";
import { ImageEstate } from "./components/imageEstate";
import { PromotedEstate } from "./components/promotedEstate";
import { PrivateRegistry } from "./components/privateRegistry";
import { repositoryPlan } from "./estate/backends";
import { diskFiles } from "./estate/files";
import { flatPlan, planForSettings } from "./estate/planner";
import { Problems, stackKey } from "./estate/problems";
import { promotedMirrors, replaceExistingProblems, resolvePromotion } from "./estate/promote";
import { ConfigError, PromoteSettings } from "./estate/settings";
import { buildFacts } from "./lib/buildProvenance";
import { stageContexts } from "./estate/stage";
import { PreflightError, checkBuilders, checkRegistry, probeRepository } from "./lib/preflight";
import { boundResourceStacks } from "./lib/resourceStacks";

// Before any resource: the SDK records a bounded stack per resource, not the whole one.
boundResourceStacks();

const projectDir = projectRoot(__dirname);
const config = asRunError(() => loadStackConfig(projectDir));
const {
  settings,
  files,
  registryPassword,
  registryServer,
  registryPull,
  builderKeys,
  signingKey,
  source,
} = config;
// Each build's context narrowed to what it reads (estate/stage.ts), so previews are exact.
const plan = asRunError(() =>
  stageContexts(planForSettings(settings, projectDir, diskFiles), projectDir),
);
const where = stackKey(pulumi.getProject(), settings.stack);
const promote = settings.promote;
asRunError(() => {
  const problems = new Problems(where);
  replaceExistingProblems(plan, settings.replaceExisting, problems);
  problems.throwIfAny(ConfigError);
});

const flat = flatPlan(plan);

// Registry and builders in the modes the stack chose (see docs/production.md). The settings pass
// through as they are (mode, address, username and each mode's section), so a new mode's settings
// need no wiring here.
const reg = settings.registry;
const registry = new PrivateRegistry("registry", {
  ...reg,
  password: registryPassword,
  caCert: files.registryCa,
  htpasswd: registryServer?.htpasswd,
  pull: registryPull,
  tls: registryServer && { cert: files.registryTlsCert ?? "", key: registryServer.tlsKey },
  ecr: reg.ecr && { ...reg.ecr, ...repositoryPlan(flat) },
});

// Promote mode builds nothing: the builders only tell the planner which platforms exist.
const builders = (promote ? [] : settings.builders).map((b) => {
  const tls = files.builders[b.name];
  const key = builderKeys[b.name];
  return new BuildxBuilder(b.name, {
    ...b,
    builderName: b.name,
    tls: tls && key && { ...tls, key },
  });
});

// Every build's credentials pass through the pre-flight checks, so no build starts (and nothing is
// pushed) when the registry or a builder is down or misdeclared, or the registry cannot store a
// test upload (its storage full or read-only). The checks wait for the builders' buildx entries,
// which the docker-host and kubernetes builder modes create.
const sourceRegistry =
  promote &&
  secretCredentials(
    promote.registry.address,
    promote.registry.username ?? "",
    config.promotePassword ?? "",
  );
const credentials = settings.preflight
  ? pulumi
      .all([registry.credentials, pulumi.all(builders.map((b) => b.ready)), sourceRegistry])
      .apply(async ([c, , source]) => {
        const checks = [
          checkRegistry(
            { ...c, ca: files.registryCa, insecure: reg.insecure },
            where,
            probeRepository(flat.registry, [
              ...flat.builds.map((b) => b.repository),
              ...flat.mirrors.map((m) => m.repository),
            ]),
          ),
          // Promote mode: the source registry instead of the builders.
          source && promote
            ? checkRegistry(
                {
                  ...source,
                  ca: config.promoteFiles.sourceCa,
                  insecure: promote.registry.insecure,
                },
                where,
              )
            : checkBuilders(
                settings.builders.map((b, i) => ({ ...b, key: `builders[${i}]` })),
                undefined,
                process.env.DAYU_BUILDX ?? "buildx",
                where,
              ),
        ];
        // Both checks run to the end, and their problems are reported together.
        const failed = new Problems();
        for (const r of await Promise.allSettled(checks))
          if (r.status === "rejected") failed.absorb(r.reason);
        asRunError(() => failed.throwIfAny(PreflightError));
        return c;
      })
  : registry.credentials;

// SBOM and provenance per final build, a signature per index (docs/supply-chain.md). The tools run
// inside the dynamic providers, which inherit PATH; DAYU_COSIGN / DAYU_SYFT name other binaries.
const supplyChain = signingKey && {
  sbomFormat: settings.supplyChain.sbomFormat,
  key: signingKey,
  source,
  facts: buildFacts(flat.builds, diskFiles, projectDir),
  tools: {
    cosign: process.env.DAYU_COSIGN ?? "cosign",
    syft: process.env.DAYU_SYFT ?? "syft",
    caFile: reg.caFile === undefined ? undefined : path.resolve(projectDir, reg.caFile),
    insecure: reg.insecure,
  },
};

const adoption = { adopt: settings.adopt, replaceExisting: settings.replaceExisting };
const estate =
  promote && sourceRegistry
    ? new PromotedEstate("dayu", {
        plan,
        ...promotionInputs(promote),
        registry: credentials,
        sourceRegistry,
        caCert: files.registryCa,
        protectReleases: settings.protectReleases,
        adoption,
      })
    : new ImageEstate("dayu", {
        plan,
        registry: credentials,
        buildOnPreview: settings.buildOnPreview,
        registryCache: settings.registryCache,
        buildDependsOn: builders,
        caCert: files.registryCa,
        protectReleases: settings.protectReleases,
        adoption,
        supplyChain,
      });

/**
 * The project folder, where Pulumi.yaml is: this file's own folder, or two above it when it runs
 * transpiled from .estate/js (program.js).
 */
function projectRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, "Pulumi.yaml"))) return d;
    if (path.dirname(d) === d) return dir;
  }
}

/**
 * Where promote mode copies from. A digest file is checked against the plan now, before any
 * resource; a source stack's summary when its output arrives (one error naming every missing image
 * or tag). Mirrors need no summary.
 */
function promotionInputs(p: PromoteSettings) {
  const address = p.registry.address;
  const key = p.fromStack ? "promote.fromStack" : "promote.digestFile";
  const resolve = (raw: unknown) =>
    asRunError(() => resolvePromotion(plan, raw, address, key, where)).indexes;
  const indexSources = p.fromStack
    ? new pulumi.StackReference("promote-source", { name: p.fromStack })
        .requireOutput("summary")
        .apply(resolve)
    : resolve(config.promoteFiles.digestFile);
  const mirrorSources = asRunError(() => {
    const problems = new Problems(where);
    const mirrors = promotedMirrors(plan, address, problems);
    problems.throwIfAny(ConfigError);
    return mirrors;
  });
  return { indexSources, mirrorSources };
}

export const registryAddress = registry.address;
/** The stack's environment, for the policy pack (supply-chain policies apply to non-dev stacks). */
export const environment = settings.environment;
export const counts = {
  builds: flat.builds.length,
  indexes: flat.indexes.length,
  mirrors: flat.mirrors.length,
};
export const summary = estate.summary;
