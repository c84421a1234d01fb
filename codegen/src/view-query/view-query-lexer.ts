import { ViewQueryError } from "./view-query-error.js";

/** One token of a view query; `column` is 1-based, `text` is the token as written. */
export interface Token {
  readonly kind: "word" | "string" | "number" | "param" | "symbol" | "end";
  /** As written; for strings the quotes included. */
  readonly text: string;
  /** A string literal's value (quotes removed, '' unescaped); a parameter's path ("filter.city"). */
  readonly value: string;
  readonly column: number;
}

const symbols = ["<=", ">=", "!=", "<>", "=", "<", ">", "(", ")", ",", ".", "*", "-"];

/** Splits a view query into tokens; a character that starts no token is a {@link ViewQueryError}. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? "";
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const start = i;
    const column = start + 1;
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (word) {
      tokens.push({ kind: "word", text: word[0], value: word[0], column });
      i += word[0].length;
      continue;
    }
    const number = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
    if (number) {
      if (/^[A-Za-z_]/.test(text.slice(i + number[0].length))) {
        throw new ViewQueryError("a number runs into a name; put a space between them", column, text.slice(i, i + number[0].length + 1));
      }
      tokens.push({ kind: "number", text: number[0], value: number[0], column });
      i += number[0].length;
      continue;
    }
    if (ch === ":") {
      const path = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(text.slice(i + 1));
      if (!path) throw new ViewQueryError("a parameter is a colon followed by a request field name, e.g. :customer_id", column, ":");
      tokens.push({ kind: "param", text: `:${path[0]}`, value: path[0], column });
      i += 1 + path[0].length;
      continue;
    }
    if (ch === "'") {
      let value = "";
      let j = i + 1;
      for (;;) {
        if (j >= text.length) throw new ViewQueryError("the string literal is not closed; end it with '", column, text.slice(start, start + 10));
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            value += "'";
            j += 2;
            continue;
          }
          break;
        }
        value += text[j];
        j++;
      }
      tokens.push({ kind: "string", text: text.slice(start, j + 1), value, column });
      i = j + 1;
      continue;
    }
    if (ch === ";") throw new ViewQueryError("a query is one statement: remove the ;", column, ch);
    if (ch === '"') throw new ViewQueryError("quoted identifiers are not supported; write field and table names bare, and string literals in single quotes", column, ch);
    const symbol = symbols.find((s) => text.startsWith(s, i));
    if (symbol === undefined) throw new ViewQueryError(`unexpected character ${JSON.stringify(ch)}`, column, ch);
    tokens.push({ kind: "symbol", text: symbol, value: symbol, column });
    i += symbol.length;
  }
  tokens.push({ kind: "end", text: "", value: "", column: text.length + 1 });
  return tokens;
}
