/**
 * The `dayu-estate-policies` pack, policy by policy: a happy-path Image and Index shaped exactly as
 * the estate declares them (see components/archImage.ts, multiArchImage.ts, mirroredImage.ts) pass
 * every policy; each test mutates one property and expects exactly the violation it causes. Props
 * go through @pulumi/policy's own unknown-checking proxy, as the analyzer server passes them, so a
 * policy that trips on an unknown preview value fails here too.
 *
 * policy/index.ts is never imported: constructing the PolicyPack starts the analyzer server.
 */
import { strict as assert } from "assert";
import {
  PolicyResource,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  unknownCheckingProxy,
} from "@pulumi/policy";
import * as policyProxy from "@pulumi/policy/proxy";
import {
  basePinnedByDigest,
  imageCachePerArch,
  imageNamedBuilder,
  imagePushesArchTag,
  imageSinglePlatform,
  indexSourcesByDigest,
  noLatestSource,
  noSecretBuildArgs,
  policies,
  registryAuthRequired,
} from "../../policy/policies";
import { DYNAMIC_TYPE, indexSignedAndAttested } from "../../policy/supplyChain";
import { archOf, hasArchSegment, looksLikeRegistryRef, tagOf } from "../../policy/values";
import { NOT_SECRET_LABEL } from "../../estate/secrets";

const IMAGE = "docker-build:index:Image";
const INDEX = "docker-build:index:Index";
const REGISTRY = "registry.dayu.test:5443";
const DAYUBASE_AMD64 = `${REGISTRY}/dayuhub/dayubase@sha256:428a1e1aac76a8c9a06a423554995ee5a7c51e8670bf4f36ade1f3550b850f6d`;
const RTSP_AMD64 = `${REGISTRY}/dayuhub/rtsp-server@sha256:ed9fbafbdf086eced6d4e36ea8838a6b91fa9ce6a23bb8ca06a261f0eea9abc9`;
const RTSP_ARM64 = `${REGISTRY}/dayuhub/rtsp-server@sha256:3f0323c22fc9d8ac1387942ee8eb5024347750d3d8a7e6402213b727e9ce8c83`;
const REDIS_UPSTREAM = `${REGISTRY}/upstream/redis@sha256:74e1637e14e1eb36f675de617e55d9011bc4ee890230ea0b45c59949f9cbdc3a`;
/** The string the engine sends for any unknown value (read from @pulumi/policy, not copied). */
const UNKNOWN_VALUE = (policyProxy as unknown as { unknownStringValue: string }).unknownStringValue;

type Props = Record<string, unknown>;

/** `rtsp-server/amd64` as archImage declares it: one platform, named builder, per-arch tag and cache. */
function imageProps(mutate?: (p: Props) => void): Props {
  const cacheRef = `${REGISTRY}/dayuhub/rtsp-server:buildcache-default-amd64`;
  const p: Props = {
    platforms: ["linux/amd64"],
    builder: { name: "dayu-amd64" },
    context: { location: "/work/main/dockerfiles/rtsp-server" },
    dockerfile: { location: "/work/main/dockerfiles/rtsp-server/Dockerfile" },
    buildArgs: { BASE_IMAGE: DAYUBASE_AMD64 },
    tags: [`${REGISTRY}/dayuhub/rtsp-server:latest-amd64`],
    push: true,
    buildOnPreview: false,
    cacheFrom: [{ registry: { ref: cacheRef } }],
    cacheTo: [
      { registry: { ref: cacheRef, mode: "max", imageManifest: true, ociMediaTypes: true } },
    ],
    labels: {
      "org.opencontainers.image.title": "rtsp-server",
      "dev.dayu.estate.build": "rtsp-server/amd64",
    },
    registries: [{ address: REGISTRY, username: "dayu", password: "from-config-requireSecret" }],
  };
  mutate?.(p);
  return p;
}

/** `rtsp-server:latest` as MultiArchImage declares it: the per-arch digests, pushed. */
function indexProps(mutate?: (p: Props) => void): Props {
  const p: Props = {
    tag: `${REGISTRY}/dayuhub/rtsp-server:latest`,
    sources: [RTSP_AMD64, RTSP_ARM64],
    push: true,
    registry: { address: REGISTRY, username: "dayu", password: "from-config-requireSecret" },
  };
  mutate?.(p);
  return p;
}

class NotApplicable extends Error {}

