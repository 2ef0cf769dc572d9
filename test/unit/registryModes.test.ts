/**
 * The registry modes. First the pure decisions (estate/backends.ts) without Pulumi, then each mode's
 * component under mocks: the whole shape of what it registers, its parentage, its providers, and
 * that secrets stay secrets (the mocks receive secret inputs wrapped in the engine's envelope).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import {
  dockerConfigJson,
  ecrLifecyclePolicy,
  ecrTagRules,
  exposedDebugListeners,
  htpasswdProblem,
  registryCommand,
  pullFrontEnv,
  registryEnv,
  registryHealthCommand,
  repositoryPlan,
} from "../../estate/backends";
import type { FlatPlan as Plan, PlannedBuild, PlannedIndex } from "../../estate/planner";
import {
  ECR_TEST_PASSWORD,
  calls,
  installMocks,
  isSecretValue,
  ofName,
  one,
  providerRef,
  promiseOf,
  registrations,
  reset,
  settle,
  typeChain,
  unsecret,
} from "./helpers/mocks";
import type {
  PrivateRegistry as PrivateRegistryType,
  PrivateRegistryArgs,
} from "../../components/privateRegistry";
import type { DockerHostRegistry } from "../../components/dockerHostRegistry";
import type { KubernetesRegistry } from "../../components/kubernetesRegistry";
import type { EcrRegistry } from "../../components/ecrRegistry";
import type { RegistryCredentials } from "../../components/credentials";

const ADDRESS = "registry.dayu.example:5000";
const HTPASSWD = `dayu:$2y$05$${"abcdefghijklmnopqrstuv".repeat(2)}ABCDEFGHI\n`;
const CERT = "-----BEGIN CERTIFICATE-----\nMIIBregistry\n-----END CERTIFICATE-----\n";
const CA = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIIEkey\n-----END PRIVATE KEY-----\n";
const PASSWORD = "push-password";
const PULL_PASSWORD = "pull-password";
const PULL_HTPASSWD = `dayu-pull:$2y$05$${"zyxwvutsrqponmlkjihgfe".repeat(2)}ABCDEFGHI\n`;

/** The secret inputs are passed in plain: the components must make them secret themselves. */
const serverArgs = {
  address: ADDRESS,
  username: "dayu",
  password: PASSWORD,
  caCert: CA,
  htpasswd: HTPASSWD,
  tls: { cert: CERT, key: KEY },
};

