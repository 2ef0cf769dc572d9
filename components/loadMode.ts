/**
 * Loads a registry or builder mode's module when a stack chooses that mode, instead of at start-up:
 * the provider SDKs the modes use are slow to load (@pulumi/aws about 2 s, @pulumi/kubernetes about
 * 0.5 s on these machines) and most stacks use none of them. Callers import the module's types with
 * `import type` and name the module here; the compiler still checks every use.
 */
export function loadMode<T>(module: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberate lazy load, see above
  return require(module) as T;
}
