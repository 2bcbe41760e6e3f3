/**
 * Scale of re-homing: the "Re-home customers" step for a customer with 1 domain and 1 user and for one
 * with 1,000 domains and 1,000 users. Re-homing moves ownership, not mail data, so the two should cost
 * about the same.
 */
import {
  benchDirectory,
  customerIds,
  errorText,
  executionHistory,
  markdownTable,
  median,
  ms,
  operationsSummary,
  progress,
  runTransfer,
  startBenchStack,
  stateWindow,
  units,
  unitsByItemKind,
  verdict,
  type BenchSection,
  type BenchStack,
  type CapacityMeter,
} from './harness.ts';

const REHOME_STATE = 'Re-home customers';
/** Timed moves per shape, besides the one whose capacity is counted. */
const TIMED_RUNS = 3;
const TARGET_RATIO = 1.5;

const SHAPES = {
  small: { domains: 1, users: 1 },
  large: { domains: 1000, users: 1000 },
} as const;
type Shape = keyof typeof SHAPES;

export interface RehomeCapacity {
  transferId: string;
  readUnits: number;
  writeUnits: number;
  operations: string;
  /** Write units of each writing request, in order: shows which writes grow with the customer. */
  writesInOrder: number[];
  /** Write units by kind of item written (TRANSFER, PARTY, EVENT, OWNER…). */
  byItemKind: string;
}

export interface RehomeShapeFigures {
  domains: number;
  users: number;
  capacity: RehomeCapacity | undefined;
  durationsMs: number[];
  medianDurationMs: number;
}

export interface RehomeFigures {
  small: RehomeShapeFigures;
  large: RehomeShapeFigures;
  durationRatio: number;
  writeUnitRatio: number;
}

/** One transfer of the customer; the window of its "Re-home customers" state. */
async function rehome(stack: BenchStack, customerId: string): Promise<{ transferId: string; entered: number; exited: number }> {
  const run = await runTransfer(stack, [customerId]);
  const window = stateWindow(await executionHistory(stack, run.id), REHOME_STATE);
  if (window === undefined) throw new Error(`The history of ${run.id} has no "${REHOME_STATE}" state entered and exited`);
  return { transferId: run.id, ...window };
}

async function countedRehome(stack: BenchStack, meter: CapacityMeter, customerId: string): Promise<RehomeCapacity> {
  meter.exact = true;
  const move = await rehome(stack, customerId);
  const capacity = meter.totals(move.entered, move.exited);
  return {
    transferId: move.transferId,
    readUnits: capacity.readUnits,
    writeUnits: capacity.writeUnits,
    operations: operationsSummary(capacity),
    writesInOrder: meter
      .recordsBetween(move.entered, move.exited)
      .filter((r) => r.write > 0)
      .map((r) => r.write),
    byItemKind: unitsByItemKind(meter.recordsBetween(move.entered, move.exited)),
  };
}

async function timedRehome(stack: BenchStack, meter: CapacityMeter, customerId: string): Promise<number> {
  // The meter only relays while timing: no extra reads around the writes.
  meter.exact = false;
  const move = await rehome(stack, customerId);
  return move.exited - move.entered;
}

