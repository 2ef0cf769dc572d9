import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  type RunnerPeers,
  BUILDKIT_STATE_DIR,
  BUILDKIT_TLS_DIR,
  BUILDKIT_TLS_FILES,
  buildkitHealthCommand,
  buildkitdArgs,
  builderNetworkPolicySpec,
  nodeSelectorFor,
  probeTiming,
} from "../estate/backends";
import { KUBERNETES_BUILDER_DEFAULTS, type ServiceType } from "../estate/settings";
import { BuildkitDaemonArgs } from "./builderCommon";

/** Arguments of {@link KubernetesBuilder}. */
export interface KubernetesBuilderArgs extends BuildkitDaemonArgs {
  /** Namespace created for this builder. */
  namespace: string;
  /** Type of the Service exposing the daemon. Default `ClusterIP` (reachable inside the cluster). */
  serviceType?: pulumi.Input<ServiceType>;
  /**
   * Who may connect to the daemon (the Pulumi runner): the NetworkPolicy admits only these peers on
   * the daemon's port. Default none: the policy admits nobody (the stack settings require it).
   */
  allowFrom?: RunnerPeers;
  /** kubeconfig context: when set, an explicit provider for it. Default: the ambient provider. */
  kubeContext?: string;
}

/**
 * A BuildKit daemon in Kubernetes for one architecture: a Namespace, a Secret with its mTLS files, a
 * one-replica privileged Deployment pinned to nodes of that architecture (`kubernetes.io/arch`) with
 * its worker pinned to the platform, a Service exposing the TCP port (ClusterIP by default), and a
 * NetworkPolicy admitting only the Pulumi runner on that port.
 */
export class KubernetesBuilder extends pulumi.ComponentResource {
  public static readonly type = "dayu:estate:KubernetesBuilder";

  public readonly provider?: k8s.Provider;
  public readonly namespace: k8s.core.v1.Namespace;
  public readonly tlsSecret: k8s.core.v1.Secret;
  public readonly deployment: k8s.apps.v1.Deployment;
  public readonly service: k8s.core.v1.Service;
  public readonly networkPolicy: k8s.networking.v1.NetworkPolicy;

  constructor(name: string, args: KubernetesBuilderArgs, opts?: pulumi.ComponentResourceOptions) {
    super(KubernetesBuilder.type, name, {}, opts);
    if (args.kubeContext) {
      this.provider = new k8s.Provider(
        `${name}-k8s`,
        { context: args.kubeContext },
        { parent: this },
      );
    }
    const children: pulumi.CustomResourceOptions = { parent: this, provider: this.provider };
    const labels = { "app.kubernetes.io/name": "buildkitd", "dayu.dev/builder": args.builderName };
    const meta = (n: string) => ({ name: n, namespace: args.namespace, labels });

    this.namespace = new k8s.core.v1.Namespace(
      `${name}-ns`,
      { metadata: { name: args.namespace } },
      children,
    );
    const inNs = { ...children, dependsOn: [this.namespace] };
    this.tlsSecret = new k8s.core.v1.Secret(
      `${name}-tls`,
      {
        metadata: meta(`${args.builderName}-buildkitd-tls`),
        type: "Opaque",
        stringData: {
          [BUILDKIT_TLS_FILES.ca]: args.tls.caCert,
          [BUILDKIT_TLS_FILES.cert]: args.tls.cert,
          [BUILDKIT_TLS_FILES.key]: pulumi.secret(args.tls.key),
        },
      },
      inNs,
    );
    const probe = (initialDelaySeconds: number) => ({
      exec: { command: buildkitHealthCommand() },
      ...probeTiming(initialDelaySeconds),
    });
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: meta(`${args.builderName}-buildkitd`),
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              // Native builds only: the pod runs on a node of the architecture it builds for.
              nodeSelector: nodeSelectorFor(args.platform),
              containers: [
                {
                  name: "buildkitd",
                  image: args.image,
                  args: buildkitdArgs(args.platform, args.port),
                  securityContext: { privileged: true },
                  ports: [{ name: "buildkitd", containerPort: args.port }],
                  readinessProbe: probe(5),
                  livenessProbe: probe(30),
                  volumeMounts: [
                    { name: "tls", mountPath: BUILDKIT_TLS_DIR, readOnly: true },
                    { name: "state", mountPath: BUILDKIT_STATE_DIR },
                  ],
                },
              ],
              volumes: [
                {
                  name: "tls",
                  secret: { secretName: this.tlsSecret.metadata.name, optional: false },
                },
                { name: "state", emptyDir: {} },
              ],
            },
          },
        },
      },
      inNs,
    );
    this.service = new k8s.core.v1.Service(
      `${name}-svc`,
      {
        metadata: meta(`${args.builderName}-buildkitd`),
        spec: {
          type: args.serviceType ?? KUBERNETES_BUILDER_DEFAULTS.serviceType,
          selector: labels,
          ports: [{ name: "buildkitd", port: args.port, targetPort: args.port }],
        },
      },
      inNs,
    );
    // mTLS already refuses clients without a certificate; the policy keeps everyone else from even
    // reaching a privileged daemon (a TLS stack bug, a leaked client key used from another pod).
    this.networkPolicy = new k8s.networking.v1.NetworkPolicy(
      `${name}-netpol`,
      {
        metadata: meta(`${args.builderName}-buildkitd`),
        spec: builderNetworkPolicySpec(labels, args.port, args.allowFrom),
      },
      inNs,
    );
    this.registerOutputs({ deploymentId: this.deployment.id, serviceId: this.service.id });
  }
}
