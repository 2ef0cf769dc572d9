/**
 * Dayu's image estate: stack config → plan (pure) → registry, builders and every image.
 * The decisions live in estate/ (tested without Pulumi); this file only wires components.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config";
import { BuildxBuilder } from "./components/buildxBuilder";
import { ImageEstate } from "./components/imageEstate";
import { PrivateRegistry } from "./components/privateRegistry";
import { loadModeFiles, repositoryPlan } from "./estate/backends";
import { diskFiles } from "./estate/files";
import { flatPlan, planForSettings } from "./estate/planner";
import { stageContexts } from "./estate/stage";
import { checkBuilders, checkRegistry } from "./lib/preflight";

const projectDir = __dirname;
const { settings, registryPassword, registryCa, secret } = loadStackConfig(projectDir);

// Each build's context narrowed to what it reads (estate/stage.ts), so previews are exact.
const plan = stageContexts(planForSettings(settings, projectDir, diskFiles), projectDir);
const flat = flatPlan(plan);

// Registry and builders in the modes the stack chose (see docs/production.md). Certificates are read
// from the files named in config; keys, htpasswd and passwords stay secret Outputs.
const modeFiles = loadModeFiles(settings, projectDir, diskFiles);
const reg = settings.registry;
const selfHosted = reg.mode === "docker-host" || reg.mode === "kubernetes";
const registry = new PrivateRegistry("registry", {
  mode: reg.mode,
  address: reg.address,
  username: reg.username,
  password: registryPassword,
  caCert: registryCa,
  htpasswd: selfHosted ? secret("registryHtpasswd") : undefined,
  tls: selfHosted
    ? { cert: modeFiles.registryTlsCert ?? "", key: secret("registryTlsKey") }
    : undefined,
  dockerHost: reg.dockerHost,
  kubernetes: reg.kubernetes,
  ecr: reg.ecr && { ...reg.ecr, ...repositoryPlan(flat) },
});

const builders = settings.builders.map((b) => {
  const files = modeFiles.builders[b.name];
  return new BuildxBuilder(b.name, {
    builderName: b.name,
    platform: b.platform,
    mode: b.mode,
    endpoint: b.endpoint,
    dockerHost: b.dockerHost,
    image: b.image,
    namespace: b.namespace,
    serviceType: b.serviceType,
    kubeContext: b.kubeContext,
    tls: files && b.tls && { ...files, key: secret(b.tls.keySecret) },
  });
});

// Every build's credentials pass through the pre-flight checks, so no build starts (and nothing is
// pushed) when the registry or a builder is down or misdeclared. The checks wait for the builders'
// buildx entries, which the docker-host and kubernetes builder modes create.
const credentials = settings.preflight
  ? pulumi
      .all([registry.credentials, pulumi.all(builders.map((b) => b.ready))])
      .apply(async ([c]) => {
        await Promise.all([
          checkRegistry({ ...c, ca: registryCa, insecure: settings.registry.insecure }),
          checkBuilders(settings.builders, undefined, process.env.DAYU_BUILDX ?? "buildx"),
        ]);
        return c;
      })
  : registry.credentials;

const estate = new ImageEstate("dayu", {
  plan,
  registry: credentials,
  buildOnPreview: settings.buildOnPreview,
  registryCache: settings.registryCache,
  buildDependsOn: builders,
  caCert: registryCa,
  protectReleases: settings.protectReleases,
});

export const registryAddress = registry.address;
export const counts = {
  builds: flat.builds.length,
  indexes: flat.indexes.length,
  mirrors: flat.mirrors.length,
};
export const summary = estate.summary;
