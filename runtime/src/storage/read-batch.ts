// Coalesces concurrent point reads into one statement: the reads asked for
// while one statement runs go together in the next. On PGlite (one
// connection) N entities loaded at once then cost one round trip, not N in a row.

/** One statement for many keys; its result has an entry per key it found. */
export type BatchRead<K, V> = (keys: readonly K[]) => Promise<ReadonlyMap<string, V>>;

/** Reads by key, many at once. */
export interface ReadBatcher<K, V> {
  /** The value for `key`, or `empty()` when the statement found none. */
  read(key: K): Promise<V>;
}

/**
 * Creates a batcher: `id` names a key in the result map, `run` reads many
 * keys at once (at most `maxBatch`), `empty` is the value of a key not found.
 * One statement runs at a time; a failed one fails the reads it carried.
 */
export function createReadBatcher<K, V>(id: (key: K) => string, run: BatchRead<K, V>, empty: () => V, maxBatch = 500): ReadBatcher<K, V> {
  let pending: Array<{ key: K; resolve: (value: V) => void; reject: (error: unknown) => void }> = [];
  let running = false;

  async function flush(): Promise<void> {
    running = true;
    while (pending.length > 0) {
      const batch = pending.slice(0, maxBatch);
      pending = pending.slice(maxBatch);
      try {
        const found = await run(batch.map((p) => p.key));
        for (const p of batch) p.resolve(found.get(id(p.key)) ?? empty());
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    running = false;
  }

  return {
    read(key) {
      return new Promise<V>((resolve, reject) => {
        pending.push({ key, resolve, reject });
        // The first read of a turn waits for the turn's others (one tick); later ones join the statement after the running one.
        if (!running) {
          running = true;
          setImmediate(() => void flush());
        }
      });
    },
  };
}
