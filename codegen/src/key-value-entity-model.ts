import type { DescMessage, DescService, Registry } from "@bufbuild/protobuf";
import { readClaimsMessage } from "./access-options.js";
import type { EntityMethodModel, Fail } from "./entity-methods.js";
import { entityBaseName, kebab, lookupMessage, readEntityMethods } from "./entity-methods.js";
import type { KeyValueEntityOptions } from "./gen/orrery/v1/options_pb.js";
import type { ProblemReport } from "./problem-report.js";

/** Everything the generator needs about one key-value entity service, validated. */
export interface KeyValueEntityModel extends StateComponentModel<"key-value-entity"> {}

/** A component whose option names a type and a state message (a key-value entity, a workflow), validated. */
export interface StateComponentModel<Kind extends string> {
  readonly kind: Kind;
  readonly service: DescService;
  /** The stable, persisted type, e.g. "customer". */
  readonly type: string;
  /** Prefix of the generated names: the service name without a trailing "Service". */
  readonly baseName: string;
  readonly state: DescMessage;
  readonly methods: readonly EntityMethodModel[];
  /** The message `(orrery.v1.service).claims` names: the type of the handlers' `ctx.principal.claims`. */
  readonly claims: DescMessage | undefined;
}

/**
 * Validates a `key_value_entity` option and the service's rpcs, recording
 * every problem in `report`. Returns the model only when nothing is wrong.
 */
export function readKeyValueEntity(
  service: DescService,
  options: KeyValueEntityOptions,
  registry: Registry,
  report: ProblemReport,
): KeyValueEntityModel | undefined {
  // Members of KeyValueEntityBehavior in @orrery/sdk; an rpc may not take their names.
  return readStateComponent("key-value-entity", { option: "key_value_entity", noun: "entity", kindName: "a key-value entity", behaviorMembers: ["initialState"] }, service, options, registry, report);
}

/** How a kind of state component is named in problems. */
export interface StateComponentKind {
  /** The option's field in ComponentOptions, e.g. "key_value_entity". */
  readonly option: string;
  /** "entity", "workflow". */
  readonly noun: string;
  /** "a key-value entity". */
  readonly kindName: string;
  /** The behaviour's members in @orrery/sdk, which an rpc may not be named. */
  readonly behaviorMembers: readonly string[];
}

/** Validates the `{ type, state }` option of a state component and its rpcs. */
export function readStateComponent<Kind extends string>(
  kind: Kind,
  how: StateComponentKind,
  service: DescService,
  options: { readonly type: string; readonly state: string },
  registry: Registry,
  report: ProblemReport,
): StateComponentModel<Kind> | undefined {
  let ok = true;
  const fail: Fail = (site, problem, fix) => {
    report.add({ service, ...site }, problem, fix);
    ok = false;
  };
  const optionPath = `(orrery.v1.component).${how.option}`;
  const type = options.type.trim();
  if (type === "") {
    fail({ option: `${optionPath}.type` }, `the ${how.noun} type is empty`, `set type to the stable name stored with the ${how.noun}'s state, e.g. type: "${kebab(entityBaseName(service))}"`);
  }
  let state: DescMessage | undefined;
  if (options.state.trim() === "") {
    fail({ option: `${optionPath}.state` }, "no state message is named", `set state to the message stored as the ${how.noun}'s state`);
  } else {
    state = lookupMessage(service, registry, `${optionPath}.state`, options.state, fail);
  }
  const methods = readEntityMethods(service, how.kindName, new Set(how.behaviorMembers), registry, fail);
  const claims = readClaimsMessage(service, kind === "key-value-entity" ? undefined : how.kindName, registry, fail);
  if (!ok || state === undefined) return undefined;
  return { kind, service, type, baseName: entityBaseName(service), state, methods, claims };
}
