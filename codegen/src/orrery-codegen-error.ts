/**
 * The error protoc-gen-orrery throws when the Orrery options in the protos are
 * wrong. It carries every problem found in the run, not just the first, so one
 * `buf generate` shows everything there is to fix.
 *
 * @example
 * try {
 *   plugin.run(request);
 * } catch (e) {
 *   if (e instanceof OrreryCodegenError) console.error(e.problems.join("\n"));
 * }
 */
export class OrreryCodegenError extends Error {
  override readonly name = "OrreryCodegenError";
  /** One line per problem: the proto file and line, the service, the element at fault, and the fix. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super(`${count} in the Orrery options:\n${problems.join("\n")}`);
    this.problems = problems;
  }
}