export async function measureRehomeScale(): Promise<BenchSection<RehomeFigures>> {
  const perShape = TIMED_RUNS + 1;
  const ids: Record<Shape, string[]> = { small: customerIds('C-SMALL', perShape), large: customerIds('C-LARGE', perShape) };
  const directory = benchDirectory([...ids.small.map((id) => ({ id, ...SHAPES.small })), ...ids.large.map((id) => ({ id, ...SHAPES.large }))]);
  progress(`rehome: starting the local stack with the capacity meter (${perShape} customers of each shape)`);
  const stack = await startBenchStack({ directory, meterCapacity: true });
  const meter = stack.capacity;
  const figures: Record<Shape, RehomeShapeFigures> = {
    small: { ...SHAPES.small, capacity: undefined, durationsMs: [], medianDurationMs: Number.NaN },
    large: { ...SHAPES.large, capacity: undefined, durationsMs: [], medianDurationMs: Number.NaN },
  };
  const problems: string[] = [];
  try {
    if (meter === undefined) throw new Error('The re-homing benchmark needs the capacity meter');
    // Shapes alternate, so that a busy moment of the machine does not fall on one shape only.
    for (let i = 0; i < perShape; i += 1) {
      for (const shape of ['small', 'large'] as const) {
        const id = ids[shape][i];
        if (id === undefined) continue;
        progress(`rehome: ${shape} customer, ${i === 0 ? 'capacity counted' : `timed run ${i} of ${TIMED_RUNS}`}`);
        try {
          if (i === 0) figures[shape].capacity = await countedRehome(stack, meter, id);
          else figures[shape].durationsMs.push(await timedRehome(stack, meter, id));
        } catch (error) {
          problems.push(`Re-homing ${id} (${shape}) did not complete: ${errorText(error)}`);
        }
      }
    }
  } finally {
    await stack.stop();
  }
  for (const shape of ['small', 'large'] as const) figures[shape].medianDurationMs = median(figures[shape].durationsMs);
  const { small, large } = figures;
  const durationRatio = large.medianDurationMs / small.medianDurationMs;
  const writeUnitRatio = (large.capacity?.writeUnits ?? Number.NaN) / (small.capacity?.writeUnits ?? Number.NaN);
  const row = (label: string, f: RehomeShapeFigures) => [
    label,
    ms(f.medianDurationMs),
    f.durationsMs.map((d) => ms(d)).join(', '),
    units(f.capacity?.readUnits ?? Number.NaN),
    units(f.capacity?.writeUnits ?? Number.NaN),
    f.capacity?.operations ?? 'n/a',
    f.capacity?.writesInOrder.map(units).join(' + ') ?? 'n/a',
    f.capacity?.byItemKind ?? 'n/a',
  ];
  return {
    title: 'Scale of re-homing',
    method:
      `Transfers of one customer each, driven through the links as in the other benchmarks, shapes alternating. The move is the ` +
      `"${REHOME_STATE}" state only, its window from its \`TaskStateEntered\` to its \`TaskStateExited\` event in the execution's history. ` +
      `Capacity: the read and write units of the requests made within that window, from one move per shape with the meter recounting ` +
      `transactions (see the cost section). Time: the median of ${TIMED_RUNS} further moves per shape, with the meter only relaying.`,
    figures: { small, large, durationRatio, writeUnitRatio },
    tables: [
      markdownTable(
        ['customer', 'move time (median)', 'each timed run', 'read units', 'write units', 'DynamoDB requests', 'write units per request', 'write units by item written'],
        [row('1 domain, 1 user', small), row('1,000 domains, 1,000 users', large)],
      ),
    ],
    readings: [
      `Write units: ${units(large.capacity?.writeUnits ?? Number.NaN)} vs ${units(small.capacity?.writeUnits ?? Number.NaN)}, ratio ` +
        `${writeUnitRatio.toFixed(2)} (target < ${TARGET_RATIO}): ${verdict(writeUnitRatio < TARGET_RATIO)}. By item written: ` +
        `${large.capacity?.byItemKind ?? 'n/a'} for the large customer, ${small.capacity?.byItemKind ?? 'n/a'} for the small one.`,
      `Move time: ${ms(large.medianDurationMs)} vs ${ms(small.medianDurationMs)}, ratio ${durationRatio.toFixed(2)} (target < ${TARGET_RATIO}): ${verdict(durationRatio < TARGET_RATIO)}.`,
      `Read units: ${units(large.capacity?.readUnits ?? Number.NaN)} vs ${units(small.capacity?.readUnits ?? Number.NaN)}, ratio ` +
        `${((large.capacity?.readUnits ?? Number.NaN) / (small.capacity?.readUnits ?? Number.NaN)).toFixed(2)} (no target).`,
    ],
    problems,
  };
}
