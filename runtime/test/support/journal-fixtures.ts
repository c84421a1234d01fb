import { randomBytes } from "node:crypto";
import type { JournalEvent } from "../../src/storage/index.js";

/** Bytes from numbers. */
export const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

/** An event with a one-byte payload equal to its sequence number, unless given. */
export const event = (seqNr: number, eventType = "test.v1.Happened", payload = bytes(seqNr)): JournalEvent => ({
  seqNr,
  eventType,
  payload,
});

let counter = 0;
/** A fresh entity id per use, so tests sharing a database never collide. */
export const newId = (): string => `e${++counter}-${randomBytes(3).toString("hex")}`;

/** A statement-capturing logger for asserting the SQL a test caused. */
export function captureStatements(): { statements: string[]; logger: { debug(fields: Record<string, unknown>): void; warn(): void } } {
  const statements: string[] = [];
  return { statements, logger: { debug: (fields) => void statements.push(String(fields["sql"])), warn() {} } };
}