describe("registry modes: pure decisions", () => {
  it("configures the registry for TLS, htpasswd auth and deletes", () => {
    assert.deepEqual(registryEnv(), {
      REGISTRY_HTTP_ADDR: ":5000",
      REGISTRY_HTTP_TLS_CERTIFICATE: "/certs/tls.crt",
      REGISTRY_HTTP_TLS_KEY: "/certs/tls.key",
      REGISTRY_AUTH: "htpasswd",
      REGISTRY_AUTH_HTPASSWD_REALM: "Dayu registry",
      REGISTRY_AUTH_HTPASSWD_PATH: "/auth/htpasswd",
      REGISTRY_STORAGE_DELETE_ENABLED: "true",
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: "/var/lib/registry",
      REGISTRY_HTTP_DEBUG_ADDR: "127.0.0.1:5001",
    });
  });

  it("never exposes a debug listener beyond loopback (pprof and metrics are unauthenticated)", () => {
    assert.deepEqual(exposedDebugListeners([], registryEnv()), []);
    assert.deepEqual(registryHealthCommand().slice(-1), ["http://127.0.0.1:5001/debug/health"]);
    // The check itself can fail: an all-interfaces debug address is found.
    assert.deepEqual(exposedDebugListeners([], { REGISTRY_HTTP_DEBUG_ADDR: ":5001" }), [
      "REGISTRY_HTTP_DEBUG_ADDR=:5001",
    ]);
    assert.deepEqual(exposedDebugListeners(["--debugaddr", "0.0.0.0:6060"], {}), [
      "--debugaddr 0.0.0.0:6060",
    ]);
    assert.deepEqual(exposedDebugListeners(["--debugaddr=127.0.0.1:6060"], {}), []);
  });

  it("starts the registry only when its htpasswd file and TLS pair are there", () => {
    const [shell, flag, script] = registryCommand();
    assert.deepEqual([shell, flag], ["/bin/sh", "-c"]);
    assert.match(script, /for f in \/auth\/htpasswd \/certs\/tls\.crt \/certs\/tls\.key; do/);
    assert.match(script, /if \[ ! -s "\$f" \]; then .*refusing to start.*exit 1; fi/);
    // The refusal comes before the registry is started.
    assert.ok(script.indexOf("exit 1") < script.indexOf("exec registry serve"));
  });

  it("accepts only bcrypt htpasswd files with an entry for the push user, never quoting them", () => {
    assert.equal(htpasswdProblem(HTPASSWD, "dayu"), undefined);
    assert.equal(htpasswdProblem(" \n", "dayu"), "is empty");
    assert.match(htpasswdProblem("dayu:{SHA}abc=", "dayu") ?? "", /line 1 is not a bcrypt entry/);
    assert.match(htpasswdProblem(`x:$apr1$abc$def\n${HTPASSWD}`, "dayu") ?? "", /line 1/);
    assert.equal(htpasswdProblem(HTPASSWD, "ci"), 'has no entry for user "ci"');
    assert.ok(!(htpasswdProblem("dayu:plain-password", "dayu") ?? "").includes("plain-password"));
  });

  it("writes a dockerconfigjson for the registry", () => {
    const json = JSON.parse(dockerConfigJson(ADDRESS, "dayu", "pw"));
    assert.deepEqual(json, {
      auths: {
        [ADDRESS]: {
          username: "dayu",
          password: "pw",
          auth: Buffer.from("dayu:pw").toString("base64"),
        },
      },
    });
  });

  describe("ECR", () => {
    const REG = "123456789012.dkr.ecr.eu-central-1.amazonaws.com";
    const build = (image: string, arch: string): PlannedBuild =>
      ({ repository: `${REG}/dayuhub/${image}`, arch }) as PlannedBuild;
    const index = (image: string, tag: string, release: boolean): PlannedIndex =>
      ({ ref: `${REG}/dayuhub/${image}:${tag}`, tag, release }) as PlannedIndex;
    const plan = {
      registry: REG,
      builds: [build("car-detection", "amd64"), build("car-detection", "arm64")],
      indexes: [
        index("car-detection", "v1.3", true),
        index("car-detection", "v1.3-jp5", true),
        index("dayubase", "latest", false),
        index("frontend", "v1.3", true),
        index("frontend", "latest", false),
      ],
      mirrors: [{ repository: `${REG}/redis`, refs: [`${REG}/redis:7`, `${REG}/redis:latest`] }],
    } as unknown as Plan;

    it("lists every repository the plan pushes to, with its release and mutable tags", () => {
      assert.deepEqual(repositoryPlan(plan), {
        repositories: [
          { name: "dayuhub/car-detection", release: true, mutableTags: [] },
          { name: "dayuhub/dayubase", release: false, mutableTags: ["latest"] },
          { name: "dayuhub/frontend", release: true, mutableTags: ["latest"] },
          { name: "redis", release: false, mutableTags: ["7", "latest"] },
        ],
        temporaryTagPatterns: ["*-amd64", "*-arm64", "buildcache-*"],
      });
    });

    it("makes release repositories immutable except for re-pushed tags", () => {
      const { repositories, temporaryTagPatterns: t } = repositoryPlan(plan);
      const [car, base, frontend] = repositories;
      assert.deepEqual(ecrTagRules(car, t), {
        mutability: "IMMUTABLE_WITH_EXCLUSION",
        exclusions: ["*-amd64", "*-arm64", "buildcache-*"],
        reason: "release tags immutable; per-arch, cache and non-release tags excluded",
      });
      assert.deepEqual(ecrTagRules(frontend, t).exclusions, [
        "*-amd64",
        "*-arm64",
        "buildcache-*",
        "latest",
      ]);
      assert.equal(ecrTagRules(base, t).mutability, "MUTABLE");
      assert.equal(ecrTagRules(car, []).mutability, "IMMUTABLE");
    });

    it("falls back to MUTABLE (and the release guard) past ECR's five exclusion filters", () => {
      const many = { name: "x", release: true, mutableTags: ["latest", "edge", "nightly"] };
      const rules = ecrTagRules(many, ["*-amd64", "*-arm64", "buildcache-*"]);
      assert.equal(rules.mutability, "MUTABLE");
      assert.deepEqual(rules.exclusions, []);
      assert.match(rules.reason, /needs 6 exclusion filters \(ECR allows 5\).*release guard/);
    });

    it("expires each temporary tag pattern by age, in its own rule, never untagged images", () => {
      const policy = ecrLifecyclePolicy(["*-amd64", "buildcache-*"], 7) as {
        rules: { rulePriority: number; selection: Record<string, unknown> }[];
      };
      assert.deepEqual(
        policy.rules.map((r) => [r.rulePriority, r.selection]),
        [
          [
            1,
            {
              tagStatus: "tagged",
              tagPatternList: ["*-amd64"],
              countType: "sinceImagePushed",
              countUnit: "days",
              countNumber: 7,
            },
          ],
          [
            2,
            {
              tagStatus: "tagged",
              tagPatternList: ["buildcache-*"],
              countType: "sinceImagePushed",
              countUnit: "days",
              countNumber: 7,
            },
          ],
        ],
      );
    });
  });
});

