import { describe, expect, it } from 'vitest';
import { cappedWait } from '../../../local/stack.ts';

const scheduled = (wakeAt: Date) => ({
  taskResults: [{ stateName: 'Record schedule and notify DevOps', payload: { StatusCode: 200, Payload: { wakeAt: wakeAt.toISOString() } } }],
});

describe('the local sleep until the transfer date', () => {
  it('sleeps until the wake instant when it is nearer than the cap', () => {
    const wait = cappedWait(60)(scheduled(new Date(Date.now() + 5_000)));
    expect(wait).toBeGreaterThan(4_000);
    expect(wait).toBeLessThanOrEqual(5_000);
  });

  it('is capped by LOCAL_MAX_WAIT_SECONDS', () => {
    expect(cappedWait(2)(scheduled(new Date(Date.now() + 86_400_000)))).toBe(2_000);
  });

  it('does not sleep for a date that has begun', () => {
    expect(cappedWait(2)(scheduled(new Date(Date.now() - 3_600_000)))).toBe(0);
  });

  it('without a cap, never hands the engine a timer Node would fire at once', () => {
    const wait = cappedWait(undefined)(scheduled(new Date(Date.now() + 90 * 86_400_000)));
    expect(wait).toBe(2_147_483_647);
  });
});
