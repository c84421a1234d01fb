// buf/validate/validate.proto is vendored (printed by scripts/vendor-validate-proto.mjs from
// @bufbuild/protovalidate's embedded descriptor, since no npm package ships the .proto and the buf
// registry is out of reach): compiled offline by buf, it must be the very schema the runtime's validator reads.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

describe("the vendored buf/validate/validate.proto", () => {
  it("compiles offline with buf to the descriptor @bufbuild/protovalidate validates with, rules included", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "orrery-validate-proto-"));
    try {
      const out = path.join(dir, "image.binpb");
      execFileSync(path.join(root, "node_modules", ".bin", "buf"), ["build", "proto", "--path", "proto/buf/validate", "-o", out], { cwd: root, stdio: "pipe" });
      const built = fromBinary(FileDescriptorSetSchema, readFileSync(out)).file.find((f) => f.name === "buf/validate/validate.proto");
      assert.ok(built !== undefined);
      built.sourceCodeInfo = undefined; // the comments and positions: not part of the schema
      delete (built as { $unknown?: unknown }).$unknown; // buf's own bookkeeping field
      const expected = Buffer.from(toBinary(FileDescriptorProtoSchema, file_buf_validate_validate.proto));
      assert.ok(Buffer.from(toBinary(FileDescriptorProtoSchema, built)).equals(expected), "the descriptors differ: run npm run generate");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
