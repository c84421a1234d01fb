// The path template grammar of google.api.http, shared by protoc-gen-orrery (which checks templates
// at generate time) and the runtime (which matches requests against them). Not for component authors.
// google.api.http path templates: parsed once, matched against request paths,
// ordered by precedence, and checked for routes that can never be told apart.
//
//   Template = "/" Segments [ Verb ] ;
//   Segments = Segment { "/" Segment } ;
//   Segment  = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ;
//   FieldPath = IDENT { "." IDENT } ;
//   Verb     = ":" LITERAL ;
//
// (google/api/http.proto). `{name}` is `{name=*}`. `*` matches one segment,
// `**` any number of them (only as the last segment). A variable that matches
// one segment gets its value fully percent-decoded; one that can match several
// keeps "%2F" encoded, so its "/" stay distinguishable (the reserved expansion
// of RFC 6570 that http.proto prescribes).

/** One segment of a parsed template. */
export type TemplateSegment =
  | { readonly kind: "literal"; readonly value: string }
  | { readonly kind: "wildcard" } // *
  | { readonly kind: "deep-wildcard" }; // **

/** A variable: the field path it binds and the segments [start, end) it covers. */
export interface TemplateVariable {
  /** e.g. ["shelf", "name"] for `{shelf.name=...}`. */
  readonly fieldPath: readonly string[];
  readonly start: number;
  readonly end: number;
}

/** A parsed path template. */
export interface PathTemplate {
  /** The template as written, for messages. */
  readonly source: string;
  readonly segments: readonly TemplateSegment[];
  readonly variables: readonly TemplateVariable[];
  /** The custom verb after ":" (e.g. "cancel"), if any. */
  readonly verb: string | undefined;
}

