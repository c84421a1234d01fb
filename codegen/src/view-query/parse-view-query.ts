import type {
  ColumnAst,
  ComparisonOp,
  ConditionAst,
  CountAst,
  JoinAst,
  LiteralAst,
  Name,
  OperandAst,
  OrderAst,
  ParamAst,
  QueryAst,
  SelectItemAst,
} from "./view-query-ast.js";
import { ViewQueryError } from "./view-query-error.js";
import type { Token } from "./view-query-lexer.js";
import { tokenize } from "./view-query-lexer.js";

const keywords = new Set([
  "SELECT", "DISTINCT", "FROM", "JOIN", "INNER", "LEFT", "OUTER", "ON", "WHERE", "AND", "OR", "NOT", "IN", "ANY",
  "IS", "NULL", "LIKE", "ORDER", "BY", "ASC", "DESC", "LIMIT", "OFFSET", "AS", "TRUE", "FALSE",
]);

// Words of SQL that the language deliberately leaves out, and what to say when one shows up.
const unsupportedWords: Record<string, string> = {
  GROUP: "GROUP BY is not supported; collect() nests joined rows, count(*) counts them",
  HAVING: "HAVING is not supported",
  UNION: "UNION is not supported; declare a second query method",
  INTERSECT: "INTERSECT is not supported",
  EXCEPT: "EXCEPT is not supported",
  RIGHT: "RIGHT JOIN is not supported; put the table whose rows must all appear in FROM and use LEFT JOIN",
  FULL: "FULL JOIN is not supported",
  CROSS: "CROSS JOIN is not supported; join on a condition with JOIN ... ON",
  BETWEEN: "BETWEEN is not supported; write x >= a AND x <= b",
  ILIKE: "ILIKE is not supported; use LIKE, or text_search() for case-insensitive matching of words",
  ESCAPE: "ESCAPE is not supported; LIKE patterns always escape with a backslash (\\% \\_ \\\\)",
  EXISTS: "EXISTS and subqueries are not supported",
  CASE: "CASE is not supported",
  WITH: "WITH is not supported",
  FETCH: "FETCH is not supported; use LIMIT",
  NULLS: "NULLS FIRST/LAST is not supported",
  USING: "JOIN ... USING is not supported; write JOIN t ON t.a = u.b",
  NATURAL: "NATURAL JOIN is not supported; write JOIN t ON t.a = u.b",
};

const selectFunctions = ["collect", "next_page_token", "has_more", "total_count", "count"];

/**
 * Parses a view query into its syntax tree; keywords are case-insensitive,
 * names are not. Every syntax error is a {@link ViewQueryError} with the
 * 1-based column of the offending token. Names are not resolved here: that is
 * `checkViewQuery`'s job.
 *
 * @example
 * const ast = parseViewQuery("SELECT * AS customers FROM customers WHERE address.city = :city ORDER BY name LIMIT 10");
 */
export function parseViewQuery(text: string): QueryAst {
  return new Parser(text).query();
}

class Parser {
  readonly #text: string;
  readonly #tokens: Token[];
  #at = 0;

  constructor(text: string) {
    this.#text = text;
    this.#tokens = tokenize(text);
  }

