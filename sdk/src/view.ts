import type { DescMessage, DescService, Message } from "@bufbuild/protobuf";
import { bindHandlers } from "./bind-handlers.js";
import type { CompiledViewQuery } from "./view-query-plan.js";

/** One table of a view: its rows, the component that feeds it, and the handler of each kind of update. */
export interface ViewTableSpec {
  /** The table's name in the view's queries, e.g. "customers". */
  readonly name: string;
  /** The PostgreSQL table, a quoted identifier derived from the view's and the table's names. */
  readonly sqlName: string;
  /** The row message; stored as protobuf JSON (proto field names) in a jsonb column, keyed by the source entity's id. */
  readonly row: DescMessage;
  /** The `type` of the entity whose events or state changes feed the table. */
  readonly source: string;
  /** `events` of an event-sourced source, or `states` of a key-value one. */
  readonly feed: "events" | "states";
  /** Per message of the source (an event, or the state) the handler's localName. */
  readonly updates: { readonly [messageType: string]: string };
  /** Messages of the source (events) that leave the table as it is. */
  readonly ignored: readonly string[];
  /** The source's messages, to decode what the feed holds. */
  readonly messages: readonly DescMessage[];
  /** Idempotent statements creating the indexes the view's queries use. */
  readonly indexes: readonly string[];
}

/** What `protoc-gen-orrery` knows about a view service. */
export interface ViewSpec<Svc extends DescService = DescService> {
  /** The stable name its tables and progress are stored under. */
  readonly name: string;
  readonly service: Svc;
  readonly tables: readonly ViewTableSpec[];
  /** The plan of each query method, by its localName, checked and compiled by `buf generate`. */
  readonly queries: { readonly [method: string]: CompiledViewQuery };
}

/** A generated view definition; call `implement` with the update handlers. */
export interface ViewDefinition<Svc extends DescService, Handlers> extends ViewSpec<Svc> {
  readonly kind: "view";
  implement(handlers: Handlers): View<Svc>;
}

/** Creates a view definition; called by generated code, not by hand. */
export function defineView<Svc extends DescService, Handlers>(spec: ViewSpec<Svc>): ViewDefinition<Svc, Handlers> {
  return {
    ...spec,
    kind: "view",
    implement(handlers) {
      const methods = Object.fromEntries(spec.tables.flatMap((t) => Object.values(t.updates).map((m) => [m, true])));
      const byMethod = bindHandlers<AnyViewUpdateHandler>(spec.service, spec.name, methods, handlers as object, "row, update, ctx");
      return { kind: "view", spec, handler: (name) => byMethod.get(name) };
    },
  };
}

/**
 * What an update handler gets besides the current row and the update: which
 * entity it comes from, and the effect builders.
 */
export interface ViewUpdateContext<Row> {
  /** The source entity, whose id is the row's key. */
  readonly entityId: string;
  readonly entityType: string;
  /** The event's sequence number, or the state's revision. */
  readonly sequenceNumber: number;
  /** Store `row` as the entity's row. */
  updateRow(row: Row): ViewUpdateEffect<Row>;
  /** Remove the entity's row. */
  deleteRow(): ViewUpdateEffect<Row>;
  /** Leave the row as it is. */
  ignore(): ViewUpdateEffect<Row>;
}

/** What an update handler decided. */
export type ViewUpdateEffect<Row> =
  | { readonly kind: "update"; readonly row: Row }
  | { readonly kind: "delete" }
  | { readonly kind: "ignore" };

/** An untyped update handler, as the runtime calls it: the current row (undefined when there is none) and the update. */
export type AnyViewUpdateHandler = (row: Message | undefined, update: Message, ctx: ViewUpdateContext<Message>) => ViewUpdateEffect<Message> | Promise<ViewUpdateEffect<Message>>;

/** An implemented view: pass it to `createService({ components })`. */
export interface View<Svc extends DescService = DescService> {
  readonly kind: "view";
  readonly spec: ViewSpec<Svc>;
  /** The update handler by its localName. */
  handler(name: string): AnyViewUpdateHandler | undefined;
}

/** Creates the context of one update; for runtimes and test kits. */
export function createViewUpdateContext<Row>(init: { entityId: string; entityType: string; sequenceNumber: number }): ViewUpdateContext<Row> {
  return {
    ...init,
    updateRow: (row) => ({ kind: "update", row }),
    deleteRow: () => ({ kind: "delete" }),
    ignore: () => ({ kind: "ignore" }),
  };
}
