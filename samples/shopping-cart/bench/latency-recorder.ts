// Per-request latencies of one timed window, kept exactly (a few hundred
// thousand doubles at most) so percentiles need no histogram approximation.

/** Percentiles of one window, in milliseconds. */
export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** Collects latencies in microseconds; cheap to add to on the hot path. */
export class LatencyRecorder {
  #values = new Float64Array(1 << 16);
  #count = 0;

  /** How many latencies were recorded. */
  get count(): number {
    return this.#count;
  }

  /** Records one latency, in microseconds. */
  add(micros: number): void {
    if (this.#count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#count++] = micros;
  }

  /** Nearest-rank percentiles in milliseconds; all zero when nothing was recorded. */
  summary(): LatencySummary {
    const n = this.#count;
    if (n === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
    const sorted = this.#values.slice(0, n).sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]! / 1000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i]!;
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: sorted[n - 1]! / 1000, mean: sum / n / 1000 };
  }
}

/** The middle value (the mean of the two middle ones for an even count); undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
