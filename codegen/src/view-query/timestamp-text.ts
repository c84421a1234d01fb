// Timestamps are stored as protobuf JSON: RFC 3339 in UTC with 0, 3, 6 or 9
// fractional digits ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00.500Z").
// Those strings do not sort in time order ("...00.5Z" < "...00Z"), and a cast
// to timestamptz is not immutable, so it cannot be indexed. Queries compare
// a fixed-width form instead, "2024-05-01T12:00:00.500000000": immutable,
// indexable and in time order for years 0001–9999 (Timestamp's whole range).

/** The SQL that turns a stored RFC 3339 text (an expression) into the fixed-width form. */
export function timestampSql(text: string): string {
  return `(CASE WHEN strpos(${text}, '.') = 0 THEN left(${text}, 19) || '.000000000' ELSE rpad(left(${text}, length(${text}) - 1), 29, '0') END)`;
}

/**
 * A timestamp literal of a query in the fixed-width UTC form, or undefined
 * when it is not RFC 3339 ("Z" or a "+02:00" offset; up to 9 fractional digits).
 */
export function normalizeTimestamp(literal: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/.exec(literal);
  if (!m) return undefined;
  const [, date, time, fraction = "", zone = "Z"] = m;
  const seconds = Date.parse(`${date}T${time}${zone.toUpperCase()}`);
  if (Number.isNaN(seconds)) return undefined;
  const utc = new Date(seconds).toISOString().slice(0, 19);
  // Date.parse rolls "02-30" over to March; a UTC literal must come back unchanged.
  if (zone.toUpperCase() === "Z" && utc !== `${date}T${time}`) return undefined;
  if (utc.startsWith("-") || utc.startsWith("+")) return undefined;
  return `${utc}.${fraction.padEnd(9, "0")}`;
}