/** What the analyzer server hands a resource validation (server.js `makeAnalyzeRpcFun`). */
function resourceArgs(type: string, props: Props): ResourceValidationArgs {
  const name = type === IMAGE ? "rtsp-server/amd64" : "rtsp-server:latest";
  const parent =
    type === IMAGE
      ? "dayu:estate:ImageEstate$dayu:estate:MultiArchImage$dayu:estate:ArchImage"
      : "dayu:estate:ImageEstate$dayu:estate:MultiArchImage";
  const proxied = unknownCheckingProxy(props) as Props;
  const isType = (cls: unknown) => (cls as { __pulumiType?: string }).__pulumiType === type;
  return {
    type,
    props: proxied,
    urn: `urn:pulumi:dev::dayu-estate::${parent}$${type}::${name}`,
    name,
    opts: {
      protect: false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
      parent: `urn:pulumi:dev::dayu-estate::${parent}::${name}`,
    },
    stackTags: new Map(),
    isType,
    asType: ((cls: unknown) =>
      isType(cls) ? proxied : undefined) as ResourceValidationArgs["asType"],
    getConfig: <T extends object>() => ({}) as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason);
    },
  };
}

/** Runs a policy's validateResource with a reportViolation spy: the messages it reported. */
async function violations(policy: ResourceValidationPolicy, args: ResourceValidationArgs) {
  const reported: string[] = [];
  const spy: ReportViolation = (message) => {
    reported.push(message);
  };
  const validations = [policy.validateResource ?? []].flat();
  assert.ok(validations.length > 0, `${policy.name} has no validateResource`);
  for (const validate of validations) await validate(args, spy);
  return reported;
}

const onImage = (policy: ResourceValidationPolicy, mutate?: (p: Props) => void) =>
  violations(policy, resourceArgs(IMAGE, imageProps(mutate)));
const onIndex = (policy: ResourceValidationPolicy, mutate?: (p: Props) => void) =>
  violations(policy, resourceArgs(INDEX, indexProps(mutate)));

async function assertNotApplicable(policy: ResourceValidationPolicy, type: string, props: Props) {
  await assert.rejects(violations(policy, resourceArgs(type, props)), NotApplicable);
}

const imagePolicies = [
  imageSinglePlatform,
  imageNamedBuilder,
  imagePushesArchTag,
  imageCachePerArch,
  noSecretBuildArgs,
  basePinnedByDigest,
];
const indexPolicies = [indexSourcesByDigest, noLatestSource];

