import type { DescMethod } from "@bufbuild/protobuf";

/** Names a call for error messages and logs: `ShoppingCartService.AddItem for shopping-cart "c1"`. */
export function describeCall(method: DescMethod, entityType: string, entityId?: string): string {
  const target = entityId === undefined ? entityType : `${entityType} ${JSON.stringify(entityId)}`;
  return `${method.parent.name}.${method.name} for ${target}`;
}
