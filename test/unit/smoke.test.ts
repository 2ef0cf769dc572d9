import { strict as assert } from "assert";
import { archOf } from "../../estate/planner";

describe("test setup", () => {
  it("runs TypeScript tests", () => assert.equal(archOf("linux/arm/v7"), "arm-v7"));
});
