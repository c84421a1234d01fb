import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { requestCheck } from "../../src/validation/index.js";
import { OuterSchema, RangeSchema, RuledSchema, ValidateTestService } from "../gen/validatetest/v1/validatetest_pb.js";

/** The [field path, rule id] of each violation `run` throws. */
function violationsOf(run: () => void): string[][] {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.InvalidArgument);
    return error.findDetails(ViolationsSchema).flatMap((v) => v.violations.map((x) => [x.field?.elements.map((e) => (e.subscript.case === "index" ? `${e.fieldName}[${e.subscript.value}]` : e.fieldName)).join(".") ?? "", x.ruleId ?? ""]));
  }
  return [];
}

describe("requestCheck", () => {
  const { callPlain, callRuled, callOuter, callRange, callBadRule } = ValidateTestService.method;

  it("has no check (and no cost) for a request type without rules anywhere in it", () => {
    assert.equal(requestCheck(callPlain), undefined);
  });

  it("is made once per method and passes a valid request", () => {
    const check = requestCheck(callRuled);
    assert.ok(check !== undefined);
    assert.equal(requestCheck(callRuled), check);
    check(create(RuledSchema, { name: "ok", inners: [{ n: 1 }] }));
  });

  it("reports every violation with its field path (nested and indexed) and rule id, in the message too", () => {
    const check = requestCheck(callRuled)!;
    assert.deepEqual(violationsOf(() => check(create(RuledSchema, { name: "far too long", inners: [{ n: 1 }, { n: 0 }] }))), [
      ["name", "string.max_len"], ["inners[1].n", "int32.gt"],
    ]);
    assert.throws(() => check(create(RuledSchema, {})), /^ConnectError: \[invalid_argument\] ValidateTestService\.CallRuled: the request breaks its validation rules: name: must be at least 1 characters \[string\.min_len\]$/);
  });

  it("checks rules declared only in a nested message, and message-level CEL rules", () => {
    assert.deepEqual(violationsOf(() => requestCheck(callOuter)!(create(OuterSchema, { inner: { n: -1 } }))), [["inner.n", "int32.gt"]]);
    assert.deepEqual(violationsOf(() => requestCheck(callRange)!(create(RangeSchema, { low: 5, high: 1 }))), [["", "range.ordered"]]);
  });

  it("fails at registration, naming the rpc, when a rule cannot compile", () => {
    assert.throws(() => requestCheck(callBadRule), /^Error: ValidateTestService\.CallBadRule: the buf\.validate rules of validatetest\.v1\.BadRule do not compile: .*; fix the rule in the proto and regenerate$/);
  });
});
