// Which headers cross a hop between nodes: the caller's metadata does, the
// protocol's own headers do not (the hop speaks its own protocol, and a
// forwarded content-type or grpc-status would corrupt the caller's answer).

const protocolHeaders = new Set([
  "accept", "accept-encoding", "accept-language", "connection", "content-encoding", "content-length", "content-type",
  "date", "host", "keep-alive", "proxy-connection", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary",
]);

const protocolPrefixes = ["connect-", "grpc-", "access-control-", "x-grpc-web", "orrery-forward"];

/** Whether `name` (lower case) is caller metadata that should cross the hop. */
export function isForwardedHeader(name: string): boolean {
  if (name.startsWith(":") || protocolHeaders.has(name)) return false;
  return !protocolPrefixes.some((prefix) => name.startsWith(prefix));
}

/** The caller's metadata of `headers`, for the hop. */
export function forwardedHeaders(headers: Headers | undefined): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  headers?.forEach((value, name) => {
    if (isForwardedHeader(name)) out.push({ name, value });
  });
  return out;
}

/** The metadata of an owner's error as the caller should see it: its own headers and trailers, not the hop's. */
export function errorMetadata(metadata: Headers): Headers {
  const out = new Headers();
  metadata.forEach((value, name) => {
    if (isForwardedHeader(name)) out.append(name, value);
  });
  return out;
}
