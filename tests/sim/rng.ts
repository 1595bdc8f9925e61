import type { RandomBytes } from '../../src/core/codes.ts';

/**
 * A small seeded generator (xoshiro128**, seeded through SplitMix64) for the simulator's workload and
 * faults. Each purpose gets its own stream (`fork`), so adding a draw in one place does not shift the
 * others, and a seed replays the same run.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: bigint) {
    let s = BigInt.asUintN(64, seed);
    const next32 = () => {
      s = BigInt.asUintN(64, s + 0x9e3779b97f4a7c15n);
      let z = s;
      z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
      z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
      z ^= z >> 31n;
      return Number(z & 0xffffffffn) >>> 0;
    };
    this.a = next32();
    this.b = next32();
    this.c = next32();
    this.d = next32() | 1;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('rng: pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** One key of `weights`, drawn in proportion to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    let total = 0;
    for (const k in weights) total += weights[k];
    let x = this.next() * total;
    for (const k in weights) {
      x -= weights[k];
      if (x < 0) return k;
    }
    return Object.keys(weights)[0] as K;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** A new independent stream derived from this one. */
  fork(): Rng {
    return new Rng((BigInt(this.u32()) << 32n) | BigInt(this.u32()));
  }

  /** This stream as the engine's randomness (ids and codes). */
  bytes(): RandomBytes {
    return (n) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i += 4) {
        const v = this.u32();
        for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (v >>> (8 * k)) & 0xff;
      }
      return out;
    };
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
