import type { SimulatorControl } from '../../simulator/vertex/server.ts';

/**
 * One clock for a test and the Vertex AI simulator: `advance` moves both, so the pipeline's
 * handlers (given `now`) and the simulated jobs see the same time pass without waiting.
 */
export function simulatorClock(control: Pick<SimulatorControl, 'advance'>): { now: () => number; advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms: number) {
      offset += ms;
      control.advance(ms);
    },
  };
}