describe("policy pack dayu-estate-policies", () => {
  it("names every policy in kebab case, once, with a one-line description", () => {
    const names = policies.map((p) => p.name);
    assert.equal(new Set(names).size, names.length);
    for (const p of policies) {
      assert.match(p.name, /^[a-z0-9]+(-[a-z0-9]+)*$/);
      assert.ok(p.description.length > 0 && !p.description.includes("\n"), p.name);
    }
    assert.deepEqual(names.sort(), [
      "base-pinned-by-digest",
      "dayu-templates-contract",
      "image-cache-per-arch",
      "image-named-builder",
      "image-pushes-arch-tag",
      "image-single-platform",
      "index-sources-by-digest",
      "no-latest-source",
      "no-secret-build-args",
      "registry-auth-required",
    ]);
  });

  it("is mandatory except image-cache-per-arch, which is advisory", () => {
    for (const p of policies) {
      const expected = p.name === "image-cache-per-arch" ? "advisory" : "mandatory";
      assert.equal(p.enforcementLevel, expected, p.name);
    }
  });

  it("passes the estate's Image and Index under every policy", async () => {
    for (const p of [...imagePolicies, registryAuthRequired]) {
      assert.deepEqual(await onImage(p), [], p.name);
    }
    for (const p of [...indexPolicies, registryAuthRequired]) {
      assert.deepEqual(await onIndex(p), [], p.name);
    }
  });

  it("applies Image policies to Images only and Index policies to Indexes only", async () => {
    for (const p of imagePolicies) await assertNotApplicable(p, INDEX, indexProps());
    for (const p of indexPolicies) await assertNotApplicable(p, IMAGE, imageProps());
    await assertNotApplicable(registryAuthRequired, "dayu:estate:MultiArchImage", {});
  });

  it("stays silent on values unknown during preview", async () => {
    const unknownImage = imageProps((p) => {
      for (const k of ["platforms", "builder", "push", "tags", "cacheFrom", "cacheTo"]) {
        p[k] = UNKNOWN_VALUE;
      }
      p.buildArgs = { BASE_IMAGE: UNKNOWN_VALUE, EXTRA: UNKNOWN_VALUE };
      p.context = { location: "ctx", named: { "dayuhub/dayubase": { location: UNKNOWN_VALUE } } };
      p.registries = [{ address: UNKNOWN_VALUE, username: UNKNOWN_VALUE, password: UNKNOWN_VALUE }];
    });
    for (const p of [...imagePolicies, registryAuthRequired]) {
      assert.deepEqual(await violations(p, resourceArgs(IMAGE, unknownImage)), [], p.name);
    }
    const wholesale = imageProps((p) => {
      p.buildArgs = UNKNOWN_VALUE;
      p.registries = UNKNOWN_VALUE;
    });
    for (const p of [...imagePolicies, registryAuthRequired]) {
      assert.deepEqual(await violations(p, resourceArgs(IMAGE, wholesale)), [], p.name);
    }
    for (const unknownIndex of [
      indexProps((p) => {
        p.sources = [UNKNOWN_VALUE, RTSP_ARM64];
        p.push = UNKNOWN_VALUE;
        p.registry = { address: REGISTRY, username: "dayu", password: UNKNOWN_VALUE };
      }),
      indexProps((p) => {
        p.sources = UNKNOWN_VALUE;
        p.registry = UNKNOWN_VALUE;
      }),
    ]) {
      for (const p of [...indexPolicies, registryAuthRequired]) {
        assert.deepEqual(await violations(p, resourceArgs(INDEX, unknownIndex)), [], p.name);
      }
    }
  });

  it("still checks the known values next to an unknown one", async () => {
    assert.deepEqual(
      await onImage(basePinnedByDigest, (p) => {
        p.buildArgs = { BASE_IMAGE: UNKNOWN_VALUE, TOOLS_IMAGE: `${REGISTRY}/dayuhub/tools:1.0` };
      }),
      [
        `build arg TOOLS_IMAGE must pin its image by digest (<repository>@sha256:<64 hex>); it is "${REGISTRY}/dayuhub/tools:1.0"`,
      ],
    );
    assert.deepEqual(
      await onIndex(indexSourcesByDigest, (p) => {
        p.sources = [UNKNOWN_VALUE, `${REGISTRY}/dayuhub/rtsp-server:latest-arm64`];
      }),
      [
        `Index source ${REGISTRY}/dayuhub/rtsp-server:latest-arm64 must be pinned by digest (<repository>[:<tag>]@sha256:<64 hex>)`,
      ],
    );
  });

  describe("image-single-platform", () => {
    it("refuses a multi-platform build", async () => {
      assert.deepEqual(
        await onImage(imageSinglePlatform, (p) => (p.platforms = ["linux/amd64", "linux/arm64"])),
        [
          "Image must build exactly one platform (one builder per arch, no emulation); it builds 2: [linux/amd64, linux/arm64]",
        ],
      );
    });
    it("refuses an Image that declares no platform", async () => {
      assert.deepEqual(await onImage(imageSinglePlatform, (p) => delete p.platforms), [
        "Image must build exactly one platform (one builder per arch, no emulation); it builds 0: []",
      ]);
    });
  });

  describe("image-named-builder", () => {
    const required =
      "Image must set builder.name to the estate builder of its platform (without it docker-build creates a docker-container builder that pulls moby/buildkit)";
    it("refuses a missing builder", async () => {
      assert.deepEqual(await onImage(imageNamedBuilder, (p) => delete p.builder), [required]);
    });
    it("refuses an empty builder name", async () => {
      assert.deepEqual(await onImage(imageNamedBuilder, (p) => (p.builder = { name: "" })), [
        required,
      ]);
    });
  });

  describe("image-pushes-arch-tag", () => {
    it("refuses push: false", async () => {
      assert.deepEqual(await onImage(imagePushesArchTag, (p) => (p.push = false)), [
        "Image must set push: true (an estate image is published under its per-arch tag); push is false",
      ]);
    });
    it("refuses a second tag", async () => {
      assert.deepEqual(
        await onImage(imagePushesArchTag, (p) =>
          (p.tags as string[]).push(`${REGISTRY}/dayuhub/rtsp-server:latest`),
        ),
        [
          `Image must push exactly one tag, its per-arch tag (<repository>:<tag>-<arch>); it has 2: [${REGISTRY}/dayuhub/rtsp-server:latest-amd64, ${REGISTRY}/dayuhub/rtsp-server:latest]`,
        ],
      );
    });
    it("refuses a tag of another arch", async () => {
      assert.deepEqual(
        await onImage(
          imagePushesArchTag,
          (p) => (p.tags = [`${REGISTRY}/dayuhub/rtsp-server:latest-arm64`]),
        ),
        [
          `Image tag ${REGISTRY}/dayuhub/rtsp-server:latest-arm64 must end in -amd64, the arch of its platform linux/amd64 (<repository>:<tag>-amd64)`,
        ],
      );
    });
    it("refuses a tag without arch, even when the repository name ends in it", async () => {
      assert.deepEqual(
        await onImage(
          imagePushesArchTag,
          (p) => (p.tags = [`${REGISTRY}/dayuhub/rtsp-server-amd64`]),
        ),
        [
          `Image tag ${REGISTRY}/dayuhub/rtsp-server-amd64 must end in -amd64, the arch of its platform linux/amd64 (<repository>:<tag>-amd64)`,
        ],
      );
    });
    it("accepts -arm-v7 for linux/arm/v7", async () => {
      assert.deepEqual(
        await onImage(imagePushesArchTag, (p) => {
          p.platforms = ["linux/arm/v7"];
          p.tags = [`${REGISTRY}/dayuhub/rtsp-server:latest-arm-v7`];
        }),
        [],
      );
    });
  });

  describe("image-cache-per-arch", () => {
    const ref = (tag: string) => `${REGISTRY}/dayuhub/rtsp-server:${tag}`;
    it("asks for a registry cache on both sides", async () => {
      assert.deepEqual(await onImage(imageCachePerArch, (p) => (p.cacheFrom = [])), [
        "Image must read and write a registry cache of its own arch: set a registry ref in cacheFrom and cacheTo (missing in cacheFrom)",
      ]);
      assert.deepEqual(await onImage(imageCachePerArch, (p) => delete p.cacheTo), [
        "Image must read and write a registry cache of its own arch: set a registry ref in cacheFrom and cacheTo (missing in cacheTo)",
      ]);
    });
    it("refuses different refs for cacheFrom and cacheTo", async () => {
      assert.deepEqual(
        await onImage(imageCachePerArch, (p) => {
          p.cacheFrom = [{ registry: { ref: ref("buildcache-jp5-amd64") } }];
        }),
        [
          `Image cacheFrom and cacheTo must name the same registry cache ref; cacheFrom is [${ref("buildcache-jp5-amd64")}], cacheTo is [${ref("buildcache-default-amd64")}]`,
        ],
      );
    });
    it("refuses a cache ref without the arch", async () => {
      assert.deepEqual(
        await onImage(imageCachePerArch, (p) => {
          p.cacheFrom = [{ registry: { ref: ref("buildcache") } }];
          p.cacheTo = [{ registry: { ref: ref("buildcache"), mode: "max" } }];
        }),
        [
          `Image cache ref ${ref("buildcache")} must contain the arch amd64 of its platform linux/amd64 (e.g. <repository>:buildcache-amd64): a cache shared by two platforms keeps only the last one`,
        ],
      );
    });
    it("refuses a cache ref of another arch whose name merely contains this one's", async () => {
      assert.deepEqual(
        await onImage(imageCachePerArch, (p) => {
          p.platforms = ["linux/arm"];
          p.tags = [`${REGISTRY}/dayuhub/rtsp-server:latest-arm`];
          p.cacheFrom = [{ registry: { ref: ref("buildcache-arm64") } }];
          p.cacheTo = [{ registry: { ref: ref("buildcache-arm64") } }];
        }),
        [
          `Image cache ref ${ref("buildcache-arm64")} must contain the arch arm of its platform linux/arm (e.g. <repository>:buildcache-arm): a cache shared by two platforms keeps only the last one`,
        ],
      );
    });
  });

  describe("no-secret-build-args", () => {
    for (const name of [
      "REGISTRY_PASSWORD",
      "db_passwd",
      "SECRET",
      "GITHUB_TOKEN",
      "AWS_CREDENTIALS",
      "PRIVATE_KEY",
      "privatekey",
      "API_KEY",
      "ApiKey",
      "AWS_ACCESS_KEY_ID",
    ]) {
      it(`refuses a build arg named ${name}`, async () => {
        assert.deepEqual(
          await onImage(noSecretBuildArgs, (p) => ((p.buildArgs as Props)[name] = "x")),
          [
            `build arg ${name} looks like a credential: pass it as a BuildKit secret (Image secrets), never as a build arg`,
          ],
        );
      });
    }
    it("refuses a private key block as a value, without quoting it", async () => {
      const pem =
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----";
      const reported = await onImage(
        noSecretBuildArgs,
        (p) => ((p.buildArgs as Props).DEPLOY = pem),
      );
      assert.deepEqual(reported, [
        "build arg DEPLOY holds a private key block: pass it as a BuildKit secret (Image secrets), never as a build arg",
      ]);
      assert.ok(!reported[0].includes("b3BlbnNzaC1rZXktdjE="));
    });
    it("accepts ordinary build args", async () => {
      assert.deepEqual(
        await onImage(noSecretBuildArgs, (p) => ((p.buildArgs as Props).JETPACK = "5")),
        [],
      );
    });
    for (const name of ["NPM_PASS", "GITLAB_PAT", "SSH_KEY", "REGISTRY_AUTH"]) {
      it(`refuses ${name}, by the planner's word rule (estate/secrets.ts)`, async () => {
        assert.deepEqual(
          await onImage(noSecretBuildArgs, (p) => ((p.buildArgs as Props)[name] = "x")),
          [
            `build arg ${name} looks like a credential: pass it as a BuildKit secret (Image secrets), never as a build arg`,
          ],
        );
      });
    }
    it("accepts names that merely contain a word (TOKENIZERS_PARALLELISM, MAX_TOKENS)", async () => {
      assert.deepEqual(
        await onImage(noSecretBuildArgs, (p) => {
          (p.buildArgs as Props).TOKENIZERS_PARALLELISM = "false";
          (p.buildArgs as Props).MAX_TOKENS = "512";
        }),
        [],
      );
    });
    it("refuses a URL with a password as a value, without quoting it", async () => {
      const reported = await onImage(
        noSecretBuildArgs,
        (p) => ((p.buildArgs as Props).PIP_INDEX_URL = "https://bob:hunter2@pypi.internal/simple"),
      );
      assert.deepEqual(reported, [
        "build arg PIP_INDEX_URL holds a URL with a password (user:password@): pass it as a BuildKit secret (Image secrets), never as a build arg",
      ]);
    });
    it("honours the catalog's notSecret names from the Image label, for names only", async () => {
      const mutate = (value: string) => (p: Props) => {
        (p.buildArgs as Props).MODEL_AUTH = value;
        (p.labels as Props)[NOT_SECRET_LABEL] = "MODEL_AUTH,OTHER";
      };
      assert.deepEqual(await onImage(noSecretBuildArgs, mutate("none")), []);
      assert.deepEqual(await onImage(noSecretBuildArgs, mutate("https://u:p@h/")), [
        "build arg MODEL_AUTH holds a URL with a password (user:password@): pass it as a BuildKit secret (Image secrets), never as a build arg",
      ]);
    });
  });

  describe("base-pinned-by-digest", () => {
    it("refuses BASE_IMAGE by tag", async () => {
      const base = `${REGISTRY}/dayuhub/dayubase:latest-amd64`;
      assert.deepEqual(
        await onImage(basePinnedByDigest, (p) => (p.buildArgs = { BASE_IMAGE: base })),
        [
          `build arg BASE_IMAGE must pin its image by digest (<repository>@sha256:<64 hex>); it is "${base}"`,
        ],
      );
    });
    it("refuses BASE_IMAGE as a Docker Hub short name", async () => {
      assert.deepEqual(
        await onImage(basePinnedByDigest, (p) => (p.buildArgs = { BASE_IMAGE: "ubuntu:22.04" })),
        [
          `build arg BASE_IMAGE must pin its image by digest (<repository>@sha256:<64 hex>); it is "ubuntu:22.04"`,
        ],
      );
    });
    it("refuses a truncated digest", async () => {
      const base = DAYUBASE_AMD64.slice(0, -1);
      assert.deepEqual(
        await onImage(basePinnedByDigest, (p) => (p.buildArgs = { BASE_IMAGE: base })),
        [
          `build arg BASE_IMAGE must pin its image by digest (<repository>@sha256:<64 hex>); it is "${base}"`,
        ],
      );
    });
    it("refuses any other build arg holding a registry reference by tag", async () => {
      assert.deepEqual(
        await onImage(
          basePinnedByDigest,
          (p) => ((p.buildArgs as Props).RUNTIME = "docker.io/library/redis:7.2"),
        ),
        [
          `build arg RUNTIME must pin its image by digest (<repository>@sha256:<64 hex>); it is "docker.io/library/redis:7.2"`,
        ],
      );
    });
    it("refuses a docker-image named context by tag, accepts one by digest", async () => {
      const byTag = `docker-image://${REGISTRY}/dayuhub/dayubase:latest-amd64`;
      assert.deepEqual(
        await onImage(basePinnedByDigest, (p) => {
          p.context = {
            location: "dockerfiles",
            named: {
              "dayuhub/dayubase": { location: byTag },
              "dayuhub/dayubase:latest-jp5": { location: `docker-image://${DAYUBASE_AMD64}` },
            },
          };
        }),
        [
          `named context dayuhub/dayubase must pin its image by digest (docker-image://<repository>@sha256:<64 hex>); it is "${byTag}"`,
        ],
      );
    });
    it("leaves build args that are not image references alone", async () => {
      assert.deepEqual(
        await onImage(basePinnedByDigest, (p) => {
          Object.assign(p.buildArgs as Props, {
            JETPACK: "5",
            MIRROR: "https://pypi.org/simple",
            TAG: "v1.3",
          });
        }),
        [],
      );
    });
  });

  describe("index-sources-by-digest", () => {
    it("refuses push: false", async () => {
      assert.deepEqual(await onIndex(indexSourcesByDigest, (p) => (p.push = false)), [
        "Index must set push: true (it publishes the tag); push is false",
      ]);
    });
    it("refuses a source by tag", async () => {
      const source = `${REGISTRY}/dayuhub/rtsp-server:latest-amd64`;
      assert.deepEqual(
        await onIndex(indexSourcesByDigest, (p) => ((p.sources as string[])[0] = source)),
        [`Index source ${source} must be pinned by digest (<repository>[:<tag>]@sha256:<64 hex>)`],
      );
    });
    it("refuses an Index without sources", async () => {
      assert.deepEqual(await onIndex(indexSourcesByDigest, (p) => (p.sources = [])), [
        "Index must list at least one source, each pinned by digest",
      ]);
    });
    it("accepts a mirror's pinned upstream with a tag", async () => {
      assert.deepEqual(
        await onIndex(
          indexSourcesByDigest,
          (p) => (p.sources = [REDIS_UPSTREAM.replace("@", ":7.2@")]),
        ),
        [],
      );
    });
  });

  describe("registry-auth-required", () => {
    it("refuses an Image without registries", async () => {
      assert.deepEqual(await onImage(registryAuthRequired, (p) => delete p.registries), [
        "Image must declare registries with a username and a password for the registry it pushes to",
      ]);
    });
    it("refuses an Image registry entry without password", async () => {
      assert.deepEqual(
        await onImage(
          registryAuthRequired,
          (p) => (p.registries = [{ address: REGISTRY, username: "dayu", password: "" }]),
        ),
        ["Image registries[0] must set a username and a password (missing: password)"],
      );
    });
    it("refuses an Image registry entry without username", async () => {
      assert.deepEqual(
        await onImage(
          registryAuthRequired,
          (p) => (p.registries = [{ address: REGISTRY, password: "x" }]),
        ),
        ["Image registries[0] must set a username and a password (missing: username)"],
      );
    });
    it("refuses an Index without registry", async () => {
      assert.deepEqual(await onIndex(registryAuthRequired, (p) => delete p.registry), [
        "Index must set registry with a username and a password (missing: username, password)",
      ]);
    });
    it("refuses an Index registry without password", async () => {
      assert.deepEqual(
        await onIndex(
          registryAuthRequired,
          (p) => (p.registry = { address: REGISTRY, username: "dayu" }),
        ),
        ["Index must set registry with a username and a password (missing: password)"],
      );
    });
    it("never quotes the registry address or credentials", async () => {
      const reported = await onImage(
        registryAuthRequired,
        (p) => (p.registries = [{ address: REGISTRY, username: "dayu-ci" }]),
      );
      assert.equal(reported.length, 1);
      assert.ok(!reported[0].includes(REGISTRY) && !reported[0].includes("dayu-ci"));
    });
  });

  describe("no-latest-source", () => {
    it("refuses a source on :latest", async () => {
      const source = "docker.io/library/redis:latest";
      assert.deepEqual(await onIndex(noLatestSource, (p) => (p.sources = [source])), [
        `Index source ${source} must not float on :latest: pin it by digest (<repository>[:<tag>]@sha256:<64 hex>)`,
      ]);
    });
    it("refuses an untagged source (implicitly latest)", async () => {
      const source = "docker.io/library/redis";
      assert.deepEqual(await onIndex(noLatestSource, (p) => (p.sources = [source])), [
        `Index source ${source} must not float on :latest: pin it by digest (<repository>[:<tag>]@sha256:<64 hex>)`,
      ]);
    });
    it("accepts :latest pinned by digest, and a mirror's pinned upstream", async () => {
      const pinnedLatest = REDIS_UPSTREAM.replace("@", ":latest@");
      assert.deepEqual(
        await onIndex(noLatestSource, (p) => (p.sources = [pinnedLatest, REDIS_UPSTREAM])),
        [],
      );
    });
  });
});

