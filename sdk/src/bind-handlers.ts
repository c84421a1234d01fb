import type { DescService } from "@bufbuild/protobuf";

/**
 * Looks up one function per rpc on the object given to `implement()`, bound
 * to it, by the method's localName; throws naming the missing one.
 */
export function bindHandlers<H>(service: DescService, type: string, methods: object, handlers: object, signature: string): Map<string, H> {
  const byMethod = new Map<string, H>();
  for (const name of Object.keys(methods)) {
    const fn = (handlers as Record<string, unknown>)[name];
    if (typeof fn !== "function") {
      throw new Error(
        `${service.typeName}: the handlers passed to implement() have no function "${name}"; ` +
          `add ${name}(${signature}) to the "${type}" implementation`,
      );
    }
    byMethod.set(name, fn.bind(handlers) as H);
  }
  return byMethod;
}