describe("registry modes under mocks", function () {
  this.timeout(30000);
  let PrivateRegistry: typeof PrivateRegistryType;
  const make = (name: string, args: PrivateRegistryArgs) => new PrivateRegistry(name, args);

  before(async () => {
    await installMocks("dayu-estate", "prod");
    ({ PrivateRegistry } = await import("../../components/privateRegistry"));
  });

  describe("docker-host", () => {
    let registry: PrivateRegistryType;
    let backend: DockerHostRegistry;

    before(async () => {
      reset();
      registry = make("reg-dh", {
        mode: "docker-host",
        ...serverArgs,
        dockerHost: {
          host: "ssh://dayu@gpu-server",
          image: "registry:3.0.0",
          port: 5443,
          volume: "dayu-registry-data",
        },
      });
      backend = registry.backend as DockerHostRegistry;
      await settle(backend.provider, backend.volume, backend.container);
    });

    it("runs a pinned registry container with TLS, auth, deletes, a volume, a port, restarts and a health check", () => {
      const c = unsecret<Record<string, unknown>>(
        one("reg-dh", "docker:index/container:Container").inputs,
      );
      assert.equal(c.image, "registry:3.0.0");
      assert.equal(c.name, "dayu-registry");
      assert.deepEqual(c.ports, [{ internal: 5000, external: 5443 }]);
      assert.deepEqual(c.volumes, [
        { volumeName: "dayu-registry-data", containerPath: "/var/lib/registry" },
      ]);
      assert.deepEqual(
        c.envs,
        Object.entries(registryEnv()).map(([k, v]) => `${k}=${v}`),
      );
      assert.ok((c.envs as string[]).includes("REGISTRY_AUTH=htpasswd"));
      assert.ok((c.envs as string[]).includes("REGISTRY_STORAGE_DELETE_ENABLED=true"));
      assert.equal(c.restart, "unless-stopped");
      assert.deepEqual(c.healthcheck, {
        tests: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5001/debug/health"],
        interval: "15s",
        timeout: "5s",
        retries: 3,
        startPeriod: "10s",
      });
      assert.equal(c.wait, true);
      assert.equal(c.mustRun, true);
      assert.deepEqual(c.entrypoints, registryCommand());
      assert.deepEqual(c.uploads, [
        { file: "/auth/htpasswd", content: HTPASSWD },
        { file: "/certs/tls.crt", content: CERT },
        { file: "/certs/tls.key", content: KEY },
      ]);
      const volume = one("reg-dh", "docker:index/volume:Volume");
      assert.deepEqual(volume.inputs, { name: "dayu-registry-data" });
    });

    it("uploads the htpasswd file and the TLS key as secrets", () => {
      const c = one("reg-dh", "docker:index/container:Container").inputs;
      assert.ok(isSecretValue(c.uploads), "uploads are not secret");
      assert.ok(!isSecretValue(c.envs), "the environment holds no secret");
    });

    it("reaches the host through one explicit provider, used by the container and the volume", async () => {
      const providers = ofName("reg-dh", "pulumi:providers:docker");
      assert.deepEqual(
        providers.map((p) => p.inputs.host),
        ["ssh://dayu@gpu-server"],
      );
      const ref = await providerRef(backend.provider);
      assert.equal(one("reg-dh", "docker:index/container:Container").provider, ref);
      assert.equal(one("reg-dh", "docker:index/volume:Volume").provider, ref);
    });

    it("is a child of the façade", async () => {
      // The mock monitor's URNs name the parent's type only: check each link of the chain.
      assert.deepEqual(await typeChain(backend), [
        "dayu:estate:PrivateRegistry",
        "dayu:estate:DockerHostRegistry",
      ]);
      for (const child of [backend.container, backend.volume, backend.provider]) {
        assert.equal((await typeChain(child))[0], "dayu:estate:DockerHostRegistry");
      }
      assert.deepEqual(await typeChain(backend.container), [
        "dayu:estate:DockerHostRegistry",
        "docker:index/container:Container",
      ]);
    });

    it("exposes the EstateRegistry interface with secret credentials", async () => {
      assert.equal(await promiseOf(registry.address), ADDRESS);
      assert.equal(await promiseOf(registry.caCert), CA);
      assert.ok(await pulumi.isSecret(registry.credentials));
      assert.ok(await pulumi.isSecret(registry.password));
      assert.ok(await pulumi.isSecret(backend.credentials));
      assert.deepEqual(await promiseOf(registry.credentials), {
        address: ADDRESS,
        username: "dayu",
        password: PASSWORD,
      });
    });
  });

  describe("kubernetes", () => {
    let registry: PrivateRegistryType;
    let backend: KubernetesRegistry;

    before(async () => {
      reset();
      registry = make("reg-k8s", {
        mode: "kubernetes",
        ...serverArgs,
        kubernetes: {
          namespace: "dayu-registry",
          storageSize: "200Gi",
          storageClass: "local-path",
          image: "registry:3.0.0",
          serviceType: "LoadBalancer",
          pullSecretNamespaces: ["dayu", "dayu-edge"],
          pullUsername: "dayu-pull",
        },
        pull: { pullPassword: PULL_PASSWORD, pullHtpasswd: PULL_HTPASSWD },
      });
      backend = registry.backend as KubernetesRegistry;
      await settle(
        backend.namespace,
        backend.htpasswdSecret,
        backend.pullHtpasswdSecret as pulumi.Resource,
        backend.tlsSecret,
        backend.claim,
        backend.deployment,
        backend.service,
        ...Object.values(backend.pullSecrets),
      );
    });

    const secrets = () => ofName("reg-k8s", "kubernetes:core/v1:Secret");
    const secretNamed = (name: string) => {
      const found = secrets().filter((s) => (s.inputs.metadata as { name: string }).name === name);
      assert.equal(found.length, 1, name);
      return found[0];
    };

    it("creates the namespace, an htpasswd Secret and a kubernetes.io/tls Secret, as secrets", () => {
      assert.deepEqual(one("reg-k8s", "kubernetes:core/v1:Namespace").inputs, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: "dayu-registry" },
      });
      const htpasswd = secretNamed("dayu-registry-htpasswd");
      assert.equal(htpasswd.inputs.type, "Opaque");
      assert.ok(isSecretValue(htpasswd.inputs.stringData));
      assert.deepEqual(unsecret(htpasswd.inputs.stringData), { htpasswd: HTPASSWD });
      const tls = secretNamed("dayu-registry-tls");
      assert.equal(tls.inputs.type, "kubernetes.io/tls");
      assert.ok(isSecretValue(tls.inputs.stringData));
      assert.deepEqual(unsecret(tls.inputs.stringData), { "tls.crt": CERT, "tls.key": KEY });
    });

    it("claims the storage", () => {
      const claim = one("reg-k8s", "kubernetes:core/v1:PersistentVolumeClaim").inputs;
      assert.deepEqual(claim.spec, {
        accessModes: ["ReadWriteOnce"],
        storageClassName: "local-path",
        resources: { requests: { storage: "200Gi" } },
      });
    });

    it("runs one pinned registry pod with TLS, auth, deletes and probes, recreated (RWO claim)", () => {
      const d = unsecret<{ spec: Record<string, unknown> }>(
        one("reg-k8s", "kubernetes:apps/v1:Deployment").inputs,
      );
      const spec = d.spec as {
        replicas: number;
        strategy: unknown;
        template: { spec: { containers: Record<string, unknown>[]; volumes: unknown[] } };
      };
      assert.equal(spec.replicas, 1);
      assert.deepEqual(spec.strategy, { type: "Recreate" });
      const [c] = spec.template.spec.containers;
      assert.equal(c.image, "registry:3.0.0");
      assert.deepEqual(c.command, registryCommand());
      assert.deepEqual(
        c.env,
        Object.entries(registryEnv()).map(([name, value]) => ({ name, value })),
      );
      // The debug server is on loopback: probes run inside the container, no debug port is declared.
      assert.deepEqual(c.ports, [{ name: "registry", containerPort: 5000 }]);
      assert.deepEqual(
        exposedDebugListeners(c.command as string[], registryEnv()),
        [],
        "no debug listener beyond loopback",
      );
      const probe = {
        exec: { command: registryHealthCommand() },
        periodSeconds: 15,
        timeoutSeconds: 5,
        failureThreshold: 3,
      };
      assert.deepEqual(c.readinessProbe, { ...probe, initialDelaySeconds: 5 });
      assert.deepEqual(c.livenessProbe, { ...probe, initialDelaySeconds: 30 });
      assert.deepEqual(c.volumeMounts, [
        { name: "htpasswd", mountPath: "/auth", readOnly: true },
        { name: "tls", mountPath: "/certs", readOnly: true },
        { name: "data", mountPath: "/var/lib/registry" },
      ]);
      assert.deepEqual(spec.template.spec.volumes.slice(0, 3), [
        { name: "htpasswd", secret: { secretName: "dayu-registry-htpasswd", optional: false } },
        { name: "tls", secret: { secretName: "dayu-registry-tls", optional: false } },
        { name: "data", persistentVolumeClaim: { claimName: "dayu-registry-data" } },
      ]);
    });

    it("exposes the registry port with a Service", () => {
      const svc = one("reg-k8s", "kubernetes:core/v1:Service").inputs as {
        spec: Record<string, unknown>;
      };
      assert.deepEqual(svc.spec, {
        type: "LoadBalancer",
        selector: { "app.kubernetes.io/name": "dayu-registry" },
        ports: [
          { name: "registry", port: 5000, targetPort: 5000 },
          { name: "pull", port: 5002, targetPort: 5002 },
        ],
      });
    });

    it("pull Secrets carry the read-only pull identity at the pull front's port, never the push user", () => {
      const pulls = secrets().filter((s) => s.inputs.type === "kubernetes.io/dockerconfigjson");
      assert.equal(pulls.length, 2);
      for (const p of pulls) {
        const data = unsecret<Record<string, string>>(p.inputs.stringData);
        assert.equal(
          data[".dockerconfigjson"],
          dockerConfigJson("registry.dayu.example:5002", "dayu-pull", PULL_PASSWORD),
        );
        assert.ok(
          !data[".dockerconfigjson"].includes(PASSWORD),
          "no push password in a pull Secret",
        );
      }
      const front = unsecret<Record<string, unknown>>(
        secretNamed("dayu-registry-pull-htpasswd").inputs,
      );
      assert.deepEqual(front.stringData, { htpasswd: PULL_HTPASSWD });
    });

    it("serves pulls from a read-only front in the same pod, over the same volume, on its own port", () => {
      const d = unsecret<{ spec: Record<string, unknown> }>(
        one("reg-k8s", "kubernetes:apps/v1:Deployment").inputs,
      );
      const pod = (
        d.spec as {
          template: { spec: { containers: Record<string, unknown>[]; volumes: unknown[] } };
        }
      ).template.spec;
      assert.equal(pod.containers.length, 2);
      const front = pod.containers[1];
      assert.equal(front.name, "registry-pull");
      assert.equal(front.image, "registry:3.0.0");
      assert.deepEqual(front.command, registryCommand("/auth-pull/htpasswd"));
      const env = Object.fromEntries(
        (front.env as { name: string; value: string }[]).map((e) => [e.name, e.value]),
      );
      assert.deepEqual(env, pullFrontEnv(5002));
      assert.equal(env.REGISTRY_STORAGE_MAINTENANCE_READONLY, '{"enabled":true}');
      assert.equal(env.REGISTRY_AUTH_HTPASSWD_PATH, "/auth-pull/htpasswd");
      assert.equal(env.REGISTRY_HTTP_DEBUG_ADDR, "127.0.0.1:5003");
      assert.deepEqual(front.ports, [{ name: "pull", containerPort: 5002 }]);
      assert.deepEqual(front.volumeMounts, [
        { name: "pull-htpasswd", mountPath: "/auth-pull", readOnly: true },
        { name: "tls", mountPath: "/certs", readOnly: true },
        { name: "data", mountPath: "/var/lib/registry", readOnly: true },
      ]);
      assert.deepEqual(pod.volumes[3], {
        name: "pull-htpasswd",
        secret: { secretName: "dayu-registry-pull-htpasswd", optional: false },
      });
      const svc = one("reg-k8s", "kubernetes:core/v1:Service").inputs as {
        spec: { ports: unknown[] };
      };
      assert.deepEqual(svc.spec.ports[1], { name: "pull", port: 5002, targetPort: 5002 });
    });

    it("puts a secret dockerconfigjson pull Secret in each namespace that runs Dayu", () => {
      const pulls = secrets().filter((s) => s.inputs.type === "kubernetes.io/dockerconfigjson");
      assert.deepEqual(
        pulls.map((p) => (p.inputs.metadata as { namespace: string }).namespace).sort(),
        ["dayu", "dayu-edge"],
      );
      for (const p of pulls) {
        assert.equal((p.inputs.metadata as { name: string }).name, "dayu-registry-pull");
        assert.ok(isSecretValue(p.inputs.stringData));
        const data = unsecret<Record<string, string>>(p.inputs.stringData);
        assert.equal(
          data[".dockerconfigjson"],
          dockerConfigJson("registry.dayu.example:5002", "dayu-pull", PULL_PASSWORD),
        );
      }
    });

    it("uses the ambient provider unless a kube context is set", async () => {
      assert.equal(backend.provider, undefined);
      assert.equal(ofName("reg-k8s", "pulumi:providers:kubernetes").length, 0);
      const withContext = make("reg-kctx", {
        mode: "kubernetes",
        ...serverArgs,
        kubernetes: { image: "registry:3.0.0", kubeContext: "edge-cluster" },
      });
      const b = withContext.backend as KubernetesRegistry;
      await settle(b.deployment, b.service);
      const [p] = ofName("reg-kctx", "pulumi:providers:kubernetes");
      assert.equal(p.inputs.context, "edge-cluster");
      const ref = await providerRef(b.provider as pulumi.ProviderResource);
      for (const type of [
        "kubernetes:core/v1:Namespace",
        "kubernetes:apps/v1:Deployment",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:PersistentVolumeClaim",
      ]) {
        assert.equal(one("reg-kctx", type).provider, ref, type);
      }
    });

    it("is a child of the façade with secret credentials", async () => {
      assert.deepEqual(await typeChain(backend), [
        "dayu:estate:PrivateRegistry",
        "dayu:estate:KubernetesRegistry",
      ]);
      assert.deepEqual(await typeChain(backend.deployment), [
        "dayu:estate:KubernetesRegistry",
        "kubernetes:apps/v1:Deployment",
      ]);
      assert.deepEqual(await typeChain(backend.pullSecrets["dayu-edge"]), [
        "dayu:estate:KubernetesRegistry",
        "kubernetes:core/v1:Secret",
      ]);
      assert.ok(await pulumi.isSecret(registry.credentials));
      assert.equal((await promiseOf(registry.credentials)).password, PASSWORD);
    });
  });

  describe("ecr", () => {
    const ECR = "123456789012.dkr.ecr.eu-central-1.amazonaws.com";
    let registry: PrivateRegistryType;
    let backend: EcrRegistry;

    before(async () => {
      reset();
      registry = make("reg-ecr", {
        mode: "ecr",
        address: ECR,
        ecr: {
          region: "eu-central-1",
          accountId: "123456789012",
          expireTemporaryAfterDays: 7,
          repositories: [
            { name: "dayuhub/car-detection", release: true, mutableTags: [] },
            { name: "dayuhub/dayubase", release: false, mutableTags: ["latest"] },
            { name: "redis", release: false, mutableTags: ["latest"] },
          ],
          temporaryTagPatterns: ["*-amd64", "*-arm64", "buildcache-*"],
        },
      });
      backend = registry.backend as EcrRegistry;
      await promiseOf(registry.credentials);
      await settle(
        ...Object.values(backend.repositories),
        ...Object.values(backend.lifecyclePolicies),
      );
    });

    const repos = () => ofName("reg-ecr", "aws:ecr/repository:Repository");

    it("creates one repository per estate repository, immutable where release tags live", () => {
      const byName = Object.fromEntries(repos().map((r) => [r.inputs.name, r.inputs]));
      assert.deepEqual(Object.keys(byName).sort(), [
        "dayuhub/car-detection",
        "dayuhub/dayubase",
        "redis",
      ]);
      assert.deepEqual(byName["dayuhub/car-detection"], {
        name: "dayuhub/car-detection",
        imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters: [
          { filter: "*-amd64", filterType: "WILDCARD" },
          { filter: "*-arm64", filterType: "WILDCARD" },
          { filter: "buildcache-*", filterType: "WILDCARD" },
        ],
        imageScanningConfiguration: { scanOnPush: true },
        forceDelete: false,
        tags: { "dayu:estate": "true" },
      });
      for (const name of ["dayuhub/dayubase", "redis"]) {
        assert.equal(byName[name].imageTagMutability, "MUTABLE", name);
        assert.equal(byName[name].imageTagMutabilityExclusionFilters, undefined, name);
      }
    });

    it("expires per-arch and cache tags after expireTemporaryAfterDays, in every repository", () => {
      const policies = ofName("reg-ecr", "aws:ecr/lifecyclePolicy:LifecyclePolicy");
      assert.equal(policies.length, 3);
      for (const p of policies) {
        assert.deepEqual(
          JSON.parse(String(p.inputs.policy)),
          ecrLifecyclePolicy(["*-amd64", "*-arm64", "buildcache-*"], 7),
        );
      }
    });

    it("pins region and account in one provider that every repository, policy and the token use", async () => {
      const [p, ...others] = ofName("reg-ecr", "pulumi:providers:aws");
      assert.equal(others.length, 0);
      assert.equal(p.inputs.region, "eu-central-1");
      assert.deepEqual(JSON.parse(String(p.inputs.allowedAccountIds)), ["123456789012"]);
      const ref = await providerRef(backend.provider);
      for (const r of ofName("reg-ecr", "aws:ecr/")) assert.equal(r.provider, ref, r.name);
      const tokens = calls.filter(
        (c) => c.token === "aws:ecr/getAuthorizationToken:getAuthorizationToken",
      );
      assert.equal(tokens.length, 1);
      assert.equal(tokens[0].inputs.registryId, "123456789012");
      // The invoke inherits the provider from its parent: it was made with { parent: this }.
      assert.equal(tokens[0].provider, ref);
    });

    it("hands out the token's credentials as secrets, once the repositories exist", async () => {
      assert.equal(await promiseOf(registry.address), ECR);
      assert.ok(await pulumi.isSecret(registry.credentials));
      assert.ok(await pulumi.isSecret(registry.password));
      assert.deepEqual(await promiseOf(registry.credentials), {
        address: ECR,
        username: "AWS",
        password: ECR_TEST_PASSWORD,
      });
      assert.equal(await promiseOf(registry.caCert), undefined);
    });

    it("is a child of the façade", async () => {
      assert.deepEqual(await typeChain(backend), [
        "dayu:estate:PrivateRegistry",
        "dayu:estate:EcrRegistry",
      ]);
      assert.deepEqual(await typeChain(backend.repositories.redis), [
        "dayu:estate:EcrRegistry",
        "aws:ecr/repository:Repository",
      ]);
    });

    it("refuses an address that is not the account's ECR registry", () => {
      assert.throws(
        () =>
          make("reg-ecr-bad", {
            mode: "ecr",
            address: ADDRESS,
            ecr: { region: "eu-central-1", accountId: "123456789012", repositories: [] },
          }),
        /address must be 123456789012\.dkr\.ecr\.eu-central-1\.amazonaws\.com/,
      );
    });
  });

  describe("external and refusals", () => {
    beforeEach(() => reset());

    it("external: declares nothing, carries secret credentials", async () => {
      const registry = make("reg-ext", {
        mode: "external",
        address: ADDRESS,
        username: "dayu",
        password: PASSWORD,
      });
      assert.equal(registry.backend, undefined);
      assert.ok(await pulumi.isSecret(registry.credentials));
      assert.equal((await promiseOf(registry.credentials)).password, PASSWORD);
      await settle(registry);
      assert.deepEqual(
        registrations.filter((r) => r.name.startsWith("reg-ext")).map((r) => r.type),
        ["dayu:estate:PrivateRegistry"],
      );
    });

    it("refuses to run a registry without auth or TLS", () => {
      const base = {
        mode: "docker-host" as const,
        ...serverArgs,
        dockerHost: { host: "ssh://dayu@gpu-server", image: "registry:3.0.0" },
      };
      assert.throws(
        () => make("reg-no-auth", { ...base, htpasswd: undefined }),
        /registry mode "docker-host": htpasswd is required/,
      );
      assert.throws(
        () => make("reg-no-tls", { ...base, tls: undefined }),
        /registry mode "docker-host": tls.cert is required/,
      );
      assert.throws(
        () => make("reg-no-host", { ...base, dockerHost: undefined }),
        /registry mode "docker-host": dockerHost is required/,
      );
    });
  });
});

