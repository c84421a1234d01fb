/**
 * A storage operation failed. `retryable` says whether the same operation may
 * succeed if tried again unchanged (connection loss, timeouts, overload), or
 * whether retrying is pointless (bad schema, bad data, bad configuration).
 * The original driver error is kept as `cause`.
 */
export class StorageError extends Error {
  override name = "StorageError";
  /** True when retrying the same operation later may succeed. */
  readonly retryable: boolean;
  /**
   * Names this failure in the log and in the error a caller receives; the
   * failures of one outage or of one statement share it. Set where it is logged.
   */
  errorId: string | undefined;

  constructor(message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, { cause: options?.cause });
    this.retryable = options?.retryable ?? false;
  }
}

/**
 * The database could not be reached or gave up on the operation for a
 * transient reason (connection refused or lost, server shutting down, statement
 * timeout, serialization failure). Always retryable.
 */
export class StorageUnavailableError extends StorageError {
  override name = "StorageUnavailableError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { cause: options?.cause, retryable: true });
  }
}

/**
 * The connection was lost while an append's statement was on its way or
 * running, and the database could not be asked in time whether it committed:
 * the append may or may not be in the journal. Retryable, but a retry may
 * apply the same command twice.
 */
export class CommitOutcomeUnknownError extends StorageUnavailableError {
  override name = "CommitOutcomeUnknownError";
}

/**
 * The write carried a shard epoch that has moved on: another node owns the
 * shard now (or this node released it). Nothing of it was written. The
 * writer must stop serving the shard and drop its entities' in-memory state.
 */
export class FencedWriteError extends StorageError {
  override name = "FencedWriteError";
  /** The shard and the epoch the writer held. */
  readonly shard: number;
  readonly epoch: number;
  /** The shard's epoch in the database, or undefined when the shard does not exist. */
  readonly currentEpoch: number | undefined;

  constructor(entityType: string, entityId: string, shard: number, epoch: number, currentEpoch: number | undefined, what = "append") {
    super(
      `${what} to ${entityType} "${entityId}" was fenced: it carried epoch ${epoch} of shard ${shard}, ` +
        (currentEpoch === undefined ? "which does not exist" : `which is at epoch ${currentEpoch} now`) +
        "; another node owns the shard, so this node must stop serving it",
    );
    this.shard = shard;
    this.epoch = epoch;
    this.currentEpoch = currentEpoch;
  }
}

/**
 * Another writer already appended an event with this sequence number to the
 * entity: the journal's primary key rejected the append. The in-memory state of
 * the entity is stale; drop it and reload the entity before handling further
 * commands. Not retryable as is.
 */
export class SequenceConflictError extends StorageError {
  override name = "SequenceConflictError";
  /** The entity's persisted type name. */
  readonly entityType: string;
  /** The entity's id. */
  readonly entityId: string;
  /** The first sequence number that was already taken. */
  readonly seqNr: number;

  constructor(entityType: string, entityId: string, seqNr: number, options?: { cause?: unknown }) {
    super(
      `cannot append event ${seqNr} to ${entityType} "${entityId}": another writer appended the same ` +
        `sequence number; the entity will be reloaded`,
      { cause: options?.cause, retryable: false },
    );
    this.entityType = entityType;
    this.entityId = entityId;
    this.seqNr = seqNr;
  }
}

/**
 * Another writer changed the key-value entity's state row since this writer
 * read it: the row is at a later revision than the write was made over.
 * Nothing was written. The writer's in-memory state is stale; drop it and
 * reload the entity. Not retryable as is.
 */
export class RevisionConflictError extends StorageError {
  override name = "RevisionConflictError";
  readonly entityType: string;
  readonly entityId: string;
  /** The revision the write would have created. */
  readonly revision: number;

  constructor(entityType: string, entityId: string, revision: number) {
    super(
      `cannot write revision ${revision} of ${entityType} "${entityId}": another writer changed its state since revision ` +
        `${revision - 1}; the entity will be reloaded`,
      { retryable: false },
    );
    this.entityType = entityType;
    this.entityId = entityId;
    this.revision = revision;
  }
}

// SQLSTATE classes that describe a transient condition: connection exception, insufficient
// resources, operator intervention (shutdown, statement timeout), transaction rollback
// (serialization failure, deadlock).
const retryableSqlStateClasses = new Set(["08", "53", "57", "40"]);
const retryableSqlStates = new Set(["55P03" /* lock_not_available */]);
const retryableErrnos = new Set([
  "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ENOTCONN",
]);
// node-postgres reports a dropped connection without an error code.
const connectionLostMessage = /connection terminated|timeout exceeded when trying to connect|connection error|not queryable/i;
// The server ended the session: admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down).
const sessionEndedSqlStates = new Set(["57P01", "57P02", "57P03"]);

/**
 * Normalises any throwable from a driver into a `StorageError`, classifying it
 * as retryable (`StorageUnavailableError`) or terminal. `context` says what was
 * being done, e.g. "append to the event journal".
 */
export function toStorageError(error: unknown, context: string): StorageError {
  if (error instanceof StorageError) return error;
  const message = `${context} failed: ${describeError(error)}`;
  return isRetryable(error)
    ? new StorageUnavailableError(message, { cause: error })
    : new StorageError(message, { cause: error });
}

/** The message of any throwable; a failed connect to "localhost" (::1 and 127.0.0.1) is an AggregateError without one. */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.message === "") return error.errors.map(describeError).join("; ");
  return error instanceof Error ? error.message : String(error);
}

/** The SQLSTATE (or Node errno) of a driver error, when it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}

/**
 * True when the database could not be reached or the session to it was lost:
 * the server may be down, restarting or cut off. Unlike other retryable
 * failures (a statement timeout, a deadlock) these say nothing about the
 * statement and everything about the connection, so the store is unhealthy.
 */
export function isConnectionFailure(error: unknown): boolean {
  if (error instanceof StorageError) return error instanceof StorageUnavailableError && isConnectionFailure(error.cause);
  const code = errorCode(error);
  if (code !== undefined) {
    if (retryableErrnos.has(code) || sessionEndedSqlStates.has(code) || code.startsWith("08")) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return false;
  }
  if (error instanceof AggregateError) return error.errors.some(isConnectionFailure);
  return error instanceof Error && connectionLostMessage.test(error.message);
}

/** True for driver errors that describe a transient condition (see `StorageUnavailableError`). */
export function isRetryable(error: unknown): boolean {
  const code = errorCode(error);
  if (code !== undefined) {
    if (retryableErrnos.has(code) || retryableSqlStates.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return retryableSqlStateClasses.has(code.slice(0, 2));
  }
  // AggregateError from a multi-address connect attempt (e.g. localhost → ::1 and 127.0.0.1).
  if (error instanceof AggregateError) return error.errors.some(isRetryable);
  return error instanceof Error && connectionLostMessage.test(error.message);
}