/** A template that breaks the grammar; the message says where and why. */
export class PathTemplateError extends Error {
  override readonly name = "PathTemplateError";
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Unreserved, sub-delims, ":" and "@" (RFC 3986 pchar) and percent-encodings; "*", "{", "}", "/" and "=" have meaning here.
const LITERAL = /^(?:[A-Za-z0-9\-._~!$&'()+,;:@]|%[0-9A-Fa-f]{2})+$/;

/** Parses `source` (e.g. "/v1/{name=shelves/*}/books:cancel"); a `PathTemplateError` names the position. */
export function parsePathTemplate(source: string): PathTemplate {
  const fail = (at: number, why: string): never => {
    throw new PathTemplateError(`path template ${JSON.stringify(source)}, at character ${at + 1}: ${why}`);
  };
  if (!source.startsWith("/")) fail(0, 'must start with "/"');
  let body = source.slice(1);
  let verb: string | undefined;
  // The verb is a ":" after the last "/" that is outside braces.
  const lastSlash = lastIndexOutsideBraces(body, "/");
  const colon = lastIndexOutsideBraces(body, ":");
  if (colon > lastSlash) {
    verb = body.slice(colon + 1);
    if (!LITERAL.test(verb) || verb.includes(":")) fail(colon + 2, `custom verb ${JSON.stringify(verb)} must be a non-empty literal`);
    body = body.slice(0, colon);
  }
  const segments: TemplateSegment[] = [];
  const variables: TemplateVariable[] = [];
  let at = 0; // index into body
  const offset = 1; // body starts after the leading "/"
  const parseSegments = (stop: string | undefined, inVariable: boolean): void => {
    for (;;) {
      if (body[at] === "{") {
        if (inVariable) fail(offset + at, "a variable cannot hold another variable");
        const close = body.indexOf("}", at);
        if (close < 0) fail(offset + at, 'the variable has no closing "}"');
        const inner = body.slice(at + 1, close);
        const eq = inner.indexOf("=");
        const path = eq < 0 ? inner : inner.slice(0, eq);
        const fieldPath = path.split(".");
        if (fieldPath.some((p) => !IDENT.test(p))) fail(offset + at + 1, `${JSON.stringify(path)} is not a field path (identifiers joined by ".")`);
        const first = segments.length;
        if (eq < 0) {
          segments.push({ kind: "wildcard" });
          at = close + 1;
        } else {
          at = at + 1 + eq + 1;
          if (at === close) fail(offset + at, `the variable ${path} has "=" but no segments after it`);
          parseSegments("}", true);
          at++; // past "}"
        }
        variables.push({ fieldPath, start: first, end: segments.length });
      } else {
        let end = at;
        while (end < body.length && body[end] !== "/" && body[end] !== stop) end++;
        const text = body.slice(at, end);
        if (text === "") fail(offset + at, "empty segment (two slashes, or a slash at the end)");
        else if (text === "*") segments.push({ kind: "wildcard" });
        else if (text === "**") segments.push({ kind: "deep-wildcard" });
        else if (!LITERAL.test(text)) fail(offset + at, `${JSON.stringify(text)} is not a literal segment`);
        else segments.push({ kind: "literal", value: decodeURIComponent(text) });
        at = end;
      }
      if (at >= body.length || body[at] === stop) return;
      if (body[at] !== "/") fail(offset + at, `unexpected ${JSON.stringify(body[at])}`);
      at++;
    }
  };
  if (body === "") fail(1, "needs at least one segment");
  parseSegments(undefined, false);
  const deep = segments.findIndex((s) => s.kind === "deep-wildcard");
  if (deep >= 0 && deep !== segments.length - 1) fail(0, '"**" may only be the last segment');
  const seen = new Set<string>();
  for (const v of variables) {
    const name = v.fieldPath.join(".");
    if (seen.has(name)) fail(0, `the field ${name} is bound twice`);
    seen.add(name);
  }
  return { source, segments, variables, verb };
}

function lastIndexOutsideBraces(text: string, char: string): number {
  let depth = 0;
  let found = -1;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}") depth--;
    else if (text[i] === char && depth === 0) found = i;
  }
  return found;
}

/** The values bound by a match, by dotted field path ("shelf.name"). */
export type PathBindings = ReadonlyMap<string, string>;

/**
 * Matches a request path (as sent: percent-encoded, without the query) against
 * `template`; the bindings, or undefined when it does not match.
 */
export function matchPathTemplate(template: PathTemplate, requestPath: string): PathBindings | undefined {
  if (!requestPath.startsWith("/")) return undefined;
  let rest = requestPath.slice(1);
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  let verb: string | undefined;
  if (template.verb !== undefined) {
    if (colon <= lastSlash) return undefined;
    verb = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (safeDecode(verb) !== template.verb) return undefined;
  }
  const parts = rest === "" ? [] : rest.split("/");
  const { segments } = template;
  const deep = segments.length > 0 && segments[segments.length - 1]!.kind === "deep-wildcard";
  if (deep ? parts.length < segments.length - 1 : parts.length !== segments.length) return undefined;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment.kind === "deep-wildcard") break;
    const part = parts[i]!;
    if (part === "") return undefined;
    if (segment.kind === "literal" && safeDecode(part) !== segment.value) return undefined;
  }
  const bindings = new Map<string, string>();
  for (const v of template.variables) {
    const last = v.end === segments.length && deep ? parts.length : v.end;
    const covered = parts.slice(v.start, last);
    const multi = v.end - v.start > 1 || segments[v.end - 1]?.kind === "deep-wildcard";
    const value = multi ? covered.map(decodeKeepingSlash).join("/") : safeDecode(covered[0] ?? "");
    if (value === undefined) return undefined;
    bindings.set(v.fieldPath.join("."), value);
  }
  for (const part of parts) if (safeDecode(part) === undefined) return undefined;
  return bindings;
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** Decodes a segment of a multi-segment variable but keeps an encoded "/" as "%2F". */
function decodeKeepingSlash(text: string): string {
  return text.split(/%2F/i).map((piece) => safeDecode(piece) ?? piece).join("%2F");
}

/**
 * Orders two templates for matching: the more specific first. Segment by
 * segment, a literal beats `*`, which beats `**`; then more segments first; a
 * template with a verb before one without.
 */
export function comparePrecedence(a: PathTemplate, b: PathTemplate): number {
  const rank = (s: TemplateSegment | undefined): number => (s === undefined ? 3 : s.kind === "literal" ? 0 : s.kind === "wildcard" ? 1 : 2);
  for (let i = 0; i < Math.max(a.segments.length, b.segments.length); i++) {
    const d = rank(a.segments[i]) - rank(b.segments[i]);
    if (d !== 0) return d;
  }
  if ((a.verb === undefined) !== (b.verb === undefined)) return a.verb === undefined ? 1 : -1;
  return 0;
}

/**
 * Whether no request path could tell the two templates apart by precedence:
 * the same shape (literals equal, wildcards in the same places) and the same
 * verb. Two such routes on one HTTP method are a conflict.
 */
export function sameRoute(a: PathTemplate, b: PathTemplate): boolean {
  if (a.verb !== b.verb || a.segments.length !== b.segments.length) return false;
  return a.segments.every((s, i) => {
    const t = b.segments[i]!;
    return s.kind === t.kind && (s.kind !== "literal" || s.value === (t as { value: string }).value);
  });
}