  query(): QueryAst {
    this.#keyword("SELECT");
    const distinct = this.#acceptKeyword("DISTINCT") !== undefined;
    const select = this.#list(() => this.#selectItem(true));
    this.#keyword("FROM", "after the select list");
    const from = this.#tableName();
    const join = this.#join();
    const where = this.#acceptKeyword("WHERE") ? this.#condition() : undefined;
    const orderBy: OrderAst[] = [];
    if (this.#acceptKeyword("ORDER")) {
      this.#keyword("BY", "after ORDER");
      orderBy.push(...this.#list(() => this.#order()));
    }
    const limit = this.#acceptKeyword("LIMIT") ? this.#count(false) : undefined;
    const offset = this.#acceptKeyword("OFFSET") ? this.#count(true) : undefined;
    if (this.#peek().kind !== "end") {
      const next = this.#peek();
      if (limit === undefined && this.#isKeyword(next, "LIMIT") && offset !== undefined) this.#fail("LIMIT comes before OFFSET", next);
      this.#expected("the end of the query (or WHERE, ORDER BY, LIMIT, OFFSET in that order)");
    }
    return { text: this.#text, distinct, select, from, join, where, orderBy, limit, offset };
  }

  #selectItem(topLevel: boolean): SelectItemAst {
    const t = this.#peek();
    if (t.text === "*") {
      this.#next();
      return { kind: "star", alias: this.#alias(), column: t.column };
    }
    if (t.text === "(" && topLevel) {
      this.#next();
      if (this.#isKeyword(this.#peek(), "SELECT")) this.#fail("subqueries are not supported", this.#peek());
      const items = this.#list(() => this.#selectItem(false));
      this.#symbol(")", "to close the parenthesised select list");
      const alias = this.#alias();
      if (alias === undefined) this.#expected("AS <repeated response field> after the parenthesised select list");
      return { kind: "group", items, alias, column: t.column };
    }
    if (t.kind === "word" && this.#peekAt(1).text === "(") return this.#selectFunction(topLevel);
    if (t.kind === "word" && this.#peekAt(1).text === "." && this.#peekAt(2).text === "*") {
      this.#next();
      this.#next();
      this.#next();
      return { kind: "star", table: { name: t.text, column: t.column }, alias: this.#alias(), column: t.column };
    }
    const value = this.#column("a column, *, or a function in the select list");
    return { kind: "column", value, alias: this.#alias(), column: value.column };
  }

  #selectFunction(topLevel: boolean): SelectItemAst {
    const t = this.#next();
    const fn = t.text.toLowerCase();
    if (!selectFunctions.includes(fn) || (!topLevel && fn !== "collect")) {
      const allowed = topLevel ? "collect(table), next_page_token(), has_more(), total_count() and count(*)" : "collect(table)";
      this.#fail(`function ${t.text}() is not supported in the select list; the select list takes columns, * and ${allowed}`, t);
    }
    this.#symbol("(", `after ${fn}`);
    if (fn === "collect") {
      const table = this.#tableName();
      if (this.#peek().text === ".") this.#fail("collect() takes a table name, e.g. collect(orders)", this.#peek());
      this.#symbol(")", "after the table name");
      const alias = this.#alias();
      if (alias === undefined) this.#expected("AS <repeated response field> after collect(...)");
      return { kind: "collect", table, alias, column: t.column };
    }
    if (fn === "count") {
      if (this.#peek().text !== "*") this.#fail("only count(*) is supported", this.#peek());
      this.#next();
      this.#symbol(")", "after count(*");
      return { kind: "count", alias: this.#alias(), column: t.column };
    }
    if (this.#peek().text !== ")") this.#fail(`${fn}() takes no arguments`, this.#peek());
    this.#next();
    return { kind: "page", fn: fn as "next_page_token" | "has_more" | "total_count", alias: this.#alias(), column: t.column };
  }

  #alias(): Name | undefined {
    if (!this.#acceptKeyword("AS")) return undefined;
    return this.#name("a response field name after AS");
  }

  #join(): JoinAst | undefined {
    const start = this.#peek();
    let type: "inner" | "left" = "inner";
    if (this.#acceptKeyword("LEFT")) {
      type = "left";
      this.#acceptKeyword("OUTER");
    } else {
      this.#acceptKeyword("INNER");
    }
    if (!this.#acceptKeyword("JOIN")) {
      if (start !== this.#peek()) this.#expected("JOIN");
      return undefined;
    }
    const table = this.#tableName();
    this.#keyword("ON", "after the joined table");
    const left = this.#column("a column of the join condition");
    const op = this.#peek();
    if (op.text !== "=") this.#fail("a join condition is one equality: JOIN t ON t.a = u.b", op);
    this.#next();
    const right = this.#column("a column of the join condition");
    if (this.#isKeyword(this.#peek(), "AND") || this.#isKeyword(this.#peek(), "OR")) {
      this.#fail("a join condition is one equality; put further conditions in WHERE", this.#peek());
    }
    return { type, table, left, right, column: start.column };
  }

  #condition(): ConditionAst {
    return this.#chain("or", () => this.#chain("and", () => this.#negation()));
  }

  /** `operand {OR operand}` (or AND), left-associative. */
  #chain(kind: "and" | "or", operand: () => ConditionAst): ConditionAst {
    let left = operand();
    while (this.#isKeyword(this.#peek(), kind.toUpperCase())) {
      const op = this.#next();
      left = { kind, left, right: operand(), column: op.column };
    }
    return left;
  }

  #negation(): ConditionAst {
    const not = this.#acceptKeyword("NOT");
    if (not) return { kind: "not", operand: this.#negation(), column: not.column };
    return this.#predicate();
  }

  #predicate(): ConditionAst {
    const t = this.#peek();
    if (t.text === "(") {
      this.#next();
      if (this.#isKeyword(this.#peek(), "SELECT")) this.#fail("subqueries are not supported", this.#peek());
      const inner = this.#condition();
      this.#symbol(")", "to close the parenthesis");
      return inner;
    }
    if (t.kind === "word" && this.#peekAt(1).text === "(" && !keywords.has(t.text.toUpperCase())) {
      if (t.text.toLowerCase() !== "text_search") {
        this.#fail(`function ${t.text}() is not supported in WHERE; the only function there is text_search(column, :query)`, t);
      }
      this.#next();
      this.#symbol("(", "after text_search");
      const value = this.#column("the column to search");
      this.#symbol(",", "between the column and the search query of text_search");
      const query = this.#value("a parameter or a string with the search query");
      this.#symbol(")", "after the search query");
      return { kind: "text-search", value, query, column: t.column };
    }
    const left = this.#operand();
    const next = this.#peek();
    if (left.kind === "column") {
      if (this.#acceptKeyword("IS")) {
        const negated = this.#acceptKeyword("NOT") !== undefined;
        this.#keyword("NULL", negated ? "after IS NOT" : "after IS");
        return { kind: "is-null", value: left, negated, column: left.column };
      }
      const not = this.#isKeyword(next, "NOT") && ["IN", "LIKE"].includes(this.#peekAt(1).text.toUpperCase());
      if (not) this.#next();
      if (this.#acceptKeyword("IN")) {
        this.#symbol("(", "after IN");
        if (this.#isKeyword(this.#peek(), "SELECT")) this.#fail("subqueries are not supported", this.#peek());
        const list = this.#list(() => this.#value("a literal or a parameter in the IN list"));
        this.#symbol(")", "to close the IN list");
        return { kind: "in", value: left, list, negated: not, column: left.column };
      }
      if (this.#acceptKeyword("LIKE")) {
        const pattern = this.#value("a pattern string or a parameter after LIKE");
        return { kind: "like", value: left, pattern, negated: not, column: left.column };
      }
    }
    const op = this.#comparisonOp();
    if (op === undefined) {
      if (left.kind === "column") return { kind: "truth", value: left, column: left.column };
      this.#expected("a comparison operator (= != < <= > >=)");
    }
    const any = this.#acceptKeyword("ANY");
    if (any) {
      if (op !== "=") this.#fail("only = ANY(...) is supported", next);
      this.#symbol("(", "after ANY");
      const array = this.#peek().kind === "param" ? this.#param() : this.#column("a repeated parameter or a repeated column in ANY(...)");
      this.#symbol(")", "to close ANY(");
      return { kind: "any", value: left, array, column: left.column };
    }
    return { kind: "compare", op, left, right: this.#operand(), column: left.column };
  }

  #comparisonOp(): ComparisonOp | undefined {
    const t = this.#peek();
    if (t.kind !== "symbol" || !["=", "!=", "<>", "<", "<=", ">", ">="].includes(t.text)) return undefined;
    this.#next();
    return t.text === "<>" ? "!=" : (t.text as ComparisonOp);
  }

  #operand(): OperandAst {
    const t = this.#peek();
    if (t.kind === "word" && !keywords.has(t.text.toUpperCase())) {
      if (this.#peekAt(1).text === "(") this.#fail(`function ${t.text}() is not supported here`, t);
      return this.#column("a column");
    }
    return this.#value("a column, a parameter or a literal");
  }

  #value(what: string): ParamAst | LiteralAst {
    const t = this.#peek();
    if (t.kind === "param") return this.#param();
    if (t.kind === "string") {
      this.#next();
      return { kind: "string", value: t.value, column: t.column };
    }
    if (t.kind === "number") {
      this.#next();
      return { kind: "number", text: t.text, column: t.column };
    }
    if (t.text === "-" && this.#peekAt(1).kind === "number") {
      this.#next();
      const n = this.#next();
      return { kind: "number", text: `-${n.text}`, column: t.column };
    }
    if (this.#isKeyword(t, "TRUE") || this.#isKeyword(t, "FALSE")) {
      this.#next();
      return { kind: "bool", value: t.text.toUpperCase() === "TRUE", column: t.column };
    }
    if (this.#isKeyword(t, "NULL")) this.#fail("NULL is not a value here; write IS NULL or IS NOT NULL", t);
    if (t.text === "(" && this.#isKeyword(this.#peekAt(1), "SELECT")) this.#fail("subqueries are not supported", this.#peekAt(1));
    return this.#expected(what);
  }

  #param(): ParamAst {
    const t = this.#next();
    let offset = t.column + 1;
    const path = t.value.split(".").map((name) => {
      const n = { name, column: offset };
      offset += name.length + 1;
      return n;
    });
    return { kind: "param", path, column: t.column };
  }

  #count(offset: boolean): CountAst {
    const t = this.#peek();
    if (offset && t.kind === "word" && t.text.toLowerCase() === "page_token_offset" && this.#peekAt(1).text === "(") {
      this.#next();
      this.#next();
      if (this.#peek().kind !== "param") this.#expected("a parameter holding the page token, e.g. page_token_offset(:page_token)");
      const token = this.#param();
      this.#symbol(")", "after the page token parameter");
      return { kind: "page-token", token, column: t.column };
    }
    if (t.kind === "param") return this.#param();
    if (t.kind === "number" && /^[0-9]+$/.test(t.text)) {
      this.#next();
      return { kind: "number", text: t.text, column: t.column };
    }
    const what = offset ? "OFFSET takes a whole number, a parameter or page_token_offset(:token)" : "LIMIT takes a whole number or a parameter";
    if (t.kind === "number" || t.text === "-") this.#fail(what, t);
    return this.#expected(offset ? "a whole number, a parameter or page_token_offset(:token) after OFFSET" : "a whole number or a parameter after LIMIT");
  }

  #order(): OrderAst {
    const value = this.#column("a column to order by");
    if (this.#acceptKeyword("DESC")) return { value, descending: true };
    this.#acceptKeyword("ASC");
    return { value, descending: false };
  }

  #column(what: string): ColumnAst {
    const first = this.#name(what);
    const path = [first];
    while (this.#peek().text === ".") {
      this.#next();
      if (this.#peek().text === "*") this.#fail("table.* is only allowed in the select list", this.#peek());
      path.push(this.#name("a field name after ."));
    }
    return { kind: "column", path, column: first.column };
  }

  #tableName(): Name {
    const t = this.#peek();
    if (t.text === "(") this.#fail("subqueries are not supported; FROM takes a table of the view", t);
    const name = this.#name("a table name");
    if (this.#isKeyword(this.#peek(), "AS") || this.#peek().text === ",") {
      const next = this.#peek();
      this.#fail(next.text === "," ? "FROM takes one table; join a second one with JOIN ... ON" : "table aliases are not supported; refer to the table by its name", next);
    }
    if (this.#peek().kind === "word" && !keywords.has(this.#peek().text.toUpperCase()) && unsupportedWords[this.#peek().text.toUpperCase()] === undefined) {
      this.#fail("table aliases are not supported; refer to the table by its name", this.#peek());
    }
    return name;
  }

  #name(what: string): Name {
    const t = this.#peek();
    if (t.kind !== "word" || keywords.has(t.text.toUpperCase())) return this.#expected(what);
    this.#next();
    return { name: t.text, column: t.column };
  }

  #list<T>(item: () => T): T[] {
    const items = [item()];
    while (this.#peek().text === ",") {
      this.#next();
      items.push(item());
    }
    return items;
  }

  #keyword(word: string, context?: string): Token {
    const t = this.#acceptKeyword(word);
    if (t === undefined) return this.#expected(context === undefined ? word : `${word} ${context}`);
    return t;
  }

  #acceptKeyword(word: string): Token | undefined {
    const t = this.#peek();
    if (!this.#isKeyword(t, word)) return undefined;
    this.#at++;
    return t;
  }

  #isKeyword(t: Token, word: string): boolean {
    return t.kind === "word" && t.text.toUpperCase() === word;
  }

  #symbol(symbol: string, context: string): void {
    if (this.#peek().text !== symbol || this.#peek().kind !== "symbol") this.#expected(`${symbol} ${context}`);
    this.#next();
  }

  #peek(): Token {
    return this.#peekAt(0);
  }

  #peekAt(ahead: number): Token {
    return this.#tokens[Math.min(this.#at + ahead, this.#tokens.length - 1)] as Token;
  }

  #next(): Token {
    const t = this.#peek();
    if (this.#at < this.#tokens.length - 1) this.#at++;
    return t;
  }

  #expected(what: string): never {
    const t = this.#peek();
    const unsupported = t.kind === "word" ? unsupportedWords[t.text.toUpperCase()] : undefined;
    if (unsupported) this.#fail(unsupported, t);
    const found = t.kind === "end" ? "the end of the query" : t.kind === "word" && keywords.has(t.text.toUpperCase()) ? `keyword ${t.text.toUpperCase()}` : JSON.stringify(t.text);
    return this.#fail(`expected ${what}, found ${found}`, t);
  }

  #fail(reason: string, t: Token): never {
    throw new ViewQueryError(reason, t.column, t.text);
  }
}
