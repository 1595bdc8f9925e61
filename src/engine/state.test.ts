import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeadlineHeap, handleKey } from './state.ts';

/** Mulberry32: a small seeded generator, so a failure replays with the printed seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('DeadlineHeap', () => {
  test('empty: size 0, peek and pop give null', () => {
    const heap = new DeadlineHeap();
    assert.equal(heap.size, 0);
    assert.equal(heap.peek(), null);
    assert.equal(heap.pop(), null);
  });

  for (const seed of [1, 2, 3, Math.floor(Math.random() * 2 ** 31)]) {
    test(`pops in deadline order over 3000 random pushes, like a sorted array (seed ${seed})`, () => {
      const random = prng(seed);
      const heap = new DeadlineHeap();
      const pushed: { at: number; id: string }[] = [];
      for (let i = 0; i < 3000; i++) {
        // A small range makes many equal deadlines, the case a heap most easily gets wrong.
        const at = Math.floor(random() * 500) * 1000;
        const id = `ord_${i}`;
        heap.push(at, id);
        pushed.push({ at, id });
        assert.equal(heap.size, i + 1);
      }
      const sorted = pushed.map((p) => p.at).sort((a, b) => a - b);
      const deadlineOf = new Map(pushed.map((p) => [p.id, p.at]));
      const popped: number[] = [];
      const ids = new Set<string>();
      for (let i = 0; i < pushed.length; i++) {
        const peeked = heap.peek();
        const id = heap.pop();
        assert.ok(id !== null, `pop ${i} gave null (seed ${seed})`);
        assert.equal(deadlineOf.get(id), peeked, `peek shows what pop takes (seed ${seed})`);
        popped.push(deadlineOf.get(id)!);
        ids.add(id);
      }
      assert.deepEqual(popped, sorted, `seed ${seed}`);
      assert.equal(ids.size, pushed.length, 'every id comes out once');
      assert.equal(heap.size, 0);
      assert.equal(heap.pop(), null);
    });
  }

  test('interleaved pushes and pops agree with a sorted reference', () => {
    const seed = 20261126;
    const random = prng(seed);
    const heap = new DeadlineHeap();
    const reference: number[] = [];
    const deadlineOf = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      if (reference.length > 0 && random() < 0.4) {
        reference.sort((a, b) => a - b);
        const expected = reference.shift()!;
        const id = heap.pop()!;
        assert.equal(deadlineOf.get(id), expected, `step ${i} (seed ${seed})`);
      } else {
        const at = Math.floor(random() * 1e6);
        deadlineOf.set(`o${i}`, at);
        heap.push(at, `o${i}`);
        reference.push(at);
      }
      assert.equal(heap.size, reference.length);
      assert.equal(heap.peek(), reference.length ? Math.min(...reference) : null);
    }
  });

  test('negative and far deadlines', () => {
    const heap = new DeadlineHeap();
    heap.push(Number.MAX_SAFE_INTEGER, 'late');
    heap.push(-5, 'past');
    heap.push(0, 'zero');
    assert.deepEqual([heap.pop(), heap.pop(), heap.pop()], ['past', 'zero', 'late']);
  });
});

test('handleKey joins network and handle', () => {
  assert.equal(handleKey('local', 'alice'), 'local:alice');
});
