import type { DescMessage, DescService, Registry } from "@bufbuild/protobuf";
import { readClaimsMessage } from "./access-options.js";
import type { EntityMethodModel, Fail } from "./entity-methods.js";
import { entityBaseName, kebab, lookupMessage, readEntityMethods } from "./entity-methods.js";
import type { KeyValueEntityOptions } from "./gen/orrery/v1/options_pb.js";
import type { ProblemReport } from "./problem-report.js";

/** Everything the generator needs about one key-value entity service, validated. */
export interface KeyValueEntityModel {
  readonly kind: "key-value-entity";
  readonly service: DescService;
  /** The stable, persisted entity type, e.g. "customer". */
  readonly type: string;
  /** Prefix of the generated names: the service name without a trailing "Service". */
  readonly baseName: string;
  readonly state: DescMessage;
  readonly methods: readonly EntityMethodModel[];
  /** The message `(orrery.v1.service).claims` names: the type of the handlers' `ctx.principal.claims`. */
  readonly claims: DescMessage | undefined;
}

const optionPath = "(orrery.v1.component).key_value_entity";
// Members of KeyValueEntityBehavior in @orrery/sdk; an rpc may not take their names.
const behaviorMembers = new Set(["initialState"]);

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
  let ok = true;
  const fail: Fail = (site, problem, fix) => {
    report.add({ service, ...site }, problem, fix);
    ok = false;
  };
  const type = options.type.trim();
  if (type === "") {
    fail({ option: `${optionPath}.type` }, "the entity type is empty", `set type to the stable name stored with the entity's state, e.g. type: "${kebab(entityBaseName(service))}"`);
  }
  let state: DescMessage | undefined;
  if (options.state.trim() === "") {
    fail({ option: `${optionPath}.state` }, "no state message is named", "set state to the message stored as the entity's state");
  } else {
    state = lookupMessage(service, registry, `${optionPath}.state`, options.state, fail);
  }
  const methods = readEntityMethods(service, "a key-value entity", behaviorMembers, registry, fail);
  const claims = readClaimsMessage(service, true, registry, fail);
  if (!ok || state === undefined) return undefined;
  return { kind: "key-value-entity", service, type, baseName: entityBaseName(service), state, methods, claims };
}
