// The counter's behaviour: each command decides from the state what to persist
// and what to reply; applyEvent folds the persisted events into the state.
import { create } from "@bufbuild/protobuf";
import { Code } from "@orrery/sdk";
import { Counter } from "./gen/counter/v1/counter_orrery.js";
import type { CounterEvent, CounterHandlers, CounterState } from "./gen/counter/v1/counter_orrery.js";
import { CounterSchema, IncreasedSchema, ResetSchema } from "./gen/counter/v1/counter_pb.js";

export const counterHandlers: CounterHandlers = {
  initialState: (counterId) => create(CounterSchema, { counterId, value: 0n }),

  applyEvent(state: CounterState, event: CounterEvent): CounterState {
    switch (event.$typeName) {
      case "counter.v1.Increased":
        state.value += BigInt(event.by);
        return state;
      case "counter.v1.Reset":
        state.value = 0n;
        return state;
    }
  },

  increase(state, command, ctx) {
    if (command.by < 1) return ctx.error(Code.InvalidArgument, `by must be at least 1, got ${command.by}`);
    return ctx.persist(create(IncreasedSchema, { by: command.by })).thenReply((counter) => counter);
  },

  reset(state, _command, ctx) {
    if (state.value === 0n) return ctx.error(Code.FailedPrecondition, `counter ${JSON.stringify(state.counterId)} is zero already`);
    return ctx.persist(create(ResetSchema)).thenReply((counter) => counter);
  },

  getCounter(state, _command, ctx) {
    return ctx.reply(state);
  },
};

/** The counter entity, ready to serve. */
export const counter = Counter.implement(counterHandlers);