describe("policy helpers", () => {
  it("derives the arch label the estate tags with", () => {
    assert.equal(archOf("linux/amd64"), "amd64");
    assert.equal(archOf("linux/arm64"), "arm64");
    assert.equal(archOf("linux/arm/v7"), "arm-v7");
  });
  it("reads the tag of a reference, not the registry port", () => {
    assert.equal(tagOf(`${REGISTRY}/dayuhub/x:latest-amd64`), "latest-amd64");
    assert.equal(tagOf(`${REGISTRY}/dayuhub/x`), undefined);
    assert.equal(tagOf(DAYUBASE_AMD64), undefined);
    assert.equal(tagOf(`${REGISTRY}/x:v1@sha256:${"0".repeat(64)}`), "v1");
  });
  it("finds the arch as a whole segment only", () => {
    assert.ok(hasArchSegment(`${REGISTRY}/x:buildcache-jp5-arm64`, "arm64"));
    assert.ok(hasArchSegment(`${REGISTRY}/x:buildcache-arm-v7`, "arm-v7"));
    assert.ok(!hasArchSegment(`${REGISTRY}/x:buildcache-arm64`, "arm"));
    assert.ok(!hasArchSegment(`${REGISTRY}/x:buildcache-amd64x`, "amd64"));
  });
  it("tells registry image references from other values", () => {
    for (const ref of [
      DAYUBASE_AMD64,
      `${REGISTRY}/dayuhub/dayubase:latest`,
      "docker.io/library/redis:7.2",
      "localhost/x",
      "registry:5000/team/app",
    ]) {
      assert.ok(looksLikeRegistryRef(ref), ref);
    }
    for (const value of ["5", "v1.3", "ubuntu:22.04", "https://pypi.org/simple", "a b/c", ""]) {
      assert.ok(!looksLikeRegistryRef(value), value);
    }
  });
});

