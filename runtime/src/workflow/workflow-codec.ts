import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Message } from "@bufbuild/protobuf";
import { HandlerFailure } from "@orrery/sdk";
import type { Workflow, WorkflowRecord, WorkflowStatus, WorkflowStep } from "@orrery/sdk";

/** The `state_type` of a workflow's row in `orrery_kv_state`: its payload is this record, as JSON. */
export const WORKFLOW_RECORD_TYPE = "orrery.workflow.v1.Record";

/** The stored form: short keys, messages as protobuf binary in base64 under their type names. */
interface StoredRecord {
  v: 1;
  status: WorkflowStatus;
  stateType: string;
  state: string;
  visits: number;
  step?: { name: string; inputType?: string; input?: string; visit: number; attempt: number; startedAt: number; retryAt?: number; lastError?: string };
  pause?: { until?: number; then?: { step: string; inputType?: string; input?: string } };
  deadline?: number;
  failure?: string;
}

/** Encodes a record for its row; throws `HandlerFailure` when a message cannot be encoded. */
export function encodeWorkflowRecord(workflow: Workflow, record: WorkflowRecord): Uint8Array {
  const stored: StoredRecord = {
    v: 1,
    status: record.status,
    stateType: record.state.$typeName,
    state: base64(() => toBinary(workflow.spec.state, record.state), "the state"),
    visits: record.visits,
  };
  const step = record.step;
  if (step !== undefined) {
    const declared = stepOf(workflow, step.name)?.input;
    stored.step = {
      name: step.name, visit: step.visit, attempt: step.attempt, startedAt: step.startedAt,
      ...(step.retryAt === undefined ? {} : { retryAt: step.retryAt }),
      ...(step.lastError === undefined ? {} : { lastError: step.lastError }),
      ...(step.input === undefined || declared === undefined ? {} : { inputType: step.input.$typeName, input: base64(() => toBinary(declared, step.input!), `the input of step "${step.name}"`) }),
    };
  }
  if (record.pause !== undefined) {
    const then = record.pause.then;
    const declared = then === undefined ? undefined : stepOf(workflow, then.step)?.input;
    stored.pause = {
      ...(record.pause.until === undefined ? {} : { until: record.pause.until }),
      ...(then === undefined ? {} : {
        then: {
          step: then.step,
          ...(then.input === undefined || declared === undefined ? {} : { inputType: then.input.$typeName, input: base64(() => toBinary(declared, then.input!), `the input of step "${then.step}"`) }),
        },
      }),
    };
  }
  if (record.deadline !== undefined) stored.deadline = record.deadline;
  if (record.failure !== undefined) stored.failure = record.failure;
  return new TextEncoder().encode(JSON.stringify(stored));
}

/** Decodes a stored record; throws `HandlerFailure` naming what no longer fits the code (a renamed state or step input). */
export function decodeWorkflowRecord(workflow: Workflow, workflowId: string, payload: Uint8Array): WorkflowRecord {
  const where = `the stored record of ${workflow.spec.type} "${workflowId}"`;
  let stored: StoredRecord;
  try {
    stored = JSON.parse(new TextDecoder().decode(payload)) as StoredRecord;
  } catch (cause) {
    throw new HandlerFailure("state", `${where} is not readable: ${String(cause)}`, { cause });
  }
  if (stored.stateType !== workflow.spec.state.typeName) {
    throw new HandlerFailure("state", `${where} holds a ${stored.stateType} state, but the workflow's state is ${workflow.spec.state.typeName}; a workflow's state message may gain and lose fields, but not change its name`);
  }
  const input = (step: string, type: string | undefined, bytes: string | undefined): Message | undefined => {
    const declared = stepOf(workflow, step)?.input;
    if (stepOf(workflow, step) === undefined) {
      throw new HandlerFailure("state", `${where} is at step "${step}", which the workflow no longer has (${Object.keys(workflow.behavior.steps).join(", ")}); keep the step until the workflows at it have moved on`);
    }
    if (type === undefined || bytes === undefined || declared === undefined) return undefined;
    if (type !== declared.typeName) throw new HandlerFailure("state", `${where} holds a ${type} input for step "${step}", which now takes ${declared.typeName}`);
    return fromBinary(declared, Buffer.from(bytes, "base64"));
  };
  const s = stored.step;
  const then = stored.pause?.then;
  return {
    status: stored.status,
    state: fromBinary(workflow.spec.state, Buffer.from(stored.state, "base64")),
    visits: stored.visits,
    step: s === undefined ? undefined : {
      name: s.name, input: input(s.name, s.inputType, s.input), visit: s.visit, attempt: s.attempt, startedAt: s.startedAt, retryAt: s.retryAt, lastError: s.lastError,
    },
    pause: stored.pause === undefined ? undefined : {
      until: stored.pause.until,
      then: then === undefined ? undefined : { step: then.step, input: input(then.step, then.inputType, then.input) },
    },
    deadline: stored.deadline,
    failure: stored.failure,
  };
}

function stepOf(workflow: Workflow, name: string): WorkflowStep<Message> | undefined {
  return Object.hasOwn(workflow.behavior.steps, name) ? (workflow.behavior.steps as Record<string, WorkflowStep<Message>>)[name] : undefined;
}

function base64(encode: () => Uint8Array, what: string): string {
  try {
    return Buffer.from(encode()).toString("base64");
  } catch (cause) {
    throw new HandlerFailure("state", `${what} could not be encoded: ${String(cause)}`, { cause, summary: `${what} could not be encoded as protobuf binary` });
  }
}
