/**
 * The builder modes. First the pure decisions (estate/backends.ts), then the BuildxBuilder façade
 * under mocks in each mode: the daemon's whole shape (image pinned, mTLS, worker pinned to its
 * platform, privileged, restart/health, arch pinning in Kubernetes), one provider per host, the buildx
 * remote entry on the machine that runs Pulumi, parentage, and secrecy of the daemon's key.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import {
  buildkitHealthCommand,
  buildkitdArgs,
  builderNetworkPolicySpec,
  endpointHostPort,
  exposedDebugListeners,
  nodeSelectorFor,
} from "../../estate/backends";
import {
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
  BuildxBuilder as BuildxBuilderType,
  BuildxBuilderArgs,
  BuilderTlsArgs,
} from "../../components/buildxBuilder";
import type { DockerHostBuilder } from "../../components/dockerHostBuilder";
import type { KubernetesBuilder } from "../../components/kubernetesBuilder";

const IMAGE = "moby/buildkit:v0.31.0";
const CA = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n";
const certOf = (arch: string) =>
  `-----BEGIN CERTIFICATE-----\nMIIB${arch}\n-----END CERTIFICATE-----\n`;
const keyOf = (arch: string) =>
  `-----BEGIN PRIVATE KEY-----\nMIIE${arch}\n-----END PRIVATE KEY-----\n`;
/** The key is passed in plain: the components must make it secret themselves. */
const tlsOf = (arch: string): BuilderTlsArgs => ({
  caCert: CA,
  cert: certOf(arch),
  key: keyOf(arch),
  caFile: "/srv/dayu/pki/ca.crt",
  clientCertFile: "/srv/dayu/pki/buildx-client.crt",
  clientKeyFile: "/srv/dayu/pki/buildx-client.key",
});

const TLS_FLAGS = [
  "--tlscacert",
  "/etc/buildkit/tls/ca.pem",
  "--tlscert",
  "/etc/buildkit/tls/cert.pem",
  "--tlskey",
  "/etc/buildkit/tls/key.pem",
];

describe("builder modes: pure decisions", () => {
  it("runs buildkitd on TCP with mTLS and a local socket, its worker pinned to one platform", () => {
    assert.deepEqual(buildkitdArgs("linux/arm64", 1234), [
      "--addr",
      "unix:///run/buildkit/buildkitd.sock",
      "--addr",
      "tcp://0.0.0.0:1234",
      ...TLS_FLAGS,
      "--oci-worker-platform",
      "linux/arm64",
    ]);
    assert.deepEqual(buildkitHealthCommand(), [
      "buildctl",
      "--addr",
      "unix:///run/buildkit/buildkitd.sock",
      "debug",
      "workers",
    ]);
  });

  it("buildkitd serves no debug listener beyond loopback", () => {
    assert.deepEqual(exposedDebugListeners(buildkitdArgs("linux/arm64", 1234), {}), []);
  });

  it("admits only the runner to a Kubernetes daemon, and nobody when no runner is given", () => {
    const labels = { "dayu.dev/builder": "dayu-arm64" };
    assert.deepEqual(
      builderNetworkPolicySpec(labels, 1234, {
        cidrs: ["10.20.0.0/24"],
        podSelector: { app: "pulumi-runner" },
        namespaceSelector: { team: "ci" },
      }),
      {
        podSelector: { matchLabels: labels },
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: [
              { ipBlock: { cidr: "10.20.0.0/24" } },
              {
                podSelector: { matchLabels: { app: "pulumi-runner" } },
                namespaceSelector: { matchLabels: { team: "ci" } },
              },
            ],
            ports: [{ protocol: "TCP", port: 1234 }],
          },
        ],
      },
    );
    // An ingress rule with an empty `from` would admit every peer: no runner means no rule.
    assert.deepEqual(builderNetworkPolicySpec(labels, 1234, undefined).ingress, []);
    assert.deepEqual(builderNetworkPolicySpec(labels, 1234, {}).ingress, []);
  });

  it("reads host and port from a tcp:// endpoint only", () => {
    assert.deepEqual(endpointHostPort("tcp://jetson-01:1234"), { host: "jetson-01", port: 1234 });
    assert.throws(() => endpointHostPort("tcp://jetson-01"), /is not tcp:\/\/host:port/);
    assert.throws(() => endpointHostPort("ssh://jetson-01:22"), /is not tcp:\/\/host:port/);
  });

  it("pins pods to nodes of the platform's OS and architecture", () => {
    assert.deepEqual(nodeSelectorFor("linux/arm64"), {
      "kubernetes.io/os": "linux",
      "kubernetes.io/arch": "arm64",
    });
    assert.deepEqual(nodeSelectorFor("linux/arm/v7"), {
      "kubernetes.io/os": "linux",
      "kubernetes.io/arch": "arm",
    });
  });
});

