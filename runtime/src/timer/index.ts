// Durable timers: rows in the database, fired by the owner of each timer's shard through the routing point.

export { createTimerService, TIMER_CHANNEL, TIMER_DUE_HEADER, TIMER_HEADER, TIMER_SHARD_TYPE } from "./timer-service.js";
export type { TimerPlacement, TimerService, TimerServiceOptions } from "./timer-service.js";
export { earliestTimers, settleTimer, writeTimers } from "./timer-rows.js";
export type { NewTimer, TimerRow } from "./timer-rows.js";
