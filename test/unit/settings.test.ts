/**
 * Stack settings of the registry and builder modes, without Pulumi: each mode's happy path, then one
 * mutation per refusal, each expected to name the key and the stack file. Also the certificate files
 * the modes read (estate/backends.ts loadModeFiles), on an in-memory file system.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { loadModeFiles } from "../../estate/backends";
import { memoryFiles } from "../../estate/files";
import { stackKey } from "../../estate/problems";
import {
  ConfigError,
  DEFAULT_BUILDKIT_IMAGE,
  DEFAULT_REGISTRY_IMAGE,
  EstateSettings,
  editDistance,
  fromConfigText,
  parseSettings,
  parseStackConfig,
  projectConfigBlock,
  settingsFromStackFile,
  stackFileSchema,
  unknownKeyMessage,
} from "../../estate/settings";
import { PreflightError, checkBuilders } from "../../lib/preflight";
import { withConfigBlock } from "../../scripts/plan";
import { asRunError, runError } from "../../config";
import * as pulumi from "@pulumi/pulumi";

type Config = Record<string, unknown>;
type Mode = "external" | "docker-host" | "kubernetes" | "ecr";

const daemonTls = (arch: string) => ({
  caFile: "pki/ca.crt",
  certFile: `pki/buildkitd-${arch}.crt`,
  keySecret: `buildkitd${arch === "amd64" ? "Amd64" : "Arm64"}Key`,
  clientCertFile: "pki/buildx-client.crt",
  clientKeyFile: "pki/buildx-client.key",
});

const registries: Record<Mode, Config> = {
  external: {
    mode: "external",
    address: "registry.dayu.example:5000",
    username: "dayu",
    caFile: "pki/ca.crt",
  },
  "docker-host": {
    mode: "docker-host",
    address: "registry.dayu.example:5000",
    username: "dayu",
    caFile: "pki/ca.crt",
    dockerHost: { host: "ssh://dayu@gpu-server", tlsCertFile: "pki/registry.crt" },
  },
  kubernetes: {
    mode: "kubernetes",
    address: "registry.dayu.example:5000",
    username: "dayu",
    kubernetes: {
      tlsCertFile: "pki/registry.crt",
      pullSecretNamespaces: ["dayu"],
      pullUsername: "dayu-pull",
    },
  },
  ecr: { mode: "ecr", ecr: { region: "eu-central-1", accountId: "123456789012" } },
};

/** Builders that fit each registry mode: the amd64 server and a Jetson. */
const buildersFor = (mode: Mode): Config[] => {
  if (mode === "docker-host") {
    return [
      {
        name: "dayu-amd64",
        platform: "linux/amd64",
        mode: "docker-host",
        endpoint: "tcp://gpu-server:1234",
        dockerHost: "ssh://dayu@gpu-server",
        tls: daemonTls("amd64"),
      },
      {
        name: "dayu-arm64",
        platform: "linux/arm64",
        mode: "docker-host",
        endpoint: "tcp://jetson-01:1234",
        dockerHost: "ssh://nvidia@jetson-01",
        tls: daemonTls("arm64"),
      },
    ];
  }
  if (mode === "kubernetes") {
    return ["amd64", "arm64"].map((arch) => ({
      name: `dayu-${arch}`,
      platform: `linux/${arch}`,
      mode: "kubernetes",
      endpoint: `tcp://buildkit-${arch}.dayu.example:1234`,
      allowFrom: { cidrs: ["10.20.0.0/24"] },
      tls: daemonTls(arch),
    }));
  }
  return ["amd64", "arm64"].map((arch) => ({
    name: `dayu-${arch}`,
    platform: `linux/${arch}`,
    endpoint: `tcp://buildkit-${arch}.dayu.example:1234`,
    tls: { caFile: "pki/ca.crt", certFile: "pki/client.crt", keySecret: `client${arch}Key` },
  }));
};

/** A valid prod stack for a mode; `change` mutates one thing. */
function stack(mode: Mode, change: (c: Config) => void = () => undefined): Config {
  const c: Config = structuredClone({
    environment: "prod",
    release: "v1.3",
    registry: registries[mode],
    builders: buildersFor(mode),
  });
  change(c);
  return c;
}

