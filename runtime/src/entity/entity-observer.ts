import type { DescMethod } from "@bufbuild/protobuf";
import type { Span } from "@opentelemetry/api";

/** Told about what entity hosts do (metrics, traces); each part may be left out, and then costs nothing. */
export interface EntityObserver {
  /** An entity was rebuilt from its journal: on first use, after passivation or after a failure. */
  recovered?(entityType: string): void;
  /** `count` idle entities were dropped from memory. */
  passivated?(entityType: string, count: number): void;
  /**
   * An attempt of a workflow step ended after `seconds`: "ok" (it returned a transition), "failed" (it threw or
   * its transition could not be taken), or "abandoned" (it timed out, or the workflow moved on without it).
   */
  stepEnded?(workflowType: string, step: string, outcome: "ok" | "failed" | "abandoned", seconds: number): void;
  /** A command arrived (called in the caller's context); returns its trace, or undefined to leave it alone. */
  command?(entityType: string, entityId: string, method: DescMethod): CommandTrace | undefined;
}

/** One command followed from its arrival until its reply is released. */
export interface CommandTrace {
  /** The command's span: the handler runs in it, and the journal commit links to it. */
  readonly span: Span;
  /** Runs the command's handler with {@link span} as the active context. */
  run<T>(handle: () => Promise<T>): Promise<T>;
  /** The reply is released (`error` undefined) or the command failed. */
  end(error?: unknown): void;
}
