/**
 * A mistake in a view query: a syntax error, an unknown table, column or
 * parameter, a type mismatch, or a construct the query language does not
 * support. `column` is 1-based in the query string, so the plugin can point
 * at the exact place ("column 34").
 *
 * @example
 * try {
 *   parseViewQuery("SELECT * FORM customers");
 * } catch (e) {
 *   if (e instanceof ViewQueryError) console.error(e.column, e.reason);
 * }
 */
export class ViewQueryError extends Error {
  override readonly name = "ViewQueryError";
  /** 1-based position of the offending token in the query string; the query's length + 1 at its end. */
  readonly column: number;
  /** The offending token as written, or "" at the end of the query. */
  readonly token: string;
  /** The problem without its position, a sentence a user can act on. */
  readonly reason: string;

  constructor(reason: string, column: number, token: string) {
    const where = token === "" ? `at column ${column} (end of query)` : `at column ${column} ("${token}")`;
    super(`${where}: ${reason}`);
    this.column = column;
    this.token = token;
    this.reason = reason;
  }
}
