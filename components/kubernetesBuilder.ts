import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  BUILDKIT_STATE_DIR,
  BUILDKIT_TLS_DIR,
  BUILDKIT_TLS_FILES,
  buildkitHealthCommand,
  buildkitdArgs,
  nodeSelectorFor,
  probeTiming,
} from "../estate/backends";
import { KUBERNETES_BUILDER_DEFAULTS, type ServiceType } from "../estate/settings";
import { BuildkitDaemonArgs } from "./builderCommon";

/** Arguments of {@link KubernetesBuilder}. */
export interface KubernetesBuilderArgs extends BuildkitDaemonArgs {
  /** Namespace created for this builder. */
  namespace: string;
  /** Type of the Service exposing the daemon. Default `LoadBalancer`. */
  serviceType?: pulumi.Input<ServiceType>;
  /** kubeconfig context: when set, an explicit provider for it. Default: the ambient provider. */
  kubeContext?: string;
}

/**
 * A BuildKit daemon in Kubernetes for one architecture: a Namespace, a Secret with its mTLS files, a
 * one-replica privileged Deployment pinned to nodes of that architecture (`kubernetes.io/arch`) with
 * its worker pinned to the platform, and a Service exposing the TCP port.
 */
export class KubernetesBuilder extends pulumi.ComponentResource {
  public static readonly type = "dayu:estate:KubernetesBuilder";

  public readonly provider?: k8s.Provider;
  public readonly namespace: k8s.core.v1.Namespace;
  public readonly tlsSecret: k8s.core.v1.Secret;
  public readonly deployment: k8s.apps.v1.Deployment;
  public readonly service: k8s.core.v1.Service;

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
    this.registerOutputs({ deploymentId: this.deployment.id, serviceId: this.service.id });
  }
}
