// Token buckets per (method, caller): a bucket holds `burst` calls and refills
// at `perSecond`. Buckets of callers that went quiet are dropped, so a flood
// of distinct addresses cannot grow the map without bound.

/** Counts calls; see {@link createRateLimiter}. */
export interface RateLimiter {
  /** Takes one call from the bucket of `key`; undefined when allowed, else the seconds until the next call is. */
  take(key: string, perSecond: number, burst: number): number | undefined;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Creates a limiter holding at most `maxBuckets` callers' buckets (the fullest are dropped first: they have the least to remember). */
export function createRateLimiter(maxBuckets = 100_000, now: () => number = performance.now.bind(performance)): RateLimiter {
  const buckets = new Map<string, Bucket>();
  const sweep = (t: number, perSecond: number, burst: number) => {
    for (const [key, b] of buckets) if (b.tokens + ((t - b.at) / 1000) * perSecond >= burst) buckets.delete(key);
    // Every caller is active: forget the oldest half, which errs toward letting calls through.
    if (buckets.size >= maxBuckets) for (const key of [...buckets.keys()].slice(0, maxBuckets / 2)) buckets.delete(key);
  };
  return {
    take(key, perSecond, burst) {
      const t = now();
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        if (buckets.size >= maxBuckets) sweep(t, perSecond, burst);
        buckets.set(key, (bucket = { tokens: burst, at: t }));
      } else {
        bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * perSecond);
        bucket.at = t;
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return undefined;
      }
      return (1 - bucket.tokens) / perSecond;
    },
  };
}
