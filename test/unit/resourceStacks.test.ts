/**
 * lib/resourceStacks.ts: the SDK's per-resource stack, bounded, still starts at the code that
 * declared the resource.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { boundedCallsites, boundResourceStacks } from "../../lib/resourceStacks";

type Statics = {
  callsites: () => { file?: string; line?: number }[];
  stackTrace: (skip: number) => ({ uri: string; line: number } | undefined)[];
};
const statics = pulumi.Resource as unknown as Statics;

/** A stack `depth` calls deep below this function, then `f`'s result. */
function deep<T>(depth: number, f: () => T): T {
  return depth === 0 ? f() : deep(depth - 1, f);
}

describe("bounded resource stacks", () => {
  it("keeps at most the given number of frames, the callers first", () => {
    const frames = deep(40, boundedCallsites(12));
    assert.equal(frames.length, 12);
    // The first frame is the bounded callsites itself (anonymous: no position, as in the SDK's
    // parsing); then `deep`, forty times over.
    assert.deepEqual(frames[0], {});
    assert.ok(frames.slice(2).every((f) => /resourceStacks\.test\.ts$/.test(f.file ?? "")));
  });

  it("restores Error.stackTraceLimit", () => {
    const before = Error.stackTraceLimit;
    Error.stackTraceLimit = 7;
    try {
      boundedCallsites(3)();
      assert.equal(Error.stackTraceLimit, 7);
    } finally {
      Error.stackTraceLimit = before;
    }
  });

  it("the SDK's Resource.stackTrace then records the declaring code within the bound", () => {
    const original = statics.callsites;
    try {
      assert.equal(boundResourceStacks(12), true);
      // Unbounded, as the SDK does it (index.ts may have bounded the SDK's own already: the program
      // tests import it).
      const unbounded = deep(40, () => boundedCallsites(Number.POSITIVE_INFINITY)().length);
      const trace = deep(40, () => statics.stackTrace(0));
      assert.ok(unbounded > 40, `the whole stack is ${unbounded} frames`);
      assert.ok(trace.length <= 11, `${trace.length} frames recorded`);
      // After the SDK's own frame: this file's `deep`, where the "resource" was declared.
      assert.match(trace[2]?.uri ?? "", /resourceStacks\.test\.ts$/);
    } finally {
      statics.callsites = original;
    }
  });
});
