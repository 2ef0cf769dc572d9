/** Hand-made plan pieces for component tests. */
import { PlannedBuild } from "../../../estate/planner";

/** A final, default-variant build of `image` for `linux/<arch>` under `reg.test/ns/<image>`. */
export function plannedBuild(
  image: string,
  arch: string,
  overrides: Partial<PlannedBuild> = {},
): PlannedBuild {
  const repository = `reg.test/ns/${image}`;
  return {
    id: `${image}/${arch}`,
    image,
    final: true,
    variants: ["default"],
    platform: `linux/${arch}`,
    arch,
    builder: `b-${arch}`,
    repository,
    key: `key-${image}-${arch}`,
    archTag: `1-${arch}`,
    archRef: `${repository}:1-${arch}`,
    cacheRef: `${repository}:buildcache-default-${arch}`,
    context: "/ctx",
    dockerfile: "/ctx/Dockerfile",
    buildArgs: {},
    baseArg: "BASE_IMAGE",
    contexts: [],
    contextSources: ["."],
    ...overrides,
  };
}