const parse = (c: Config, name = "prod"): EstateSettings => parseSettings((k) => c[k], name);
const reg = (c: Config) => c.registry as Config;
const sub = (c: Config, key: string) => reg(c)[key] as Config;
const builder = (c: Config, i: number) => (c.builders as Config[])[i];

/** Asserts that parsing fails with a message that names `key` and the stack file. */
function refused(c: Config, key: string, why: RegExp, stackName = "prod"): void {
  assert.throws(
    () => parse(c, stackName),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      const line = err.message.split("\n").find((l) => l.includes(`dayu-estate:${key} in`));
      assert.ok(line, `no problem names ${key}:\n${err.message}`);
      assert.ok(line.includes(`in Pulumi.${stackName}.yaml:`), line);
      assert.match(line, why);
      return true;
    },
  );
}

describe("stack settings of the registry and builder modes", () => {
  describe("happy paths", () => {
    it("docker-host: registry container and BuildKit daemons on Docker hosts, with defaults", () => {
      const s = parse(stack("docker-host"));
      assert.equal(s.registry.mode, "docker-host");
      assert.deepEqual(s.registry.dockerHost, {
        host: "ssh://dayu@gpu-server",
        port: 5000,
        image: DEFAULT_REGISTRY_IMAGE,
        volume: "dayu-registry-data",
        tlsCertFile: "pki/registry.crt",
      });
      assert.equal(s.builders.length, 2);
      assert.deepEqual(s.builders[1], {
        name: "dayu-arm64",
        platform: "linux/arm64",
        mode: "docker-host",
        endpoint: "tcp://jetson-01:1234",
        tls: daemonTls("arm64"),
        dockerHost: "ssh://nvidia@jetson-01",
        namespace: undefined,
        image: DEFAULT_BUILDKIT_IMAGE,
        serviceType: undefined,
        allowFrom: undefined,
        kubeContext: undefined,
      });
    });

    it("kubernetes: registry and per-arch daemons in a cluster, each with its own namespace", () => {
      const s = parse(stack("kubernetes"));
      assert.deepEqual(s.registry.kubernetes, {
        namespace: "dayu-registry",
        storageSize: "100Gi",
        storageClass: undefined,
        image: DEFAULT_REGISTRY_IMAGE,
        tlsCertFile: "pki/registry.crt",
        pullSecretNamespaces: ["dayu"],
        pullUsername: "dayu-pull",
        pullPort: 5002,
        serviceType: "LoadBalancer",
        kubeContext: undefined,
      });
      assert.deepEqual(
        s.builders.map((b) => [b.namespace, b.serviceType, b.image]),
        [
          ["buildkit-dayu-amd64", "ClusterIP", DEFAULT_BUILDKIT_IMAGE],
          ["buildkit-dayu-arm64", "ClusterIP", DEFAULT_BUILDKIT_IMAGE],
        ],
      );
    });

    it("ecr: the address is derived from account and region; no username", () => {
      const s = parse(stack("ecr"));
      assert.equal(s.registry.address, "123456789012.dkr.ecr.eu-central-1.amazonaws.com");
      assert.deepEqual(s.registry.ecr, {
        region: "eu-central-1",
        accountId: "123456789012",
        expireTemporaryAfterDays: 14,
      });
      assert.equal(s.registry.username, undefined);
      assert.equal(s.builders[0].mode, "external");
      assert.equal(s.builders[0].image, undefined);
    });

    it("external: a dev stack may use a registry without auth and plain HTTP", () => {
      const s = parse(
        stack("external", (c) => {
          c.environment = "dev";
          delete reg(c).username;
          reg(c).insecure = true;
          c.builders = [
            { name: "local", platform: "linux/amd64", endpoint: "tcp://127.0.0.1:1234" },
          ];
        }),
        "dev",
      );
      assert.equal(s.registry.insecure, true);
      assert.equal(s.registry.username, undefined);
    });
  });

  describe("refusals", () => {
    it("no auth on a non-dev stack", () => {
      refused(
        stack("external", (c) => delete reg(c).username),
        "registry.username",
        /required on a prod stack: the registry must use authentication/,
      );
    });

    it("no auth for a registry the program runs, even on dev", () => {
      for (const mode of ["docker-host", "kubernetes"] as const) {
        refused(
          stack(mode, (c) => {
            c.environment = "dev";
            delete reg(c).username;
          }),
          "registry.username",
          new RegExp(`required in ${mode} mode: .*always uses authentication`),
          "dev",
        );
      }
    });

    it("a username in ecr mode (ECR hands out its own)", () => {
      refused(
        stack("ecr", (c) => (reg(c).username = "AWS")),
        "registry.username",
        /not used in ecr mode/,
      );
    });

    it("plain HTTP on a non-dev stack", () => {
      refused(
        stack("external", (c) => (reg(c).insecure = true)),
        "registry.insecure",
        /plain HTTP is refused on a prod stack/,
      );
    });

    it("plain HTTP for a registry the program runs or ECR, even on dev", () => {
      for (const mode of ["docker-host", "kubernetes", "ecr"] as const) {
        refused(
          stack(mode, (c) => {
            c.environment = "dev";
            reg(c).insecure = true;
          }),
          "registry.insecure",
          /always served over HTTPS/,
          "dev",
        );
      }
    });

    it("a registry without its TLS certificate", () => {
      refused(
        stack("docker-host", (c) => delete sub(c, "dockerHost").tlsCertFile),
        "registry.dockerHost.tlsCertFile",
        /is required/,
      );
      refused(
        stack("kubernetes", (c) => delete sub(c, "kubernetes").tlsCertFile),
        "registry.kubernetes.tlsCertFile",
        /is required/,
      );
    });

    it("unpinned registry and BuildKit images", () => {
      for (const image of ["registry", "registry:latest", "registry.example:5000/registry"]) {
        refused(
          stack("docker-host", (c) => (sub(c, "dockerHost").image = image)),
          "registry.dockerHost.image",
          /must be pinned to a version or digest/,
        );
      }
      refused(
        stack("kubernetes", (c) => (sub(c, "kubernetes").image = "registry:latest")),
        "registry.kubernetes.image",
        /must be pinned/,
      );
      refused(
        stack("docker-host", (c) => (builder(c, 1).image = "moby/buildkit")),
        "builders[1].image",
        /must be pinned/,
      );
      refused(
        stack("kubernetes", (c) => (builder(c, 0).image = "moby/buildkit:latest")),
        "builders[0].image",
        /must be pinned/,
      );
    });

    it("non-dev: registry and BuildKit images pinned by tag only (the defaults are by digest)", () => {
      assert.match(DEFAULT_REGISTRY_IMAGE, /^registry:3\.0\.0@sha256:[0-9a-f]{64}$/);
      assert.match(DEFAULT_BUILDKIT_IMAGE, /^moby\/buildkit:v0\.31\.0@sha256:[0-9a-f]{64}$/);
      refused(
        stack("docker-host", (c) => (sub(c, "dockerHost").image = "registry:3.0.0")),
        "registry.dockerHost.image",
        /"registry:3\.0\.0" must be pinned by digest on a prod stack/,
      );
      refused(
        stack("kubernetes", (c) => (sub(c, "kubernetes").image = "registry:3.0.0")),
        "registry.kubernetes.image",
        /must be pinned by digest on a prod stack/,
      );
      refused(
        stack("kubernetes", (c) => (builder(c, 1).image = "moby/buildkit:v0.31.0")),
        "builders[1].image",
        /must be pinned by digest on a prod stack/,
      );
      refused(
        stack("docker-host", (c) => {
          c.environment = "staging";
          builder(c, 0).image = "moby/buildkit:v0.31.0";
        }),
        "builders[0].image",
        /pinned by digest on a staging stack/,
        "staging",
      );
      // dev keeps accepting a version tag.
      const dev = parse(
        stack("docker-host", (c) => {
          c.environment = "dev";
          sub(c, "dockerHost").image = "registry:3.0.0";
        }),
        "dev",
      );
      assert.equal(dev.registry.dockerHost?.image, "registry:3.0.0");
    });

    it("non-dev: a plain tcp:// Docker host (ssh only)", () => {
      refused(
        stack("docker-host", (c) => (sub(c, "dockerHost").host = "tcp://gpu-server:2375")),
        "registry.dockerHost.host",
        /plain-TCP Docker API; a prod stack reaches Docker hosts over ssh only/,
      );
      refused(
        stack("docker-host", (c) => (builder(c, 1).dockerHost = "tcp://jetson-01:2375")),
        "builders[1].dockerHost",
        /plain-TCP Docker API/,
      );
      const dev = parse(
        stack("docker-host", (c) => {
          c.environment = "dev";
          builder(c, 1).dockerHost = "tcp://jetson-01:2375";
        }),
        "dev",
      );
      assert.equal(dev.builders[1].dockerHost, "tcp://jetson-01:2375");
    });

    it("pull Secrets without a read-only pull identity of their own", () => {
      refused(
        stack("kubernetes", (c) => delete sub(c, "kubernetes").pullUsername),
        "registry.kubernetes.pullUsername",
        /required with pullSecretNamespaces: .*never the push-and-delete user/,
      );
      refused(
        stack("kubernetes", (c) => (sub(c, "kubernetes").pullUsername = "dayu")),
        "registry.kubernetes.pullUsername",
        /must differ from registry.username \("dayu"\): that user can push and delete/,
      );
      refused(
        stack("kubernetes", (c) => (sub(c, "kubernetes").pullPort = 5000)),
        "registry.kubernetes.pullPort",
        /registry's own port/,
      );
      // No pull Secrets: no pull identity needed.
      const s = parse(
        stack("kubernetes", (c) => {
          delete sub(c, "kubernetes").pullUsername;
          sub(c, "kubernetes").pullSecretNamespaces = [];
        }),
      );
      assert.equal(s.registry.kubernetes?.pullUsername, undefined);
    });

    it("a kubernetes builder without the runner its NetworkPolicy admits", () => {
      refused(
        stack("kubernetes", (c) => delete builder(c, 0).allowFrom),
        "builders[0].allowFrom",
        /required in kubernetes mode: the daemon's NetworkPolicy admits only the Pulumi runner/,
      );
      refused(
        stack("kubernetes", (c) => (builder(c, 1).allowFrom = { cidrs: [] })),
        "builders[1].allowFrom",
        /required in kubernetes mode/,
      );
      refused(
        stack("kubernetes", (c) => (builder(c, 1).allowFrom = { cidrs: ["10.20.0.0"] })),
        "builders[1].allowFrom.cidrs",
        /must be a list of CIDR ranges/,
      );
      refused(
        stack("docker-host", (c) => (builder(c, 0).allowFrom = { cidrs: ["10.0.0.0/8"] })),
        "builders[0].allowFrom",
        /only read in kubernetes mode/,
      );
      const s = parse(
        stack("kubernetes", (c) => (builder(c, 0).allowFrom = { podSelector: { app: "runner" } })),
      );
      assert.deepEqual(s.builders[0].allowFrom?.podSelector, { app: "runner" });
    });

    it("a plain-TCP builder without mTLS on a non-dev stack", () => {
      refused(
        stack("ecr", (c) => delete builder(c, 0).tls),
        "builders[0].tls",
        /plain TCP; a prod stack requires mTLS/,
      );
    });

    it("a daemon the program runs without mTLS, even on dev", () => {
      for (const mode of ["docker-host", "kubernetes"] as const) {
        refused(
          stack(mode, (c) => {
            c.environment = "dev";
            delete builder(c, 1).tls;
          }),
          "builders[1].tls",
          new RegExp(`required in ${mode} mode: the BuildKit daemon .* only listens with mTLS`),
          "dev",
        );
      }
      refused(
        stack("docker-host", (c) => delete (builder(c, 0).tls as Config).clientKeyFile),
        "builders[0].tls.clientKeyFile",
        /is required/,
      );
    });

    it("a daemon endpoint that is not tcp://host:port", () => {
      refused(
        stack("docker-host", (c) => (builder(c, 0).endpoint = "tcp://gpu-server")),
        "builders[0].endpoint",
        /must be tcp:\/\/host:port in docker-host mode/,
      );
      refused(
        stack("kubernetes", (c) => (builder(c, 1).endpoint = "kube-pod://buildkit")),
        "builders[1].endpoint",
        /must be tcp:\/\/host:port in kubernetes mode/,
      );
    });

    it("unknown keys, at every level", () => {
      refused(
        stack("docker-host", (c) => (sub(c, "dockerHost").hots = "ssh://x")),
        "registry.dockerHost.hots",
        /is not a known key/,
      );
      refused(
        stack("kubernetes", (c) => (sub(c, "kubernetes").replicas = 2)),
        "registry.kubernetes.replicas",
        /is not a known key/,
      );
      refused(
        stack("ecr", (c) => (sub(c, "ecr").immutable = true)),
        "registry.ecr.immutable",
        /is not a known key/,
      );
      refused(
        stack("docker-host", (c) => ((builder(c, 0).tls as Config).keyFile = "pki/key.pem")),
        "builders[0].tls.keyFile",
        /is not a known key/,
      );
      refused(
        stack("external", (c) => (builder(c, 0).privileged = true)),
        "builders[0].privileged",
        /is not a known key/,
      );
    });

    it("settings of another mode", () => {
      refused(
        stack("docker-host", (c) => (reg(c).kubernetes = { tlsCertFile: "x.crt" })),
        "registry.kubernetes",
        /only read in kubernetes mode \(registry.mode is "docker-host"\)/,
      );
      refused(
        stack("docker-host", (c) => (builder(c, 0).namespace = "buildkit")),
        "builders[0].namespace",
        /only read in kubernetes mode/,
      );
      refused(
        stack("kubernetes", (c) => (builder(c, 0).dockerHost = "ssh://x@y")),
        "builders[0].dockerHost",
        /only read in docker-host mode/,
      );
      refused(
        stack("ecr", (c) => (builder(c, 0).image = "moby/buildkit:v0.31.0")),
        "builders[0].image",
        /only read in docker-host and kubernetes modes/,
      );
      refused(
        stack("ecr", (c) => ((builder(c, 0).tls as Config).clientCertFile = "pki/c.crt")),
        "builders[0].tls",
        /only read in docker-host and kubernetes modes/,
      );
    });

    it("a bad platform", () => {
      for (const platform of ["linux-arm64", "linux/ARM64", "arm64"]) {
        refused(
          stack("docker-host", (c) => (builder(c, 1).platform = platform)),
          "builders[1].platform",
          /is not os\/arch\[\/variant\]/,
        );
      }
    });

    it("a docker-host builder without its host, or with a host that is no Docker URL", () => {
      refused(
        stack("docker-host", (c) => delete builder(c, 1).dockerHost),
        "builders[1].dockerHost",
        /is required in docker-host mode/,
      );
      refused(
        stack("docker-host", (c) => (builder(c, 1).dockerHost = "jetson-01")),
        "builders[1].dockerHost",
        /must be a Docker host URL/,
      );
    });

    it("bad ECR coordinates", () => {
      refused(
        stack("ecr", (c) => (sub(c, "ecr").accountId = "1234")),
        "registry.ecr.accountId",
        /12-digit/,
      );
      refused(
        stack("ecr", (c) => (sub(c, "ecr").region = "Frankfurt")),
        "registry.ecr.region",
        /not an AWS region/,
      );
      refused(
        stack("ecr", (c) => (sub(c, "ecr").expireTemporaryAfterDays = 0)),
        "registry.ecr.expireTemporaryAfterDays",
        /whole number of days/,
      );
      refused(
        stack("ecr", (c) => (reg(c).address = "registry.dayu.example")),
        "registry.address",
        /derived from registry.ecr/,
      );
    });

    it("bad Kubernetes names and sizes, and a namespace two components would create", () => {
      refused(
        stack("kubernetes", (c) => (sub(c, "kubernetes").namespace = "Dayu_Registry")),
        "registry.kubernetes.namespace",
        /not a namespace name/,
      );
      refused(
        stack("kubernetes", (c) => (sub(c, "kubernetes").storageSize = "lots")),
        "registry.kubernetes.storageSize",
        /not a quantity/,
      );
      refused(
        stack("kubernetes", (c) => (sub(c, "kubernetes").pullSecretNamespaces = ["dayu", 3])),
        "registry.kubernetes.pullSecretNamespaces",
        /list of namespace names/,
      );
      refused(
        stack("kubernetes", (c) => {
          builder(c, 0).namespace = "buildkit";
          builder(c, 1).namespace = "buildkit";
        }),
        "builders[1].namespace",
        /already created by builders\[0\]/,
      );
      refused(
        stack("kubernetes", (c) => (builder(c, 0).namespace = "dayu-registry")),
        "builders[0].namespace",
        /already created by registry.kubernetes/,
      );
    });

    it("reports every problem at once", () => {
      assert.throws(
        () =>
          parse(
            stack("docker-host", (c) => {
              delete reg(c).username;
              builder(c, 0).platform = "amd64";
            }),
          ),
        (err: Error) =>
          /registry\.username/.test(err.message) && /builders\[0\]\.platform/.test(err.message),
      );
    });
  });
});

