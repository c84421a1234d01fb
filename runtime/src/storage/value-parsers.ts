import pg from "pg";

// Both dialects are configured with these parsers, so callers see the same JS
// types whatever the driver: int8/xid8 → number, bytea → Uint8Array.

/** PostgreSQL type OIDs the storage layer normalises. */
export const typeOids = {
  bytea: 17,
  int8: 20,
  xid8: 5069,
  byteaArray: 1001,
  int8Array: 1016,
  xid8Array: 271,
} as const;

/**
 * Parses an int8 or xid8 text value into a number. Sequence numbers, global
 * positions and transaction ids stay far below 2^53; past that it throws
 * instead of silently losing precision.
 */
export function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`64-bit value ${text} does not fit a JavaScript number without losing precision`);
  }
  return value;
}

const parseByteaEscape = pg.types.getTypeParser(typeOids.bytea, "text") as (text: string) => Uint8Array;

/**
 * Decodes a bytea text value (`\x0a0b…`) into a `Uint8Array` that owns its
 * whole `ArrayBuffer` (never a view into a driver's shared buffer pool, never a
 * `Buffer`), so payloads can be handed to protobuf decoders and kept safely.
 */
export function parseBytea(text: string): Uint8Array {
  if (!text.startsWith("\\x")) {
    // Legacy "escape" output (bytea_output = escape): decode with pg, then copy.
    return Uint8Array.from(parseByteaEscape(text));
  }
  const bytes = new Uint8Array((text.length - 2) >>> 1);
  Buffer.from(bytes.buffer).write(text.slice(2), "hex");
  return bytes;
}

/** Encodes bytes as a bytea hex literal; PGlite's own serializer is byte-by-byte and slow. */
export function serializeBytea(value: unknown): string {
  if (!(value instanceof Uint8Array)) throw new TypeError("a bytea value must be a Uint8Array");
  return "\\x" + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex");
}

/**
 * Builds a parser for one-dimensional PostgreSQL array literals (`{1,2,NULL}`,
 * `{"\\x01",NULL}`) that applies `parseElement` to each element.
 */
export function arrayOf<T>(parseElement: (text: string) => T): (text: string) => Array<T | null> {
  return (text) => {
    const out: Array<T | null> = [];
    let i = 1; // skip "{"
    while (i < text.length - 1) {
      let element = "";
      let quoted = false;
      if (text[i] === '"') {
        quoted = true;
        for (i++; i < text.length && text[i] !== '"'; i++) element += text[i] === "\\" ? text[++i] : text[i];
        i++;
      } else {
        while (text[i] !== "," && i < text.length - 1) element += text[i++];
      }
      out.push(!quoted && element === "NULL" ? null : parseElement(element));
      i++; // skip ","
    }
    return out;
  };
}

/** Text-format parsers by type OID, shared by the pg and PGlite setups. */
export const storageParsers: Readonly<Record<number, (text: string) => unknown>> = {
  [typeOids.bytea]: parseBytea,
  [typeOids.int8]: parseInt8,
  [typeOids.xid8]: parseInt8,
  [typeOids.byteaArray]: arrayOf(parseBytea),
  [typeOids.int8Array]: arrayOf(parseInt8),
  [typeOids.xid8Array]: arrayOf(parseInt8),
};

/**
 * A node-postgres `types` object: Orrery's parsers first, pg's defaults for
 * everything else. Passed per pool, so the process-global pg parsers stay
 * untouched for other code.
 */
export const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => {
    const parser = format === "binary" ? undefined : storageParsers[oid];
    return parser ?? pg.types.getTypeParser(oid, format ?? "text");
  }) as pg.CustomTypesConfig["getTypeParser"],
};
