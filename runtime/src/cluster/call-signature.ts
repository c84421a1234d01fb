import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The shortest cluster secret accepted, in characters. */
export const MIN_CLUSTER_SECRET_LENGTH = 16;

/** How far a signed call's time may be from the receiver's clock, either way (default 10 s). */
export const defaultSignatureWindowMs = 10_000;

/** The signature fields of a forwarded call; see {@link createCallSigner}. */
export interface SignedCall {
  /** The serialized call: what is signed, byte for byte. */
  readonly call: Uint8Array;
  /** The sending node, "name/incarnation". */
  readonly sender: string;
  readonly signedAtMs: bigint;
  readonly nonce: Uint8Array;
  readonly signature: Uint8Array;
}

/** Signs the calls this node sends to its peers. */
export interface CallSigner {
  sign(call: Uint8Array): SignedCall;
}

/** Checks the calls peers send to this node. */
export interface CallVerifier {
  /** Undefined when `call` is authentic, fresh and seen for the first time; else why it is rejected. */
  verify(call: SignedCall): string | undefined;
}

// Version tag first, so that a later scheme can never be confused with this one.
const scheme = "orrery-forward-v1";

function mac(secret: string, call: Omit<SignedCall, "signature">): Buffer {
  const bodyHash = createHash("sha256").update(call.call).digest("hex");
  return createHmac("sha256", secret)
    .update(`${scheme}\n${call.sender}\n${call.signedAtMs}\n${Buffer.from(call.nonce).toString("hex")}\n${bodyHash}`)
    .digest();
}

/**
 * A signer for calls from `sender()` (this node's "name/incarnation" at the
 * time of the call): HMAC-SHA256 with the cluster secret over the scheme's
 * version tag, the sender, the time, a nonce (8 random bytes per signer and a
 * counter) and the SHA-256 of the serialized call.
 */
export function createCallSigner(secret: string, sender: () => string): CallSigner {
  // The nonce: 8 random bytes of this signer, then a counter; unique per call without a random draw per call.
  const prefix = randomBytes(8);
  let counter = 0n;
  return {
    sign(call) {
      const nonce = Buffer.allocUnsafe(16);
      prefix.copy(nonce, 0);
      nonce.writeBigUInt64BE(++counter, 8);
      const unsigned = { call, sender: sender(), signedAtMs: BigInt(Date.now()), nonce };
      return { ...unsigned, signature: mac(secret, unsigned) };
    },
  };
}

/**
 * A verifier of peers' calls: the signature must match the cluster secret,
 * the time must be within `windowMs` of this node's clock (so nodes' clocks
 * must agree that closely: NTP keeps them within milliseconds), and each
 * (sender, nonce) is accepted once: a replay within the window is caught by
 * the nonces remembered, one outside it by the time.
 */
export function createCallVerifier(secret: string, windowMs = defaultSignatureWindowMs, now: () => number = Date.now): CallVerifier {
  // Two generations, rotated every 2 windows: every nonce is remembered for at least 2 windows,
  // as long as a call signed at t can be accepted (until t + window, received from t - window on).
  let current = new Set<string>();
  let previous = new Set<string>();
  let rotatedAt = now();
  return {
    verify(call) {
      if (call.sender.length === 0 || call.sender.length > 300) return "it names no sender";
      if (call.nonce.length !== 16 || call.signature.length !== 32) return "it is not signed (nonce or signature missing)";
      const expected = mac(secret, call);
      if (!timingSafeEqual(expected, call.signature)) return `its signature does not match this node's cluster secret (sender ${call.sender}); every node needs the same ORRERY_CLUSTER_SECRET`;
      const t = now();
      const skew = Number(call.signedAtMs) - t;
      if (!(Math.abs(skew) <= windowMs)) {
        return `it was signed ${Math.abs(skew)} ms ${skew < 0 ? "ago" : "in the future"} by ${call.sender}, outside the ${windowMs} ms window: a replay, or the nodes' clocks differ`;
      }
      if (t - rotatedAt >= 2 * windowMs) {
        previous = t - rotatedAt >= 4 * windowMs ? new Set() : current;
        current = new Set();
        rotatedAt = t;
      }
      const key = `${call.sender}\u0000${Buffer.from(call.nonce).toString("base64")}`;
      if (current.has(key) || previous.has(key)) return `it is a replay of a call ${call.sender} sent before (same nonce)`;
      current.add(key);
      return undefined;
    },
  };
}
