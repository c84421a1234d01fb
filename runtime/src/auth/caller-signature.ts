// The signed `orrery-caller` header: how a call from another service of the
// project, or from a node of the cluster, proves where it comes from. It is an
// HMAC with the project's ORRERY_CLUSTER_SECRET over the caller, the time, a
// nonce and the procedure (the scheme of call-signature.ts), accepted once.
import type { Interceptor } from "@connectrpc/connect";
import { createCallSigner, createCallVerifier } from "../cluster/call-signature.js";
import type { CallVerifier } from "../cluster/call-signature.js";

/** The request header carrying the caller's signature. */
export const CALLER_HEADER = "orrery-caller";

const callerForm = /^(service:[A-Za-z0-9][A-Za-z0-9._-]*|cluster:[^\s]+)$/;

const procedureOf = (req: { service: { typeName: string }; method: { name: string } }) => new TextEncoder().encode(`/${req.service.typeName}/${req.method.name}`);

/**
 * A client interceptor that signs every call as coming from `caller`:
 * "service:<name>" for another service of the project (its ACL principal is
 * "service:<name>"), or "cluster:<node>" for a node of the cluster ("cluster").
 * `secret` is the project's ORRERY_CLUSTER_SECRET.
 *
 * @example
 * const transport = createConnectTransport({ baseUrl, interceptors: [signCallsAs("service:orders", process.env.ORRERY_CLUSTER_SECRET!)] });
 */
export function signCallsAs(caller: string, secret: string): Interceptor {
  if (!callerForm.test(caller)) throw new Error(`signCallsAs: the caller ${JSON.stringify(caller)} is not "service:<name>" or "cluster:<node>"`);
  const signer = createCallSigner(secret, () => caller);
  return (next) => (req) => {
    const signed = signer.sign(procedureOf(req));
    req.header.set(CALLER_HEADER, ["v1", signed.sender, String(signed.signedAtMs), Buffer.from(signed.nonce).toString("base64url"), Buffer.from(signed.signature).toString("base64url")].join(" "));
    return next(req);
  };
}

/** Checks `orrery-caller` headers; see {@link createCallerCheck}. */
export interface CallerCheck {
  /** The ACL principal of the signed caller ("service:<name>" or "cluster"), or the reason the header is refused. */
  check(header: string, req: { service: { typeName: string }; method: { name: string } }): { principal: string } | { problem: string };
}

/** Creates the check with the project's secret; undefined `secret` refuses every signed caller. */
export function createCallerCheck(secret: string | undefined): CallerCheck {
  const verifier: CallVerifier | undefined = secret === undefined ? undefined : createCallVerifier(secret);
  return {
    check(header, req) {
      if (verifier === undefined) return { problem: "this service has no ORRERY_CLUSTER_SECRET, so it trusts no signed caller" };
      const [version, sender, at, nonce, signature] = header.split(" ");
      if (version !== "v1" || sender === undefined || !callerForm.test(sender) || at === undefined || !/^\d{1,16}$/.test(at) || nonce === undefined || signature === undefined) {
        return { problem: `the ${CALLER_HEADER} header is malformed` };
      }
      const problem = verifier.verify({ call: procedureOf(req), sender, signedAtMs: BigInt(at), nonce: Buffer.from(nonce, "base64url"), signature: Buffer.from(signature, "base64url") });
      if (problem !== undefined) return { problem: `the ${CALLER_HEADER} header is refused: ${problem}` };
      return { principal: sender.startsWith("cluster:") ? "cluster" : sender };
    },
  };
}
