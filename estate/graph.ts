/** Dependency-graph helpers: a stable topological order, with the cycle printed when there is one. */

/**
 * Orders `nodes` so that every node comes after the nodes it depends on. `deps(n)` lists what `n`
 * depends on. Ties keep the input order, so the result is deterministic. Throws on a cycle with the
 * cycle spelled out, e.g. `a → b → c → a`.
 */
export function topologicalOrder<T extends string>(
  nodes: readonly T[],
  deps: (n: T) => readonly T[],
): T[] {
  const state = new Map<T, "visiting" | "done">();
  const order: T[] = [];
  const stack: T[] = [];
  const visit = (n: T) => {
    const s = state.get(n);
    if (s === "done") return;
    if (s === "visiting") {
      const cycle = [...stack.slice(stack.indexOf(n)), n];
      throw new CycleError(cycle);
    }
    state.set(n, "visiting");
    stack.push(n);
    for (const d of deps(n)) visit(d);
    stack.pop();
    state.set(n, "done");
    order.push(n);
  };
  for (const n of nodes) visit(n);
  return order;
}

/** A dependency cycle; `cycle` starts and ends with the same node. */
export class CycleError extends Error {
  constructor(public readonly cycle: string[]) {
    super(`dependency cycle: ${cycle.join(" → ")}`);
  }
}
