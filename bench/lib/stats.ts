/** Percentiles and summaries of latency samples (all in the unit they were recorded in). */

export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile (`p` in 0–100) of samples sorted ascending; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Sorts a copy of the samples and summarizes them. */
export function summarize(samples: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(samples).sort();
  let total = 0;
  for (const value of sorted) total += value;
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? Number.NaN : total / sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
  };
}

/** Median of a few numbers (used to pick the typical round of a micro-benchmark). */
export function median(values: readonly number[]): number {
  return percentile(Float64Array.from(values).sort(), 50);
}

/** A growable buffer of float samples that never reallocates per sample. */
export class SampleBuffer {
  private data: Float64Array;
  private size = 0;

  constructor(
    initialCapacity = 1 << 16,
    private readonly maxSamples = 20_000_000,
  ) {
    this.data = new Float64Array(initialCapacity);
  }

  push(value: number): void {
    if (this.size === this.data.length) {
      // bounded: drop beyond the cap (never reached in practice)
      if (this.size >= this.maxSamples) return;
      const grown = new Float64Array(Math.min(this.maxSamples, this.data.length * 2));
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.size++] = value;
  }

  get length(): number {
    return this.size;
  }

  values(): Float64Array {
    return this.data.subarray(0, this.size);
  }
}

/** Rounds for display and JSON: 3 significant decimals are plenty for benchmark figures. */
export function round(value: number, decimals = 3): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}