describe("the example production stacks", () => {
  const ROOT = path.resolve(__dirname, "../..");
  const load = (name: string) => {
    const file = path.join(ROOT, `Pulumi.${name}.yaml`);
    const config = parseYaml(fs.readFileSync(file, "utf8")).config as Record<string, unknown>;
    assert.ok(
      !Object.values(config).some((v) => typeof v === "object" && v !== null && "secure" in v),
      "an example stack holds no secret value",
    );
    return parseSettings((k) => config[`dayu-estate:${k}`], name);
  };

  for (const [name, registryMode, builderMode] of [
    ["prod-docker-host", "docker-host", "docker-host"],
    ["prod-kubernetes", "kubernetes", "kubernetes"],
    ["prod-ecr", "ecr", "docker-host"],
  ] as const) {
    it(`Pulumi.${name}.yaml is a valid prod stack: ${registryMode} registry, ${builderMode} builders`, () => {
      const s = load(name);
      assert.equal(s.environment, "prod");
      assert.equal(s.registry.mode, registryMode);
      assert.deepEqual(
        s.builders.map((b) => [b.platform, b.mode]),
        [
          ["linux/amd64", builderMode],
          ["linux/arm64", builderMode],
        ],
      );
      assert.ok(s.builders.every((b) => b.tls?.clientKeyFile && b.tls.keySecret));
    });
  }
});