describe("policy index-signed-and-attested (stack policy)", () => {
  const TAG = `${REGISTRY}/dayuhub/rtsp-server:latest`;
  const ESTATE = "dayu:estate:ImageEstate$dayu:estate:MultiArchImage";

  /** A PolicyResource as server.js's analyzeStack hands it over (props through the same proxy). */
  function resource(type: string, name: string, props: Props, parent?: PolicyResource) {
    const r = {
      type,
      name,
      props: unknownCheckingProxy(props) as Props,
      urn: `urn:pulumi:prod::dayu-estate::${ESTATE}$${type}::${name}`,
      opts: {} as PolicyResource["opts"],
      parent,
      dependencies: [],
      propertyDependencies: {},
      isType: () => false,
      asType: () => undefined,
    };
    return r as unknown as PolicyResource;
  }

  /** The stack of one estate image with a supply chain, as the program declares it on prod. */
  function stack(mutate?: (s: Record<string, Props | undefined>) => void): PolicyResource[] {
    const parts: Record<string, Props | undefined> = {
      stack: { environment: "prod" },
      index: indexProps(),
      signature: { tag: TAG, digest: `sha256:${"a".repeat(64)}`, verified: true },
      amd64: { ref: RTSP_AMD64, sbomFormat: "spdx-json", verified: ["spdx-json", "provenance"] },
      arm64: { ref: RTSP_ARM64, sbomFormat: "spdx-json", verified: ["spdx-json", "provenance"] },
    };
    mutate?.(parts);
    const image = resource("dayu:estate:MultiArchImage", "rtsp-server", {});
    const out = [resource("pulumi:pulumi:Stack", "dayu-estate-prod", parts.stack ?? {}), image];
    if (parts.index) out.push(resource(INDEX, "rtsp-server:latest", parts.index, image));
    const dyn = (name: string, p: Props | undefined) => {
      if (p) out.push(resource(DYNAMIC_TYPE, name, p, image));
    };
    dyn("rtsp-server:latest-signature", parts.signature);
    dyn("rtsp-server/amd64-attestation", parts.amd64);
    dyn("rtsp-server/arm64-attestation", parts.arm64);
    return out;
  }

  async function stackViolations(resources: PolicyResource[]) {
    const reported: { message: string; urn?: string }[] = [];
    await indexSignedAndAttested.validateStack(
      {
        resources,
        getConfig: <T extends object>() => ({}) as T,
        stackTags: new Map(),
        notApplicable: (reason?: string): never => {
          throw new NotApplicable(reason);
        },
      } as StackValidationArgs,
      (message, urn) => reported.push({ message, urn }),
    );
    return reported;
  }

  it("passes a signed index whose children are attested, and is mandatory", async () => {
    assert.deepEqual(await stackViolations(stack()), []);
    assert.equal(indexSignedAndAttested.enforcementLevel, "mandatory");
  });

  it("refuses an index without its IndexSignature, naming the index", async () => {
    const v = await stackViolations(stack((s) => (s.signature = undefined)));
    assert.equal(v.length, 1);
    assert.match(v[0].message, /rtsp-server:latest must be signed: no IndexSignature/);
    assert.match(v[0].urn ?? "", /docker-build:index:Index::rtsp-server:latest$/);
  });

  it("refuses a signature that no longer verifies", async () => {
    const v = await stackViolations(stack((s) => (s.signature = { tag: TAG, verified: false })));
    assert.equal(v.length, 1);
    assert.match(v[0].message, /signature does not verify/);
  });

  it("refuses a child without Attestation, and one whose Attestation lacks a kind", async () => {
    const v = await stackViolations(
      stack((s) => {
        s.amd64 = undefined;
        s.arm64 = { ref: RTSP_ARM64, sbomFormat: "cyclonedx-json", verified: ["provenance"] };
      }),
    );
    assert.deepEqual(
      v.map((x) => x.message),
      [
        `Index ${TAG}: child ${RTSP_AMD64} has no Attestation (SBOM and provenance)`,
        `Index ${TAG}: child ${RTSP_ARM64} lacks a verified cyclonedx-json attestation (run pulumi refresh, then pulumi up)`,
      ],
    );
  });

  it("does not apply on dev stacks", async () => {
    const resources = stack((s) => {
      s.stack = { environment: "dev" };
      s.signature = s.amd64 = s.arm64 = undefined;
    });
    assert.deepEqual(await stackViolations(resources), []);
  });

  it("applies when the stack does not say its environment", async () => {
    const v = await stackViolations(
      stack((s) => {
        s.stack = {};
        s.signature = undefined;
      }),
    );
    assert.equal(v.length, 1);
  });

  it("leaves mirrors' indexes alone and skips what a preview cannot know", async () => {
    const mirror = resource("dayu:estate:MirroredImage", "redis", {});
    const mirrorIndex = resource(INDEX, "redis:latest", indexProps(), mirror);
    assert.deepEqual(await stackViolations([...stack(), mirrorIndex]), []);
    const pending = `${REGISTRY}/dayuhub/rtsp-server:latest-amd64@sha256:${"0".repeat(64)}`;
    const preview = stack((s) => {
      s.index = indexProps((p) => (p.sources = [pending, RTSP_ARM64]));
      s.amd64 = undefined;
      s.signature = { tag: TAG, verified: UNKNOWN_VALUE };
      s.arm64 = { ref: RTSP_ARM64, sbomFormat: "spdx-json", verified: UNKNOWN_VALUE };
    });
    assert.deepEqual(await stackViolations(preview), []);
  });
});
