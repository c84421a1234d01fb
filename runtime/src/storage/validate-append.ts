import type { AppendRequest } from "./journal-records.js";
import { StorageError } from "./storage-errors.js";

/**
 * Rejects an append that the database would refuse, before it can join a
 * batch and fail the other appends with it: sequence numbers that are not
 * positive, consecutive integers; empty names; NUL characters, which
 * PostgreSQL text and jsonb cannot hold; payloads that are not bytes.
 */
export function validateAppend(request: AppendRequest): void {
  const { entityType, entityId, events, snapshot } = request;
  const fail = (problem: string): never => {
    throw new StorageError(`invalid append to ${entityType} "${entityId}": ${problem}`);
  };
  checkText(entityType, "the entity type", fail);
  checkText(entityId, "the entity id", fail, true);
  let expected: number | undefined;
  for (const event of events) {
    if (!Number.isSafeInteger(event.seqNr) || event.seqNr < 1) fail(`sequence number ${event.seqNr} is not a positive integer`);
    if (expected !== undefined && event.seqNr !== expected) fail(`event ${event.seqNr} follows event ${expected - 1}; sequence numbers must be consecutive`);
    expected = event.seqNr + 1;
    checkText(event.eventType, `the type of event ${event.seqNr}`, fail);
    if (!(event.payload instanceof Uint8Array)) fail(`the payload of event ${event.seqNr} is not a Uint8Array`);
    for (const [key, value] of Object.entries(event.metadata ?? {})) {
      if (typeof value !== "string" || key.includes("\u0000") || value.includes("\u0000")) {
        fail(`metadata "${key}" of event ${event.seqNr} must be a string without NUL characters`);
      }
    }
  }
  if (snapshot !== undefined) {
    if (!Number.isSafeInteger(snapshot.seqNr) || snapshot.seqNr < 0) fail(`snapshot sequence number ${snapshot.seqNr} is not a non-negative integer`);
    checkText(snapshot.stateType, "the snapshot state type", fail);
    if (!(snapshot.payload instanceof Uint8Array)) fail("the snapshot payload is not a Uint8Array");
  }
}

function checkText(value: unknown, what: string, fail: (problem: string) => never, allowEmpty = false): void {
  if (typeof value !== "string" || (!allowEmpty && value === "")) fail(`${what} must be a non-empty string`);
  else if (value.includes("\u0000")) fail(`${what} contains a NUL character`);
}
