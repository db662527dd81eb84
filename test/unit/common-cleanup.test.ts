import { describe, expect, it } from 'vitest';
import { CleanupStack } from '../../src/common/cleanup.js';
import { definedProps } from '../../src/common/defined.js';

describe('CleanupStack', () => {
  it('undoes steps in reverse order, runs every step when one fails or hangs, and reports the failures', async () => {
    const order: string[] = [];
    const errors: string[] = [];
    const stack = new CleanupStack({ onError: (message) => errors.push(message), stepTimeoutMs: 50 });
    stack.push('first', () => order.push('first'));
    stack.push('hanging', () => new Promise(() => undefined));
    stack.push('failing', () => {
      order.push('failing');
      throw new Error('boom');
    });
    stack.push('last', async () => {
      order.push('last');
    });
    await stack.run();
    expect(order).toEqual(['last', 'failing', 'first']);
    expect(errors).toEqual(['failing failed: boom', 'hanging failed: a shutdown step did not finish within 0.05 s; going on']);
  });

  it('is memoised: a second run() returns the same promise and runs nothing twice', async () => {
    let calls = 0;
    const stack = new CleanupStack({ onError: () => undefined });
    stack.push('count', () => calls++);
    const first = stack.run();
    expect(stack.run()).toBe(first);
    await first;
    await stack.run();
    expect(calls).toBe(1);
  });

  it('undoes at once what is set up after the stop began', async () => {
    const done: string[] = [];
    const stack = new CleanupStack({ onError: () => undefined });
    await stack.run();
    stack.push('late', () => done.push('late'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toEqual(['late']);
  });
});

describe('definedProps', () => {
  it('drops undefined values and keeps every other value, falsy ones included', () => {
    const optional: string | undefined = undefined;
    const props = definedProps({ a: 1, b: optional, c: 0, d: '', e: null, f: false });
    expect(props).toEqual({ a: 1, c: 0, d: '', e: null, f: false });
    expect(Object.keys(props)).not.toContain('b');
  });
});