describe("certificate files of the modes", () => {
  const CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  const KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
  const all = {
    "/p/pki/ca.crt": CERT,
    "/p/pki/registry.crt": CERT,
    "/p/pki/buildkitd-amd64.crt": CERT,
    "/p/pki/buildkitd-arm64.crt": CERT,
    "/p/pki/buildx-client.crt": CERT,
    "/p/pki/buildx-client.key": KEY,
  };

  it("reads the certificates, and only the paths of the client key", () => {
    const files = loadModeFiles(parse(stack("docker-host")), "/p", memoryFiles(all));
    assert.equal(files.registryTlsCert, CERT);
    assert.deepEqual(files.builders["dayu-arm64"], {
      caCert: CERT,
      cert: CERT,
      caFile: "/p/pki/ca.crt",
      clientCertFile: "/p/pki/buildx-client.crt",
      clientKeyFile: "/p/pki/buildx-client.key",
    });
  });

  it("reads nothing for external builders and ECR", () => {
    const files = loadModeFiles(parse(stack("ecr")), "/p", memoryFiles({}));
    assert.deepEqual(files, { builders: {} });
  });

  it("names the key of a missing file, a non-certificate and a private key in a certificate file", () => {
    const rest = Object.fromEntries(
      Object.entries(all).filter(([file]) => file !== "/p/pki/registry.crt"),
    );
    const bad = memoryFiles({
      ...rest,
      "/p/pki/ca.crt": "not a pem",
      "/p/pki/buildkitd-arm64.crt": CERT + KEY,
    });
    assert.throws(
      () => loadModeFiles(parse(stack("docker-host")), "/p", bad),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const m = err.message;
        assert.match(
          m,
          /dayu-estate:registry\.dockerHost\.tlsCertFile in Pulumi\.prod\.yaml: \/p\/pki\/registry\.crt does not exist/,
        );
        assert.match(
          m,
          /dayu-estate:builders\[0\]\.tls\.caFile in Pulumi\.prod\.yaml: .* is not a PEM certificate/,
        );
        assert.match(
          m,
          /dayu-estate:builders\[1\]\.tls\.certFile in Pulumi\.prod\.yaml: .* holds a private key/,
        );
        return true;
      },
    );
  });
});