describe("builder modes under mocks", function () {
  this.timeout(30000);
  let BuildxBuilder: typeof BuildxBuilderType;
  const make = (name: string, args: BuildxBuilderArgs) => new BuildxBuilder(name, args);

  before(async () => {
    await installMocks("dayu-estate", "prod");
    ({ BuildxBuilder } = await import("../../components/buildxBuilder"));
  });

  /** Every registration of a builder created under `name`. */
  const under = (name: string) => registrations.filter((r) => r.name.startsWith(name));

  /** The buildx entry of a daemon builder: remote driver, mTLS files, pinned platform. */
  async function assertEntry(b: BuildxBuilderType, name: string, endpoint: string) {
    const [host] = endpoint.slice("tcp://".length).split(":");
    const entry = one(name, "docker:index/buildxBuilder:BuildxBuilder");
    assert.deepEqual(entry.inputs, {
      name: b.builderName,
      endpoint,
      platforms: [b.platform],
      remote: {
        cacert: "/srv/dayu/pki/ca.crt",
        cert: "/srv/dayu/pki/buildx-client.crt",
        key: "/srv/dayu/pki/buildx-client.key",
        servername: host,
      },
    });
    // The entry lives on the machine that runs Pulumi: a local provider, no Docker daemon needed.
    const local = ofName(`${name}-buildx`, "pulumi:providers:docker");
    assert.equal(local.length, 1);
    assert.equal(local[0].inputs.host, undefined);
    assert.equal(local[0].inputs.disableDockerDaemonCheck, "true");
    assert.ok(entry.provider?.includes(`::${name}-buildx::`), entry.provider);
    assert.deepEqual(await typeChain(b.entry as pulumi.Resource), [
      "dayu:estate:BuildxBuilder",
      "docker:index/buildxBuilder:BuildxBuilder",
    ]);
    assert.equal(await promiseOf(b.ready), b.builderName);
  }

  describe("docker-host: the amd64 server and a Jetson", () => {
    const hosts = { amd64: "ssh://dayu@gpu-server", arm64: "ssh://nvidia@jetson-01" };
    const endpoints = { amd64: "tcp://gpu-server:1234", arm64: "tcp://jetson-01:1234" };
    const built: Record<string, BuildxBuilderType> = {};

    before(async () => {
      reset();
      for (const arch of ["amd64", "arm64"] as const) {
        const b = make(`bdh-${arch}`, {
          builderName: `dayu-${arch}`,
          platform: `linux/${arch}`,
          mode: "docker-host",
          endpoint: endpoints[arch],
          dockerHost: hosts[arch],
          image: IMAGE,
          tls: tlsOf(arch),
        });
        built[arch] = b;
        const d = b.daemon as DockerHostBuilder;
        await settle(d.provider, d.volume, d.container, b.entry as pulumi.Resource);
      }
    });

    for (const arch of ["amd64", "arm64"] as const) {
      it(`${arch}: a privileged, pinned BuildKit container with mTLS, its worker pinned to linux/${arch}`, () => {
        const c = unsecret<Record<string, unknown>>(
          one(`bdh-${arch}`, "docker:index/container:Container").inputs,
        );
        assert.deepEqual(c, {
          name: `dayu-${arch}-buildkitd`,
          image: IMAGE,
          privileged: true,
          command: buildkitdArgs(`linux/${arch}`, 1234),
          uploads: [
            { file: "/etc/buildkit/tls/ca.pem", content: CA },
            { file: "/etc/buildkit/tls/cert.pem", content: certOf(arch) },
            { file: "/etc/buildkit/tls/key.pem", content: keyOf(arch) },
          ],
          volumes: [
            { volumeName: `dayu-${arch}-buildkit-state`, containerPath: "/var/lib/buildkit" },
          ],
          ports: [{ internal: 1234, external: 1234 }],
          restart: "unless-stopped",
          healthcheck: {
            tests: ["CMD", ...buildkitHealthCommand()],
            interval: "15s",
            timeout: "5s",
            retries: 3,
            startPeriod: "10s",
          },
          wait: true,
          waitTimeout: 120,
          mustRun: true,
        });
        assert.ok(
          (c.command as string[]).join(" ").includes(`--oci-worker-platform linux/${arch}`),
        );
      });

      it(`${arch}: uploads the daemon's key as a secret`, () => {
        const c = one(`bdh-${arch}`, "docker:index/container:Container").inputs;
        assert.ok(isSecretValue(c.uploads));
        assert.ok(!isSecretValue(c.command));
      });

      it(`${arch}: registers the buildx remote entry`, async () => {
        await assertEntry(built[arch], `bdh-${arch}`, endpoints[arch]);
      });
    }

    it("has one provider per host, used by that host's container and volume", async () => {
      const remote = registrations.filter(
        (r) => r.type === "pulumi:providers:docker" && r.inputs.host !== undefined,
      );
      assert.deepEqual(remote.map((r) => r.inputs.host).sort(), [hosts.amd64, hosts.arm64]);
      for (const arch of ["amd64", "arm64"] as const) {
        const d = built[arch].daemon as DockerHostBuilder;
        const ref = await providerRef(d.provider);
        assert.equal(one(`bdh-${arch}`, "docker:index/container:Container").provider, ref);
        assert.equal(one(`bdh-${arch}`, "docker:index/volume:Volume").provider, ref);
      }
    });

    it("nests the daemon under the façade and the container under the daemon", async () => {
      const d = built.arm64.daemon as DockerHostBuilder;
      assert.deepEqual(await typeChain(d), [
        "dayu:estate:BuildxBuilder",
        "dayu:estate:DockerHostBuilder",
      ]);
      assert.deepEqual(await typeChain(d.container), [
        "dayu:estate:DockerHostBuilder",
        "docker:index/container:Container",
      ]);
    });
  });

  describe("kubernetes: one Deployment per architecture", () => {
    const built: Record<string, BuildxBuilderType> = {};
    const endpointOf = (arch: string) => `tcp://buildkit-${arch}.dayu.example:1234`;

    before(async () => {
      reset();
      for (const arch of ["amd64", "arm64"] as const) {
        const b = make(`bk8s-${arch}`, {
          builderName: `dayu-${arch}`,
          platform: `linux/${arch}`,
          mode: "kubernetes",
          endpoint: endpointOf(arch),
          image: IMAGE,
          namespace: `buildkit-${arch}`,
          serviceType: "LoadBalancer",
          allowFrom: { cidrs: ["10.20.0.0/24"] },
          tls: tlsOf(arch),
        });
        built[arch] = b;
        const d = b.daemon as KubernetesBuilder;
        await settle(
          d.namespace,
          d.tlsSecret,
          d.deployment,
          d.service,
          d.networkPolicy,
          b.entry as pulumi.Resource,
        );
      }
    });

    for (const arch of ["amd64", "arm64"] as const) {
      it(`${arch}: a namespace and a Secret holding the daemon's mTLS files, as a secret`, () => {
        const ns = one(`bk8s-${arch}`, "kubernetes:core/v1:Namespace").inputs;
        assert.deepEqual(ns.metadata, { name: `buildkit-${arch}` });
        const secret = one(`bk8s-${arch}`, "kubernetes:core/v1:Secret").inputs;
        assert.equal(secret.type, "Opaque");
        assert.ok(isSecretValue(secret.stringData));
        assert.deepEqual(unsecret(secret.stringData), {
          "ca.pem": CA,
          "cert.pem": certOf(arch),
          "key.pem": keyOf(arch),
        });
      });

      it(`${arch}: a privileged pinned daemon on ${arch} nodes, worker pinned, mTLS, probes`, () => {
        const d = one(`bk8s-${arch}`, "kubernetes:apps/v1:Deployment").inputs as {
          metadata: Record<string, unknown>;
          spec: {
            replicas: number;
            template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } };
          };
        };
        assert.equal(d.metadata.namespace, `buildkit-${arch}`);
        assert.equal(d.spec.replicas, 1);
        const pod = d.spec.template.spec;
        assert.deepEqual(pod.nodeSelector, {
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": arch,
        });
        const probe = {
          exec: { command: buildkitHealthCommand() },
          periodSeconds: 15,
          timeoutSeconds: 5,
          failureThreshold: 3,
        };
        assert.deepEqual(pod.containers, [
          {
            name: "buildkitd",
            image: IMAGE,
            args: buildkitdArgs(`linux/${arch}`, 1234),
            securityContext: { privileged: true },
            ports: [{ name: "buildkitd", containerPort: 1234 }],
            readinessProbe: { ...probe, initialDelaySeconds: 5 },
            livenessProbe: { ...probe, initialDelaySeconds: 30 },
            volumeMounts: [
              { name: "tls", mountPath: "/etc/buildkit/tls", readOnly: true },
              { name: "state", mountPath: "/var/lib/buildkit" },
            ],
          },
        ]);
        assert.deepEqual(pod.volumes, [
          { name: "tls", secret: { secretName: `dayu-${arch}-buildkitd-tls`, optional: false } },
          { name: "state", emptyDir: {} },
        ]);
      });

      it(`${arch}: a NetworkPolicy admitting only the runner on the daemon's port`, () => {
        const np = one(`bk8s-${arch}`, "kubernetes:networking.k8s.io/v1:NetworkPolicy").inputs as {
          metadata: Record<string, unknown>;
          spec: Record<string, unknown>;
        };
        assert.equal(np.metadata.namespace, `buildkit-${arch}`);
        assert.deepEqual(np.spec, {
          podSelector: {
            matchLabels: {
              "app.kubernetes.io/name": "buildkitd",
              "dayu.dev/builder": `dayu-${arch}`,
            },
          },
          policyTypes: ["Ingress"],
          ingress: [
            {
              from: [{ ipBlock: { cidr: "10.20.0.0/24" } }],
              ports: [{ protocol: "TCP", port: 1234 }],
            },
          ],
        });
      });

      it(`${arch}: a Service exposing the daemon's port`, () => {
        const svc = one(`bk8s-${arch}`, "kubernetes:core/v1:Service").inputs as {
          spec: Record<string, unknown>;
        };
        assert.deepEqual(svc.spec, {
          type: "LoadBalancer",
          selector: { "app.kubernetes.io/name": "buildkitd", "dayu.dev/builder": `dayu-${arch}` },
          ports: [{ name: "buildkitd", port: 1234, targetPort: 1234 }],
        });
      });

      it(`${arch}: registers the buildx remote entry`, async () => {
        await assertEntry(built[arch], `bk8s-${arch}`, endpointOf(arch));
      });
    }

    it("defaults the daemon's Service to ClusterIP", async () => {
      const b = make("bk8s-default", {
        builderName: "dayu-riscv",
        platform: "linux/riscv64",
        mode: "kubernetes",
        endpoint: "tcp://buildkit-riscv.dayu.example:1234",
        image: IMAGE,
        tls: tlsOf("amd64"),
      });
      const d = b.daemon as KubernetesBuilder;
      await settle(d.service, d.networkPolicy);
      const svc = one("bk8s-default", "kubernetes:core/v1:Service").inputs as {
        spec: { type: string };
      };
      assert.equal(svc.spec.type, "ClusterIP");
      const np = one("bk8s-default", "kubernetes:networking.k8s.io/v1:NetworkPolicy").inputs as {
        spec: { ingress: unknown[] };
      };
      assert.deepEqual(np.spec.ingress, [], "no runner given: the policy admits nobody");
    });

    it("nests the daemon under the façade", async () => {
      const d = built.arm64.daemon as KubernetesBuilder;
      assert.deepEqual(await typeChain(d), [
        "dayu:estate:BuildxBuilder",
        "dayu:estate:KubernetesBuilder",
      ]);
      assert.deepEqual(await typeChain(d.deployment), [
        "dayu:estate:KubernetesBuilder",
        "kubernetes:apps/v1:Deployment",
      ]);
    });

    it("uses an explicit provider for a kube context", async () => {
      const b = make("bkctx", {
        builderName: "dayu-edge",
        platform: "linux/arm64",
        mode: "kubernetes",
        endpoint: "tcp://buildkit-edge:1234",
        image: IMAGE,
        kubeContext: "edge-cluster",
        tls: tlsOf("arm64"),
      });
      const d = b.daemon as KubernetesBuilder;
      await settle(d.deployment, d.service);
      assert.equal(one("bkctx", "pulumi:providers:kubernetes").inputs.context, "edge-cluster");
      const ref = await providerRef(d.provider as pulumi.ProviderResource);
      assert.equal(one("bkctx", "kubernetes:apps/v1:Deployment").provider, ref);
      // Default namespace: one per builder.
      assert.deepEqual(one("bkctx", "kubernetes:core/v1:Namespace").inputs.metadata, {
        name: "buildkit-dayu-edge",
      });
    });
  });

  describe("external and refusals", () => {
    beforeEach(() => reset());

    it("external: references the existing builder and declares nothing", async () => {
      const b = make("bext", {
        builderName: "dayu-amd64",
        platform: "linux/amd64",
        endpoint: "tcp://127.0.0.1:9101",
      });
      assert.equal(b.daemon, undefined);
      assert.equal(b.entry, undefined);
      assert.equal(await promiseOf(b.ready), "dayu-amd64");
      assert.equal(await promiseOf(b.endpoint), "tcp://127.0.0.1:9101");
      await settle(b);
      assert.deepEqual(
        under("bext").map((r) => r.type),
        ["dayu:estate:BuildxBuilder"],
      );
    });

    it("refuses a daemon without mTLS, image, host or a tcp://host:port endpoint", () => {
      const base: BuildxBuilderArgs = {
        builderName: "dayu-arm64",
        platform: "linux/arm64",
        mode: "docker-host",
        endpoint: "tcp://jetson-01:1234",
        dockerHost: "ssh://nvidia@jetson-01",
        image: IMAGE,
        tls: tlsOf("arm64"),
      };
      assert.throws(
        () => make("bno-tls", { ...base, tls: undefined }),
        /builder "dayu-arm64" \(docker-host\): tls is required/,
      );
      assert.throws(() => make("bno-image", { ...base, image: undefined }), /image is required/);
      assert.throws(
        () => make("bno-host", { ...base, dockerHost: undefined }),
        /dockerHost is required/,
      );
      assert.throws(
        () => make("bbad-endpoint", { ...base, endpoint: "ssh://nvidia@jetson-01" }),
        /endpoint must be tcp:\/\/host:port/,
      );
      assert.throws(
        () => make("bbad-platform", { ...base, platform: "arm64" }),
        /"arm64" is not os\/arch\[\/variant\]/,
      );
    });
  });
});
