import { createHash } from "node:crypto";

const plain = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/**
 * The PostgreSQL table of one table of a view, quoted: `"view_<view>__<table>"`.
 * Names that are not plain lower-case identifiers, or that would pass
 * PostgreSQL's 63-byte limit, are slugged and get 8 hex digits of a hash of
 * the original, so two different (view, table) pairs never share a table.
 *
 * @example
 * viewTableName("customers_view", "customers") // '"view_customers_view__customers"'
 */
export function viewTableName(view: string, table: string): string {
  const name = `view_${view}__${table}`;
  if (plain.test(view) && plain.test(table) && name.length <= 63) return `"${name}"`;
  const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  const hash = createHash("sha256").update(`${view}\u0000${table}`).digest("hex").slice(0, 8);
  return `"${`view_${slug(view)}__${slug(table)}`.slice(0, 54)}_${hash}"`;
}