describe("the program in docker-host mode (Pulumi.prod-docker-host.yaml)", function () {
  this.timeout(60000);
  const ROOT = path.resolve(__dirname, "../..");
  const SECRETS = {
    registryPassword: PASSWORD,
    registryHtpasswd: HTPASSWD,
    registryTlsKey: KEY,
    buildkitdAmd64Key: "-----BEGIN PRIVATE KEY-----\nMIIEamd64\n-----END PRIVATE KEY-----\n",
    buildkitdArm64Key: "-----BEGIN PRIVATE KEY-----\nMIIEarm64\n-----END PRIVATE KEY-----\n",
    // A prod stack has the supply chain on (supplyChain.enabled: auto).
    cosignPrivateKey:
      "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nx\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
    cosignPassword: "cosign-password-for-tests",
  };
  let program: { registryAddress: pulumi.Output<string>; summary: pulumi.Output<unknown> };
  let pki = "";
  after(() => fs.rmSync(pki, { recursive: true, force: true }));

  before(async () => {
    reset();
    await installMocks("dayu-estate", "prod-docker-host");
    // The example stack, with its certificate files in a temporary directory (absolute paths win
    // over the project directory), every mirror pinned, and pre-flight off (no network here).
    pki = fs.mkdtempSync(path.join(os.tmpdir(), "dayu-pki-"));
    for (const f of ["ca.crt", "registry.crt", "buildkitd-amd64.crt", "buildkitd-arm64.crt"])
      fs.writeFileSync(path.join(pki, f), CERT);
    fs.writeFileSync(path.join(pki, "buildx-client.crt"), CERT);
    fs.writeFileSync(path.join(pki, "buildx-client.key"), KEY);
    const text = fs.readFileSync(path.join(ROOT, "Pulumi.prod-docker-host.yaml"), "utf8");
    const config = parseYaml(text.replace(/\bpki\//g, `${pki}/`)).config as Record<string, unknown>;
    const catalog = parseYaml(fs.readFileSync(path.join(ROOT, "estate.yaml"), "utf8")) as {
      mirrors: { name: string; source: string }[];
    };
    config["dayu-estate:mirrorSources"] = Object.fromEntries(
      catalog.mirrors.map((m) => [m.name, `${m.source}@sha256:${"e".repeat(64)}`]),
    );
    config["dayu-estate:preflight"] = false;
    const all: Record<string, string> = {};
    for (const [k, v] of Object.entries(config))
      all[k] = typeof v === "string" ? v : JSON.stringify(v);
    for (const [k, v] of Object.entries(SECRETS)) all[`dayu-estate:${k}`] = v;
    pulumi.runtime.setAllConfig(
      all,
      Object.keys(SECRETS).map((k) => `dayu-estate:${k}`),
    );
    // Another test may have loaded the program with another stack: run it afresh.
    delete require.cache[require.resolve("../../index")];
    program = await import("../../index");
    await promiseOf(program.summary);
    await settle();
  });

  it("runs the registry container on the GPU server with the stack's secrets", () => {
    const [registry, ...others] = registrations.filter(
      (r) => r.type === "docker:index/container:Container" && r.name === "registry-docker-host",
    );
    assert.equal(others.length, 0);
    const c = unsecret<{ image: string; uploads: { file: string; content: string }[] }>(
      registry.inputs,
    );
    assert.equal(
      c.image,
      "registry:3.0.0@sha256:6c5666b861f3505b116bb9aa9b25175e71210414bd010d92035ff64018f9457e",
    );
    assert.deepEqual(
      c.uploads.map((u) => [u.file, u.content]),
      [
        ["/auth/htpasswd", HTPASSWD],
        ["/certs/tls.crt", CERT],
        ["/certs/tls.key", KEY],
      ],
    );
    assert.ok(isSecretValue(registry.inputs.uploads));
  });

  it("runs one BuildKit daemon per builder host and registers both buildx entries", () => {
    const hosts = registrations
      .filter((r) => r.type === "pulumi:providers:docker" && r.inputs.host !== undefined)
      .map((r) => r.inputs.host)
      .sort();
    assert.deepEqual(hosts, [
      "ssh://dayu@gpu-server.dayu.example", // the registry's
      "ssh://dayu@gpu-server.dayu.example", // the amd64 builder's
      "ssh://nvidia@jetson-01.dayu.example",
    ]);
    const entries = registrations.filter(
      (r) => r.type === "docker:index/buildxBuilder:BuildxBuilder",
    );
    assert.deepEqual(
      entries.map((e) => [e.inputs.name, e.inputs.endpoint, e.inputs.platforms]),
      [
        ["dayu-amd64", "tcp://gpu-server.dayu.example:1234", ["linux/amd64"]],
        ["dayu-arm64", "tcp://jetson-01.dayu.example:1234", ["linux/arm64"]],
      ],
    );
    const keys = registrations
      .filter(
        (r) => r.type === "docker:index/container:Container" && r.name !== "registry-docker-host",
      )
      .map((r) => unsecret<{ uploads: { file: string; content: string }[] }>(r.inputs).uploads[2]);
    assert.deepEqual(keys, [
      { file: "/etc/buildkit/tls/key.pem", content: SECRETS.buildkitdAmd64Key },
      { file: "/etc/buildkit/tls/key.pem", content: SECRETS.buildkitdArm64Key },
    ]);
  });

  it("pushes every image to the registry's address with secret credentials", async () => {
    assert.equal(await promiseOf(program.registryAddress), "registry.dayu.example:5000");
    const images = registrations.filter((r) => r.type === "docker-build:index:Image");
    assert.ok(images.length > 0);
    for (const r of images) {
      assert.ok(isSecretValue(r.inputs.registries), r.name);
      const [reg] = unsecret<RegistryCredentials[]>(r.inputs.registries);
      assert.deepEqual(reg, {
        address: "registry.dayu.example:5000",
        username: "dayu",
        password: PASSWORD,
      });
    }
  });
});
