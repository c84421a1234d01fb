// What `orrery dev` and the service it runs tell each other over the child's
// IPC channel: the service says where it serves once it listens, whatever its
// LOG_LEVEL; the service stops when `orrery dev` is gone.

/** Set by `orrery dev` in the service's environment, beside the IPC channel it opens. */
export const DEV_CHANNEL_ENV = "ORRERY_DEV_CHANNEL";

interface ServingMessage {
  readonly orrery: "serving";
  readonly url: string;
}

/** Whether this process runs under `orrery dev`, with the channel open. */
function underDev(): boolean {
  return process.env[DEV_CHANNEL_ENV] === "1" && process.send !== undefined && process.connected;
}

/** In the service: tells `orrery dev` that it serves on `url`; does nothing outside `orrery dev`. */
export function announceServing(url: string): void {
  if (!underDev()) return;
  const message: ServingMessage = { orrery: "serving", url };
  process.send!(message, undefined, undefined, () => {}); // a parent gone meanwhile is no error here
}

/**
 * In the service: calls `stop` once `orrery dev` is gone (killed, or crashed)
 * without stopping it, so that no server outlives it. The channel keeps no
 * event loop alive: a service that stops by itself still exits.
 */
export function stopWithDev(stop: () => void): void {
  if (!underDev()) return;
  process.once("disconnect", stop);
  process.channel?.unref();
}

/** In `orrery dev`: the URL of a "serving" message, or undefined for any other message. */
export function servingUrlOf(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const { orrery, url } = message as Partial<ServingMessage>;
  return orrery === "serving" && typeof url === "string" ? url : undefined;
}
