/**
 * Dayu's image estate: stack config → plan (pure) → registry, builders and every image.
 * The decisions live in estate/ (tested without Pulumi) and the reading in config.ts; this file only
 * wires components. A user's mistake stops the program as one block, never a stack trace.
 */
import * as pulumi from "@pulumi/pulumi";
import { asRunError, loadStackConfig } from "./config";
import { BuildxBuilder } from "./components/buildxBuilder";
import { ImageEstate } from "./components/imageEstate";
import { PrivateRegistry } from "./components/privateRegistry";
import { repositoryPlan } from "./estate/backends";
import { diskFiles } from "./estate/files";
import { flatPlan, planForSettings } from "./estate/planner";
import { Problems, stackKey } from "./estate/problems";
import { PreflightError, checkBuilders, checkRegistry } from "./lib/preflight";

const projectDir = __dirname;
const { settings, files, registryPassword, registryServer, registryPull, builderKeys } = asRunError(
  () => loadStackConfig(projectDir),
);
const plan = asRunError(() => planForSettings(settings, projectDir, diskFiles));

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

const builders = settings.builders.map((b) => {
  const tls = files.builders[b.name];
  const key = builderKeys[b.name];
  return new BuildxBuilder(b.name, {
    ...b,
    builderName: b.name,
    tls: tls && key && { ...tls, key },
  });
});

// Every build's credentials pass through the pre-flight checks, so no build starts (and nothing is
// pushed) when the registry or a builder is down or misdeclared. The checks wait for the builders'
// buildx entries, which the docker-host and kubernetes builder modes create.
const where = stackKey(pulumi.getProject(), settings.stack);
const credentials = settings.preflight
  ? pulumi
      .all([registry.credentials, pulumi.all(builders.map((b) => b.ready))])
      .apply(async ([c]) => {
        const checks = [
          checkRegistry({ ...c, ca: files.registryCa, insecure: reg.insecure }, where),
          checkBuilders(
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

const estate = new ImageEstate("dayu", {
  plan,
  registry: credentials,
  buildOnPreview: settings.buildOnPreview,
  registryCache: settings.registryCache,
  buildDependsOn: builders,
  caCert: files.registryCa,
  protectReleases: settings.protectReleases,
});

export const registryAddress = registry.address;
export const counts = {
  builds: flat.builds.length,
  indexes: flat.indexes.length,
  mirrors: flat.mirrors.length,
};
export const summary = estate.summary;
