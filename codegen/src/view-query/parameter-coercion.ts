import type { Coercion, ScalarCoercion } from "./compiled-view-query.js";
import type { ValueType } from "./value-type.js";

/** The coercion of a request field of `type`, used as a value, an ANY() list, a LIMIT, an OFFSET or a page token. */
export function coercionFor(type: ValueType, as?: "list" | "limit" | "offset" | "page-token"): Coercion {
  if (as === "limit" || as === "offset" || as === "page-token") return { kind: as };
  if (as === "list" || type.repeated) return { kind: "list", element: scalarCoercion(type) };
  return scalarCoercion(type);
}

function scalarCoercion(type: ValueType): ScalarCoercion {
  switch (type.kind) {
    case "number":
      return { kind: "number" };
    case "bool":
      return { kind: "bool" };
    case "timestamp":
      return { kind: "timestamp" };
    case "enum":
      return { kind: "enum", names: Object.fromEntries((type.enum?.values ?? []).map((v) => [String(v.number), v.name])) };
    default:
      return { kind: "string" };
  }
}
