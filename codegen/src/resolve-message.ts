import type { DescMessage, Registry } from "@bufbuild/protobuf";

/** The outcome of looking up a message name written in an Orrery option. */
export type MessageLookup =
  | { readonly kind: "message"; readonly message: DescMessage }
  /** The name exists but is an enum, service or extension. */
  | { readonly kind: "not-a-message"; readonly typeName: string; readonly actualKind: string }
  /** Nothing by that name; `tried` lists the full names looked up, `suggestions` close message names. */
  | { readonly kind: "not-found"; readonly tried: readonly string[]; readonly suggestions: readonly string[] };

/**
 * Resolves a message name from an option: a fully-qualified name (optionally
 * with a leading dot), or a name relative to the package of the service that
 * declares it. An unqualified name tries `<package>.<name>` first.
 */
export function resolveMessage(registry: Registry, packageName: string, name: string): MessageLookup {
  const tried = name.startsWith(".")
    ? [name.slice(1)]
    : packageName === ""
      ? [name]
      : [`${packageName}.${name}`, name];
  for (const typeName of tried) {
    const desc = registry.get(typeName);
    if (desc === undefined) continue;
    if (desc.kind === "message") return { kind: "message", message: desc };
    return { kind: "not-a-message", typeName, actualKind: desc.kind };
  }
  return { kind: "not-found", tried, suggestions: suggestMessages(registry, packageName, name) };
}

/** Up to three message names close to `name`, written the way the user would write them. */
function suggestMessages(registry: Registry, packageName: string, name: string): string[] {
  const wanted = name.replace(/^\./, "").toLowerCase();
  const scored: { label: string; distance: number }[] = [];
  for (const desc of registry) {
    if (desc.kind !== "message" || desc.file.proto.name.startsWith("google/protobuf/")) continue;
    const relative =
      packageName !== "" && desc.typeName.startsWith(`${packageName}.`)
        ? desc.typeName.slice(packageName.length + 1)
        : desc.typeName;
    const distance = Math.min(
      editDistance(wanted, relative.toLowerCase()),
      editDistance(wanted, desc.typeName.toLowerCase()),
    );
    if (distance <= Math.max(2, Math.floor(wanted.length / 3))) scored.push({ label: relative, distance });
  }
  scored.sort((a, b) => a.distance - b.distance || a.label.localeCompare(b.label));
  return scored.slice(0, 3).map((s) => s.label);
}

/** Levenshtein distance; names are short, so the quadratic table is cheap. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
