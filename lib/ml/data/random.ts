/**
 * A small seeded PRNG for data generation and splits: xoshiro128** (fast, 128-bit state, passes
 * BigCrush), seeded through splitmix32 so nearby seeds give unrelated streams. Each call of
 * `createRandom` owns its state, so concurrent generators (worker threads, parallel tests) never
 * share anything and `Math.random` is never touched.
 */
export interface SeededRandom {
  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** A uniform double in [0, 1) with 53 random bits. */
  next(): number;
  /** A standard normal deviate (polar method; the second value of each pair is cached). */
  normal(): number;
  /** A uniform integer in [0, n). */
  int(n: number): number;
}

// Module-level aliases of the builtins used in hot loops: inside a `vm` context (jest's test
// environment, sandboxes) every lookup of a global like `Math` goes through the context's global
// object and is many times slower; a module binding is a plain closure variable.
const { imul, log, sqrt, floor } = Math;

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = imul(z ^ (z >>> 16), 0x85ebca6b);
    z = imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** @param seed any safe integer (negative and > 2^32 values are fine); non-integers are rejected. */
export function createRandom(seed: number): SeededRandom {
  if (!Number.isSafeInteger(seed)) throw new TypeError(`seed must be a safe integer, got ${seed}`);
  // Fold both halves of the seed so 1 and 2^32 + 1 differ.
  const low = seed >>> 0;
  const high = floor(seed / 0x1_0000_0000) >>> 0;
  const mix = splitmix32(low ^ imul(high, 0x27d4eb2d));
  let a = mix();
  let b = mix() ^ high;
  let c = mix();
  let d = mix();
  if ((a | b | c | d) === 0) a = 1; // the all-zero state is a fixed point

  const nextUint32 = (): number => {
    const result = imul(rotl(imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  const next = (): number => ((nextUint32() >>> 5) * 67108864 + (nextUint32() >>> 6)) / 9007199254740992;
  let spare = 0;
  let hasSpare = false;
  // Marsaglia's polar method: no trigonometry, one log per pair. 32-bit uniforms are plenty here.
  const normal = (): number => {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = nextUint32() * 4.656612873077393e-10 - 1; // 2 / 2^32
      v = nextUint32() * 4.656612873077393e-10 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = sqrt((-2 * log(s)) / s);
    spare = v * f;
    hasSpare = true;
    return u * f;
  };
  const int = (n: number): number => floor(next() * n);
  return { nextUint32, next, normal, int };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
