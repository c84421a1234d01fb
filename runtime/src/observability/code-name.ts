import { Code } from "@connectrpc/connect";

// "ok", "canceled", …, "unauthenticated": Connect's wire names, indexed by code.
const names = ["ok", ...Array.from({ length: 16 }, (_, i) => (Code[i + 1] ?? "unknown").replace(/(?<!^)([A-Z])/g, "_$1").toLowerCase())];

/** A call's outcome as Connect names it on the wire (`"invalid_argument"`); undefined is `"ok"`. */
export function codeName(code: Code | undefined): string {
  return names[code ?? 0] ?? "unknown";
}

/**
 * Whether a call answered with `code` failed on the server's side, as
 * OpenTelemetry's gRPC conventions judge it: the caller's mistakes
 * (INVALID_ARGUMENT, NOT_FOUND, …) leave a gRPC server span's status unset.
 * (Connect's conventions mark every error code as failed.)
 */
export function isServerFault(code: Code | undefined): boolean {
  return code === Code.Unknown || code === Code.DeadlineExceeded || code === Code.Unimplemented ||
    code === Code.Internal || code === Code.Unavailable || code === Code.DataLoss;
}
