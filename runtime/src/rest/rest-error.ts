// A REST call's error: the google.rpc.Status shape in JSON ({code, message,
// details}) with the HTTP status Connect gives each code (the same table Google
// APIs use), so REST and Connect callers see one error the same way.
import { create, createRegistry, toJson } from "@bufbuild/protobuf";
import type { Registry } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { anyPack, AnySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

// The detail types the runtime attaches itself (a validation failure's buf.validate.Violations),
// written as JSON even when the caller passes no registry.
const runtimeDetails = createRegistry(ViolationsSchema);

/** The HTTP status and JSON body of `error` (any thrown value; non-Connect errors are INTERNAL without their message). */
export function restErrorResponse(error: unknown, userRegistry?: Registry): { status: number; body: { code: number; message: string; details: unknown[] } } {
  const registry = userRegistry === undefined ? runtimeDetails : createRegistry(userRegistry, ViolationsSchema);
  const connectError = error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal);
  const details = connectError.details.map((detail) => {
    if ("desc" in detail) return toJson(AnySchema, anyPack(detail.desc, create(detail.desc, detail.value)), { registry: createRegistry(registry, detail.desc) });
    const desc = registry.getMessage(detail.type);
    if (desc !== undefined) {
      try {
        return toJson(AnySchema, { $typeName: "google.protobuf.Any", typeUrl: `type.googleapis.com/${detail.type}`, value: detail.value }, { registry });
      } catch {
        // fall through to the raw form
      }
    }
    // A detail whose type this server does not know: its type and bytes, as Any's binary form carries them.
    return { "@type": `type.googleapis.com/${detail.type}`, value: base64Encode(detail.value) };
  });
  return { status: codeToHttpStatus(connectError.code), body: { code: connectError.code, message: connectError.rawMessage, details } };
}
