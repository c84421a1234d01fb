// The client's address a call is counted and logged by: the TCP peer, or —
// only when that peer is a trusted proxy (ORRERY_TRUSTED_PROXIES) — the
// right-most address of X-Forwarded-For that is not a trusted proxy itself.
// Entries left of it are whatever the client wrote, so they never count.
import { BlockList, isIP } from "node:net";
import { createContextKey } from "@connectrpc/connect";

/** The client's IP address, in every call's context values (`req.contextValues.get(clientAddressKey)` in an interceptor). */
export const clientAddressKey = createContextKey<string | undefined>(undefined, { description: "the client's IP address" });

/** What a request offers to tell its client's address. */
export interface AddressedRequest {
  readonly socket?: { readonly remoteAddress?: string | undefined } | undefined;
  readonly headers: { readonly [name: string]: string | string[] | undefined };
}

/** Reads a request's client address; see {@link createClientAddress}. */
export type ClientAddress = (req: AddressedRequest) => string | undefined;

/** What is wrong with `entries` as trusted proxies (IP addresses or CIDR ranges), one line each. */
export function trustedProxyProblems(entries: readonly string[], name: string): string[] {
  return entries.flatMap((entry) => (rangeOf(entry) === undefined
    ? [`${name} lists ${JSON.stringify(entry)}, which is not an IP address or a CIDR range (e.g. 10.0.0.7, 10.0.0.0/8, fd00::/8)`]
    : []));
}

/** A reader trusting X-Forwarded-For from the peers in `trustedProxies` (checked IPs or CIDRs) only; none: the peer is the client. */
export function createClientAddress(trustedProxies: readonly string[]): ClientAddress {
  if (trustedProxies.length === 0) return (req) => normalized(req.socket?.remoteAddress);
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const range = rangeOf(entry)!;
    trusted.addSubnet(range.address, range.prefix, range.family);
  }
  const isTrusted = (address: string): boolean => trusted.check(address, isIP(address) === 6 ? "ipv6" : "ipv4");
  return (req) => {
    const peer = normalized(req.socket?.remoteAddress);
    if (peer === undefined || !isTrusted(peer)) return peer;
    const header = req.headers["x-forwarded-for"];
    const hops = (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",").map((s) => s.trim()).filter((s) => s !== "");
    let nearest = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalized(withoutPort(hops[i]!));
      // Not an address: written by someone no trusted proxy vouches for; the nearest known hop stands in for the client.
      if (hop === undefined || isIP(hop) === 0) return nearest;
      if (!isTrusted(hop)) return hop;
      nearest = hop;
    }
    return nearest;
  };
}

/** An IP or CIDR as BlockList takes it; undefined when it is neither. */
function rangeOf(entry: string): { address: string; prefix: number; family: "ipv4" | "ipv6" } | undefined {
  const [address = "", prefix, ...rest] = entry.trim().split("/");
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (!(bits >= 0 && bits <= max)) return undefined;
  return { address, prefix: bits, family: version === 4 ? "ipv4" : "ipv6" };
}

/** An IPv4 address as itself when the socket reports it IPv4-mapped (::ffff:10.0.0.7). */
function normalized(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped === null ? address : mapped[1];
}

/** "10.0.0.7:51234" → "10.0.0.7", "[2001:db8::1]:443" → "2001:db8::1"; a bare address unchanged. */
function withoutPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed !== null) return bracketed[1]!;
  return /^\d+\.\d+\.\d+\.\d+:\d+$/.test(hop) ? hop.slice(0, hop.lastIndexOf(":")) : hop;
}
