/**
 * A bounded stack for every resource registration. The Node SDK's `Resource.callsites()` lifts
 * `Error.stackTraceLimit` to Infinity and formats the whole stack (through source-map-support) for
 * each resource it registers; the engine stores every frame in the resource's state (`stackTrace`),
 * and the checkpoint holding them is rewritten after every step. Measured on the 100-image scale
 * workload: 0.8 KB of frames per resource, 12% of the checkpoint. The frames that matter are the
 * first few of our code: the resource's source position and the components above it.
 */
import * as pulumi from "@pulumi/pulumi";

/**
 * Frames kept per registration: the SDK skips its own five (`callsites`, `stackTrace`, `new
 * Resource`, `new CustomResource`/`ComponentResource`, the resource class) and records the rest.
 */
export const RESOURCE_STACK_FRAMES = 12;

type Callsite = { file?: string; line?: number; column?: number };
type ResourceStatics = {
  callsites: () => Callsite[];
  framePositionRegExp: RegExp;
};

/** `Resource.callsites()` as the SDK writes it, at most `frames` deep. */
export function boundedCallsites(frames: number): () => Callsite[] {
  const statics = pulumi.Resource as unknown as ResourceStatics;
  return () => {
    const limit = Error.stackTraceLimit;
    try {
      Error.stackTraceLimit = frames;
      const stack = new Error().stack ?? "";
      return stack
        .split("\n")
        .slice(1)
        .map((frame) => {
          const { file, line, column } = statics.framePositionRegExp.exec(frame)?.groups ?? {};
          if (!file || !line || !column || file.startsWith("node:")) return {};
          const [l, c] = [parseInt(line, 10), parseInt(column, 10)];
          return Number.isNaN(l) || Number.isNaN(c) ? {} : { file, line: l, column: c };
        });
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
}

/**
 * Bounds the stack the SDK records for each resource. Leaves the SDK alone when its shape is not the
 * one this was written against (no static `callsites` or `framePositionRegExp`), so an SDK upgrade
 * costs only the saving, never a run.
 */
export function boundResourceStacks(frames: number = RESOURCE_STACK_FRAMES): boolean {
  const statics = pulumi.Resource as unknown as Partial<ResourceStatics>;
  if (typeof statics.callsites !== "function" || !(statics.framePositionRegExp instanceof RegExp))
    return false;
  statics.callsites = boundedCallsites(frames);
  return true;
}