describe("one declaration per setting", () => {
  const ROOT = path.resolve(__dirname, "../..");
  /** A valid prod stack as the Pulumi CLI passes it to the program: every value as text. */
  const asText = (c: Config): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(c).map(([k, v]) => [
        k,
        fromConfigText(k, typeof v === "string" ? v : JSON.stringify(v)),
      ]),
    );
  /** The problem lines of a refused config. */
  const problemsOf = (f: () => unknown): string[] => {
    try {
      f();
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.problems;
    }
    assert.fail("the config was accepted");
  };

  it("refuses a typo in a key, naming the nearest known key, at every level", () => {
    const cases: [Config, string, string][] = [
      [{ ...stack("external"), protectRelease: true }, "protectRelease", "protectReleases"],
      [{ ...stack("external"), buildOnPreveiw: true }, "buildOnPreveiw", "buildOnPreview"],
      [{ ...stack("external"), registryPasword: "x" }, "registryPasword", "registryPassword"],
      [
        stack("docker-host", (c) => (sub(c, "dockerHost").hots = "ssh://x")),
        "registry.dockerHost.hots",
        "host",
      ],
      [
        stack("external", (c) => (builder(c, 0).endpiont = "tcp://x:1")),
        "builders[0].endpiont",
        "endpoint",
      ],
    ];
    for (const [c, key, nearest] of cases) {
      const line = problemsOf(() => parseStackConfig(c, "prod")).find((p) =>
        p.startsWith(`dayu-estate:${key} in Pulumi.prod.yaml:`),
      );
      assert.ok(line, `no problem names ${key}`);
      assert.match(line, new RegExp(`is not a known key; did you mean \`${nearest}\`\\?`));
    }
    assert.equal(editDistance("buildOnPreveiw", "buildOnPreview"), 2);
    assert.match(unknownKeyMessage("zzz", ["mode", "address"]), /known: mode, address/);
  });

  it("requires environment (a stack without it is not silently dev)", () => {
    const c = stack("external");
    delete c.environment;
    assert.deepEqual(
      problemsOf(() => parseStackConfig(c, "prod")),
      ["dayu-estate:environment in Pulumi.prod.yaml: is required"],
    );
  });

  it("reads text from the CLI by the schema's type: JSON for objects and booleans, text for strings", () => {
    assert.equal(fromConfigText("release", "1.10"), "1.10");
    assert.equal(fromConfigText("release", "v1.3"), "v1.3");
    assert.equal(fromConfigText("registryCache", "false"), false);
    assert.equal(fromConfigText("protectReleases", "auto"), "auto");
    assert.deepEqual(fromConfigText("contexts", '{"a":"b"}'), { a: "b" });
    const s = parseStackConfig(asText({ ...stack("ecr"), release: "1.10", preflight: false }), "p");
    assert.equal(s.release, "1.10");
    assert.equal(s.preflight, false);
  });

  it("refuses values of the wrong type from pulumi config set, naming the key", () => {
    const problems = problemsOf(() =>
      parseStackConfig(
        asText({ ...stack("ecr"), buildOnPreview: "yes", protectReleases: "maybe", builders: "x" }),
        "prod",
      ),
    );
    assert.ok(
      problems.some((p) =>
        /:buildOnPreview in Pulumi.prod.yaml: must be a boolean, got "yes"/.test(p),
      ),
      problems.join("\n"),
    );
    assert.ok(problems.some((p) => /:protectReleases in .*: must be true, false, auto/.test(p)));
    assert.ok(problems.some((p) => /:builders in .*: must be an array/.test(p)));
  });

  it("accepts whole numbers and booleans given as text inside objects (pulumi config set --path)", () => {
    const s = parseStackConfig(
      stack("docker-host", (c) => {
        sub(c, "dockerHost").port = "5443";
        reg(c).insecure = "false";
      }),
      "prod",
    );
    assert.equal(s.registry.dockerHost?.port, 5443);
    assert.equal(s.registry.insecure, false);
  });

  it("refuses a number where text belongs, naming the fix (quote it)", () => {
    const problems = problemsOf(() =>
      parseStackConfig(
        stack("ecr", (c) => (sub(c, "ecr").accountId = 123456789012)),
        "prod",
      ),
    );
    assert.match(
      problems.join("\n"),
      /registry\.ecr\.accountId in Pulumi\.prod\.yaml: must be text, got the number 123456789012: quote it/,
    );
  });

  describe("a stack file read by npm run plan and by the program agree", () => {
    const file = (release: string) =>
      [
        "config:",
        "  dayu-estate:environment: dev",
        `  dayu-estate:release: ${release}`,
        "  dayu-estate:registryPassword:",
        "    secure: AAABAxyz",
        "  dayu-estate:registry:",
        "    address: registry.dayu.test:5443",
        "  dayu-estate:builders:",
        "    - { name: a, platform: linux/amd64 }",
        "  aws:region: eu-central-1",
      ].join("\n");

    it("refuses an unquoted release such as 1.10 (YAML made it 1.1), naming the fix with the digits as written", () => {
      for (const [release, value] of [
        ["1.10", "1.1"],
        ["1.3", "1.3"],
        ["true", "true"],
      ]) {
        const problems = problemsOf(() => settingsFromStackFile(file(release), "dev"));
        assert.equal(problems.length, 1, problems.join("\n"));
        assert.equal(
          problems[0],
          `dayu-estate:release in Pulumi.dev.yaml: must be text, got the ${release === "true" ? "boolean" : "number"} ${value} (YAML reads an unquoted ${release} as that): quote it in the stack file: release: "${release}"`,
        );
      }
    });

    it("accepts a quoted release, skips secrets and other projects' keys", () => {
      const s = settingsFromStackFile(file('"1.10"'), "dev");
      assert.equal(s.release, "1.10");
      assert.equal(s.protectReleases, false);
    });

    it("plans every committed stack file", () => {
      for (const name of ["dev", "prod-docker-host", "prod-kubernetes", "prod-ecr"]) {
        const text = fs.readFileSync(path.join(ROOT, `Pulumi.${name}.yaml`), "utf8");
        assert.equal(settingsFromStackFile(text, name).stack, name);
      }
    });
  });

  it("Pulumi.yaml's config block is the one generated from the schema (npm run plan -- --write-schema)", () => {
    const text = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
    assert.deepEqual(parseYaml(text).config, projectConfigBlock());
    assert.equal(withConfigBlock(text), text);
    // A key without a default is required by the CLI too: exactly the schema's required keys.
    assert.deepEqual(
      Object.entries(projectConfigBlock())
        .filter(([, v]) => !("default" in v))
        .map(([k]) => k),
      ["environment", "release", "registry", "builders"],
    );
  });

  it("stack-config.schema.json is the schema the program validates with", () => {
    const text = fs.readFileSync(path.join(ROOT, "stack-config.schema.json"), "utf8");
    assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(stackFileSchema())));
  });

  it("pre-flight problems name the stack key", async () => {
    await assert.rejects(
      checkBuilders(
        [{ name: "dayu-arm64", platform: "linux/arm64", key: "builders[1]" }],
        async () => "Status: running\nPlatforms: linux/amd64\n",
        "buildx",
        stackKey("dayu-estate", "prod"),
      ),
      (err: unknown) => {
        assert.ok(err instanceof PreflightError);
        assert.deepEqual(err.problems, [
          'dayu-estate:builders[1] in Pulumi.prod.yaml: builder "dayu-arm64" is declared for linux/arm64 but serves linux/amd64',
        ]);
        return true;
      },
    );
  });

  it("turns a user's mistake into a pulumi.RunError (printed without a stack trace); a bug keeps its trace", () => {
    assert.throws(
      () => asRunError(() => parseStackConfig({ ...stack("external"), environment: "qa" }, "prod")),
      (err: unknown) => {
        assert.ok(pulumi.RunError.isInstance(err), String(err));
        assert.equal(
          (err as Error).message,
          'invalid stack config (1 problem):\n  - dayu-estate:environment in Pulumi.prod.yaml: must be dev, staging, prod; got "qa"',
        );
        return true;
      },
    );
    // The SDK prefixes the property name to an error once per resource that carries it.
    const err = runError("pre-flight failed, nothing was built: x");
    err.message = `error serializing property "registry": ${err.message}`;
    assert.equal(err.message, "pre-flight failed, nothing was built: x");
    const bug = new TypeError("x is undefined");
    assert.throws(
      () =>
        asRunError(() => {
          throw bug;
        }),
      (err: unknown) => err === bug,
    );
  });
});
