// One call to show once the cluster is up, read off the project's protos: a
// read-only method of an entity, with only its key set, as curl in Connect's
// JSON (no schema needed).
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** The URL path and JSON body of a call worth trying, e.g. "/shop.cart.v1.ShoppingCartService/GetCart" and {"cartId":"c1"}. */
export interface ExampleCall {
  readonly path: string;
  readonly body: string;
}

/** The first read-only method (else the first method) of the first service under `protoDir`; undefined when there is none. */
export function findExampleCall(protoDir: string): ExampleCall | undefined {
  let files: string[];
  try {
    files = readdirSync(protoDir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".proto")).sort();
  } catch {
    return undefined;
  }
  for (const file of files) {
    const text = withoutComments(readFileSync(path.join(protoDir, file), "utf8"));
    const pkg = /^\s*package\s+([\w.]+)\s*;/m.exec(text)?.[1];
    // An rpc's options may hold braces two deep (google.api.http with additional_bindings).
    for (const service of text.matchAll(/\bservice\s+(\w+)\s*\{/g)) {
      const rpcs = [...text.slice(service.index).matchAll(/\brpc\s+(\w+)\s*\(\s*([\w.]+)\s*\)\s*returns\s*\(\s*[\w.]+\s*\)\s*(\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}|;)/g)];
      const rpc = rpcs.find((r) => /read_only\s*=\s*true/.test(r[3]!)) ?? rpcs[0];
      if (rpc === undefined) continue;
      const request = rpc[2]!.split(".").pop()!;
      // Field options may hold braces one deep (buf.validate rules such as {min_len: 1, max_len: 128}).
      const fields = new RegExp(`\\bmessage\\s+${request}\\s*\\{((?:[^{}]|\\{[^{}]*\\})*)\\}`).exec(text)?.[1] ?? "";
      const key = /(\w+)\s*=\s*\d+\s*\[[^\]]*entity_key\s*=\s*true/.exec(fields)?.[1];
      const body = key === undefined ? "{}" : JSON.stringify({ [camelCase(key)]: "c1" });
      return { path: `/${pkg === undefined ? "" : `${pkg}.`}${service[1]}/${rpc[1]}`, body };
    }
  }
  return undefined;
}

function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");
}

/** A proto field name as its JSON name: cart_id → cartId. */
function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
