// What checking the buf.validate rules costs per AddItem request, on this process's one core:
// the check alone (valid and invalid requests), against a request type without rules (no check at all).
//   npm run bench:validation --workspace samples/shopping-cart
import { create } from "@bufbuild/protobuf";
import { requestCheck } from "../../../runtime/src/validation/index.js";
import { AddItemRequestSchema, ShoppingCartService } from "../src/gen/shop/cart/v1/cart_pb.js";

const rounds = Number(process.env["BENCH_VALIDATION_ROUNDS"] ?? 200_000);
const check = requestCheck(ShoppingCartService.method.addItem)!;
const valid = create(AddItemRequestSchema, { cartId: "cart-1", productId: "p1", name: "Pen", quantity: 2 });
const invalid = create(AddItemRequestSchema, { cartId: "cart-1", productId: "", name: "Pen", quantity: 0 });

function perCall(run: () => void): number {
  for (let i = 0; i < rounds / 10; i++) run(); // warm-up: the JIT and protovalidate's compiled plan
  const started = performance.now();
  for (let i = 0; i < rounds; i++) run();
  return ((performance.now() - started) * 1000) / rounds;
}

const rows = {
  "AddItem, valid (4 field rules)": perCall(() => check(valid)),
  "AddItem, invalid (2 violations, error built)": perCall(() => {
    try {
      check(invalid);
    } catch {
      // expected
    }
  }),
};
console.log(`buf.validate check per request, ${rounds} rounds (a request type without rules has no check):`);
for (const [name, us] of Object.entries(rows)) console.log(`  ${name.padEnd(46)} ${us.toFixed(2)} µs`);
