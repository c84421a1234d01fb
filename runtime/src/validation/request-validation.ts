// protovalidate (buf.validate) rules on requests: checked where a request
// enters a component (registerEntity, registerView), so every protocol —
// Connect, gRPC, gRPC-Web, REST, and in-process component calls — is checked
// the same way, after the interceptors and before any user code or storage.
import { create, hasOption } from "@bufbuild/protobuf";
import type { DescField, DescMessage, DescMethod, Message } from "@bufbuild/protobuf";
import { CompilationError, createValidator, violationsToProto } from "@bufbuild/protovalidate";
import type { Validator, Violation } from "@bufbuild/protovalidate";
import { field as fieldRules, message as messageRules, oneof as oneofRules } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";

/** Throws INVALID_ARGUMENT, with the violations as a `buf.validate.Violations` detail, when `message` breaks a rule. */
export type RequestCheck = (message: Message) => void;

// One validator for the process: it compiles each message type's rules once and keeps the plan.
let shared: Validator | undefined;
const checks = new WeakMap<DescMethod, RequestCheck | null>();

/**
 * The check of `method`'s request, or undefined when its type (with every
 * message it contains) declares no buf.validate rule, so such calls pay
 * nothing. The rules are compiled now: a rule that does not compile fails
 * here, at start, naming the rpc, instead of on the first call.
 */
export function requestCheck(method: DescMethod): RequestCheck | undefined {
  const known = checks.get(method);
  if (known !== undefined) return known ?? undefined;
  const rpc = `${method.parent.name}.${method.name}`;
  const schema = method.input;
  if (!declaresRules(schema, new Set())) {
    checks.set(method, null);
    return undefined;
  }
  const validator = (shared ??= createValidator());
  const compiled = validator.validate(schema, create(schema));
  if (compiled.kind === "error" && compiled.error instanceof CompilationError) {
    throw new Error(`${rpc}: the buf.validate rules of ${schema.typeName} do not compile: ${compiled.error.message}; fix the rule in the proto and regenerate`);
  }
  const check: RequestCheck = (message) => {
    const result = validator.validate(schema, message as never);
    if (result.kind === "valid") return;
    if (result.kind === "invalid") throw invalidRequest(rpc, result.violations);
    throw new ConnectError(`${rpc}: validating the request failed: ${result.error.message}`, Code.Internal, undefined, undefined, result.error);
  };
  checks.set(method, check);
  return check;
}

/** The INVALID_ARGUMENT error of a request that breaks its rules: each violation in the message and as a detail. */
export function invalidRequest(rpc: string, violations: readonly Violation[]): ConnectError {
  const [value, desc] = violationsToProto([...violations]);
  const listed = violations.map((v) => v.toString()).join("; ");
  return new ConnectError(`${rpc}: the request breaks its validation rules: ${listed}`, Code.InvalidArgument, undefined, [{ desc, value }]);
}

function declaresRules(message: DescMessage, seen: Set<DescMessage>): boolean {
  if (seen.has(message)) return false;
  seen.add(message);
  if (hasOption(message, messageRules) || message.oneofs.some((o) => hasOption(o, oneofRules))) return true;
  return message.fields.some((f) => {
    if (hasOption(f, fieldRules)) return true;
    const inner = messageOf(f);
    return inner !== undefined && declaresRules(inner, seen);
  });
}

/** The message type a field holds (singly, in a list or as map values), if any. */
function messageOf(f: DescField): DescMessage | undefined {
  if (f.fieldKind === "message") return f.message;
  if (f.fieldKind === "list" && f.listKind === "message") return f.message;
  if (f.fieldKind === "map" && f.mapKind === "message") return f.message;
  return undefined;
}
