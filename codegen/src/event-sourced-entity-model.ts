import type { DescMessage, DescService, Registry } from "@bufbuild/protobuf";
import { readClaimsMessage } from "./access-options.js";
import type { EntityMethodModel, Fail } from "./entity-methods.js";
import { entityBaseName, kebab, lookupMessage, readEntityMethods } from "./entity-methods.js";
import type { EventSourcedEntityOptions } from "./gen/orrery/v1/options_pb.js";
import type { ProblemReport } from "./problem-report.js";

export type { EntityMethodModel } from "./entity-methods.js";
export { entityBaseName } from "./entity-methods.js";

/** Everything the generator needs about one event-sourced entity service, validated. */
export interface EventSourcedEntityModel {
  readonly kind: "event-sourced-entity";
  readonly service: DescService;
  /** The stable, persisted entity type, e.g. "shopping-cart". */
  readonly type: string;
  /** Prefix of the generated names: the service name without a trailing "Service". */
  readonly baseName: string;
  readonly state: DescMessage;
  readonly events: readonly DescMessage[];
  readonly snapshotEvery: number;
  readonly methods: readonly EntityMethodModel[];
  /** The message `(orrery.v1.service).claims` names: the type of the handlers' `ctx.principal.claims`. */
  readonly claims: DescMessage | undefined;
}

const optionPath = "(orrery.v1.component).event_sourced_entity";
// Members of EventSourcedEntityBehavior in @orrery/sdk; an rpc may not take their names.
const behaviorMembers = new Set(["applyEvent", "initialState"]);

/**
 * Validates an `event_sourced_entity` option and the service's rpcs, recording
 * every problem in `report`. Returns the model only when nothing is wrong.
 */
export function readEventSourcedEntity(
  service: DescService,
  options: EventSourcedEntityOptions,
  registry: Registry,
  report: ProblemReport,
): EventSourcedEntityModel | undefined {
  let ok = true;
  const fail: Fail = (site, problem, fix) => {
    report.add({ service, ...site }, problem, fix);
    ok = false;
  };
  const type = options.type.trim();
  if (type === "") {
    fail({ option: `${optionPath}.type` }, "the entity type is empty", `set type to the stable name persisted with every event, e.g. type: "${kebab(entityBaseName(service))}"`);
  }
  let state: DescMessage | undefined;
  if (options.state.trim() === "") {
    fail({ option: `${optionPath}.state` }, "no state message is named", "set state to the message that holds the entity's state");
  } else {
    state = lookupMessage(service, registry, `${optionPath}.state`, options.state, fail);
  }
  if (options.events.length === 0) {
    fail({ option: `${optionPath}.events` }, "no events are listed", 'list every event message the entity persists, e.g. events: ["ItemAdded", "ItemRemoved"]');
  }
  const events: DescMessage[] = [];
  for (const name of options.events) {
    const event = lookupMessage(service, registry, `${optionPath}.events`, name, fail);
    if (event === undefined) continue;
    if (events.includes(event)) {
      fail({ option: `${optionPath}.events` }, `event ${event.typeName} is listed more than once`, `list "${name}" once`);
    } else {
      events.push(event);
    }
  }
  const methods = readEntityMethods(service, "an event-sourced entity", behaviorMembers, registry, fail);
  const claims = readClaimsMessage(service, undefined, registry, fail);
  if (!ok || state === undefined) return undefined;
  return { kind: "event-sourced-entity", service, type, baseName: entityBaseName(service), state, events, snapshotEvery: options.snapshotEvery, methods, claims };
}

