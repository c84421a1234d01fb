import type { AppendRequest } from "./journal-records.js";

/** One outcome per append of a batch: undefined when committed, else the error it is rejected with. */
export type CommitOutcomes = ReadonlyArray<Error | undefined>;

/** Told about each batch the journal commits (metrics, traces). */
export interface JournalObserver {
  /** Runs the commit of `batch` (one statement, or a few after a conflict), e.g. timed or inside a span. */
  commit(batch: readonly AppendRequest[], run: () => Promise<CommitOutcomes>): Promise<CommitOutcomes>;
  /** One append settled `seconds` after it was submitted (waiting for its batch included). */
  appended?(seconds: number): void;
}
