// The buf.validate violations a rejected call carries, as [field path, rule id, message] triples:
// from a ConnectError's details, or from a gRPC status's grpc-status-details-bin trailer.
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import type { ConnectError } from "@connectrpc/connect";
import { ViolationsSchema } from "../../src/gen/buf/validate/validate_pb.js";
import type { Violations } from "../../src/gen/buf/validate/validate_pb.js";

export type ViolationTriple = [field: string, ruleId: string, message: string];

function triples(violations: readonly Violations[]): ViolationTriple[] {
  return violations.flatMap((v) => v.violations.map((x): ViolationTriple => [x.field?.elements.map((e) => e.fieldName).join(".") ?? "", x.ruleId ?? "", x.message ?? ""]));
}

export function connectViolations(error: ConnectError): ViolationTriple[] {
  return triples(error.findDetails(ViolationsSchema));
}

/** Reads google.rpc.Status { code = 1; message = 2; repeated Any details = 3 } by hand: the test needs no status proto. */
export function grpcViolations(statusDetailsBin: Uint8Array): ViolationTriple[] {
  const found: Violations[] = [];
  const status = new BinaryReader(statusDetailsBin);
  while (status.pos < status.len) {
    const [field, wireType] = status.tag();
    if (field !== 3) {
      status.skip(wireType);
      continue;
    }
    const any = new BinaryReader(status.bytes());
    let typeUrl = "";
    let value: Uint8Array = new Uint8Array();
    while (any.pos < any.len) {
      const [f, w] = any.tag();
      if (f === 1) typeUrl = any.string();
      else if (f === 2) value = any.bytes();
      else any.skip(w);
    }
    if (typeUrl.endsWith("/buf.validate.Violations")) found.push(fromBinary(ViolationsSchema, value));
  }
  return triples(found);
}
