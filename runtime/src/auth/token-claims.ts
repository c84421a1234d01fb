// A verified token's JSON payload read into the claims message a service
// declares (`(orrery.v1.service).claims`), by the protobuf JSON mapping:
// claims the message lacks are ignored, one of the wrong type is named.
import { fromJson, ScalarType } from "@bufbuild/protobuf";
import type { DescField, DescMessage, JsonObject, Message } from "@bufbuild/protobuf";
import type { JwtClaims } from "@orrery/sdk";
import { TokenRejected } from "./token-verifier.js";

/** `payload` as a `schema` message; throws {@link TokenRejected} naming the first claim that does not fit its field. */
export function readClaims(schema: DescMessage, payload: JwtClaims): Message {
  try {
    return fromJson(schema, payload as JsonObject, { ignoreUnknownFields: true });
  } catch (error) {
    for (const field of schema.fields) {
      const claim = [field.name, field.jsonName].find((name) => payload[name] !== undefined);
      if (claim === undefined) continue;
      try {
        fromJson(schema, { [claim]: payload[claim] } as JsonObject, { ignoreUnknownFields: true });
      } catch {
        throw new TokenRejected(`the bearer token's claim "${claim}" is not ${expected(field)}, as ${schema.typeName}.${field.name} declares it`);
      }
    }
    throw new TokenRejected(`the bearer token's claims do not fit ${schema.typeName} (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** What JSON value a field takes, in words. */
function expected(field: DescField): string {
  switch (field.fieldKind) {
    case "scalar":
      return scalarWords(field.scalar);
    case "enum":
      return `one of the names of ${field.enum.typeName}`;
    case "message":
      return `an object (${field.message.typeName})`;
    case "list":
      return `a list (each ${field.listKind === "scalar" ? scalarWords(field.scalar) : field.listKind === "enum" ? `a name of ${field.enum.typeName}` : `an object (${field.message.typeName})`})`;
    case "map":
      return "an object (a map)";
  }
}

function scalarWords(scalar: ScalarType): string {
  if (scalar === ScalarType.STRING) return "a string";
  if (scalar === ScalarType.BOOL) return "a boolean";
  if (scalar === ScalarType.BYTES) return "base64 text (bytes)";
  return `a number (${ScalarType[scalar].toLowerCase()})`;
}
