/**
 * Cost per transfer, for one customer and for 50 in one request, on the happy path: state transitions
 * and Lambda invocations from the execution's history, DynamoDB read and write units as DynamoDB Local
 * reports them (through the capacity meter), and emails from the SES emulator's store.
 */
import {
  benchDirectory,
  countTransitions,
  customerIds,
  errorText,
  executionHistory,
  markdownTable,
  operationsSummary,
  progress,
  runTransfer,
  startBenchStack,
  transferView,
  units,
  unitsByItemKind,
  verdict,
  type BenchSection,
  type BenchStack,
  type CapacityTotals,
  type Calibration,
} from './harness.ts';

export interface TransferCost {
  customers: number;
  transferId: string;
  stateTransitions: number;
  lambdaInvocations: number;
  readUnits: number;
  writeUnits: number;
  dynamodbRequests: number;
  /** DynamoDB answers that were errors (failed conditions): DynamoDB Local reports no capacity for them. */
  dynamodbErrors: number;
  operations: string;
  /** Transactions, with DynamoDB Local's own (undercounted) write units and the meter's recount. */
  transactions: CapacityTotals['transactions'];
  calculatorCheck: CapacityTotals['calculatorCheck'];
  /** Write units by kind of item written (TRANSFER, PARTY, EVENT, OWNER…), transactions and single writes. */
  byItemKind: string;
  emails: number;
  emailRecipients: number;
}

export interface CostFigures {
  one: TransferCost | undefined;
  fifty: TransferCost | undefined;
  calibration: Calibration | undefined;
}

const TARGET_TRANSITIONS = 12;
const TARGET_INVOCATIONS = 5;

async function measureOne(stack: BenchStack, ids: readonly string[], problems: string[]): Promise<TransferCost | undefined> {
  const meter = stack.capacity;
  if (meter === undefined) throw new Error('The cost benchmark needs the capacity meter');
  const from = Date.now();
  let run;
  try {
    run = await runTransfer(stack, ids);
  } catch (error) {
    problems.push(`The ${ids.length}-customer transfer did not complete: ${errorText(error)}`);
    return undefined;
  }
  // Everything the transfer did reached DynamoDB before its execution ended.
  const capacity: CapacityTotals = meter.totals(from, run.finishedAt);
  const history = await executionHistory(stack, run.id);
  const { transitions, lambdaInvocations } = countTransitions(history);
  const emails = await stack.mailbox.emailsAbout(run.id);
  const view = await transferView(stack, run.id);
  if (view.status !== 'COMPLETED') problems.push(`Transfer ${run.id} ended ${view.status}, not COMPLETED`);
  if (capacity.unreported > 0) problems.push(`${capacity.unreported} DynamoDB answers carried no ConsumedCapacity: the units are undercounted`);
  const check = capacity.calculatorCheck;
  if (check.agreed < check.compared) {
    problems.push(`The meter's write-unit calculator disagreed with DynamoDB Local on ${check.compared - check.agreed} of ${check.compared} single-item writes`);
  }
  return {
    customers: ids.length,
    transferId: run.id,
    stateTransitions: transitions,
    lambdaInvocations,
    readUnits: capacity.readUnits,
    writeUnits: capacity.writeUnits,
    dynamodbRequests: capacity.requests,
    dynamodbErrors: capacity.errors,
    operations: operationsSummary(capacity),
    transactions: capacity.transactions,
    calculatorCheck: capacity.calculatorCheck,
    byItemKind: unitsByItemKind(meter.recordsBetween(from, run.finishedAt)),
    emails: emails.length,
    emailRecipients: emails.reduce((sum, e) => sum + e.destination.to.length + e.destination.cc.length + e.destination.bcc.length, 0),
  };
}

export async function measureCost(): Promise<BenchSection<CostFigures>> {
  const single = customerIds('C-ONE', 1);
  const many = customerIds('C-MANY', 50);
  const directory = benchDirectory([...single, ...many].map((id) => ({ id, domains: 2, users: 2 })));
  progress('cost: starting the local stack with the capacity meter');
  const stack = await startBenchStack({ directory, meterCapacity: true });
  const problems: string[] = [];
  let figures: CostFigures;
  try {
    progress('cost: one customer');
    const one = await measureOne(stack, single, problems);
    progress('cost: 50 customers in one request');
    const fifty = await measureOne(stack, many, problems);
    figures = { one, fifty, calibration: stack.calibration };
  } finally {
    await stack.stop();
  }

  const rows = [figures.one, figures.fifty]
    .filter((c): c is TransferCost => c !== undefined)
    .map((c) => [
      c.customers,
      c.stateTransitions,
      c.lambdaInvocations,
      units(c.readUnits),
      units(c.writeUnits),
      `${c.dynamodbRequests}${c.dynamodbErrors > 0 ? ` (${c.dynamodbErrors} errors)` : ''}`,
      `${c.emails} (${c.emailRecipients} recipients)`,
    ]);
  const operationRows = [figures.one, figures.fifty]
    .filter((c): c is TransferCost => c !== undefined)
    .map((c) => [
      c.customers,
      c.operations,
      c.byItemKind,
      `${c.transactions.count}: ${units(c.transactions.countedWriteUnits)} WU counted, ${units(c.transactions.reportedWriteUnits)} reported by DynamoDB Local`,
      `${c.calculatorCheck.agreed} of ${c.calculatorCheck.compared}`,
    ]);

  const readings: string[] = [];
  const { one, fifty } = figures;
  if (one) {
    readings.push(`1 customer: ${one.stateTransitions} state transitions (target ≤ ${TARGET_TRANSITIONS}): ${verdict(one.stateTransitions <= TARGET_TRANSITIONS)}.`);
    readings.push(`1 customer: ${one.lambdaInvocations} Lambda invocations (target ≤ ${TARGET_INVOCATIONS}): ${verdict(one.lambdaInvocations <= TARGET_INVOCATIONS)}.`);
    readings.push(`1 customer: ${units(one.readUnits)} read and ${units(one.writeUnits)} write units, ${one.emails} emails (no target; for the bill).`);
  }
  if (one && fifty) {
    const ratio = fifty.stateTransitions / one.stateTransitions;
    readings.push(
      `50 customers: ${fifty.stateTransitions} state transitions, ${ratio.toFixed(2)}× one customer's (target ≤ 2×): ${verdict(ratio <= 2)}.`,
    );
    const perCustomer = (a: number, b: number) => ((b - a) / (fifty.customers - one.customers)).toFixed(1);
    readings.push(
      `50 customers: ${units(fifty.writeUnits)} write units (${(fifty.writeUnits / one.writeUnits).toFixed(1)}× one customer's) and ` +
        `${units(fifty.readUnits)} read units (${(fifty.readUnits / one.readUnits).toFixed(1)}×), about ${perCustomer(one.writeUnits, fifty.writeUnits)} ` +
        `write and ${perCustomer(one.readUnits, fifty.readUnits)} read units per further customer (by item written in the second table). No target.`,
    );
  }
  const calibration = figures.calibration;
  if (calibration !== undefined) {
    readings.push(
      `Capacity meter: its calculator agrees with DynamoDB Local on ${calibration.agreed} of ${calibration.compared} calibration writes ` +
        `(single-item puts, updates and deletes entering, moving in, changing in and leaving the indexes, projected ${[...new Set(calibration.projections)].join(', ')} ` +
        `as in the product's table); for a transaction of two 3 KB puts ` +
        `DynamoDB Local reports ${units(calibration.twoPutTransaction.reportedByDynamoDbLocal)} units where the calculator counts ` +
        `${units(calibration.twoPutTransaction.computed)}, hence the recount.`,
    );
    for (const mismatch of calibration.mismatches) problems.push(`Capacity calculator and DynamoDB Local disagree: ${mismatch}`);
  }
  return {
    title: 'Cost per transfer',
    method:
      'Happy path on the local stack (`maxWaitSeconds: 0`): the new partner requests through the API, the current partner opens its emailed ' +
      'link and releases for "immediate", the new partner opens its link and accepts. State transitions are the `*StateEntered` events of ' +
      '`GetExecutionHistory`; Lambda invocations are the Lambda tasks scheduled (the five API calls of the flow are not counted). ' +
      'DynamoDB units are measured by a proxy in `bench/` between the functions (API and workflow) and DynamoDB Local, from the request to the ' +
      'end of the execution: it adds `ReturnConsumedCapacity: TOTAL` to every request and sums what DynamoDB Local reports (indexes included). ' +
      'DynamoDB Local undercounts `TransactWriteItems` (items of equal size are counted once: two 3 KB puts report 6 units, not 12), so the proxy ' +
      'recounts each transaction from the touched items\' images read just before and after it: per item, the larger image in 1 KB units, ×2 for ' +
      'the transaction, plus, per global secondary index (read from `DescribeTable`, with its projection), one write of the index entry when the ' +
      'item enters or leaves the index or changes a projected attribute and two when its index key changes, counted once (the index is updated ' +
      'outside the transaction\'s two phases). A calibration in a scratch copy of the table and the single-item writes of the flow, where ' +
      'DynamoDB Local is right, check the calculator. ' +
      'Emails are the SES store\'s messages about the transfer. ' +
      'Each customer has 2 domains and 2 users.',
    figures,
    tables: [
      markdownTable(['customers', 'state transitions', 'Lambda invocations', 'read units', 'write units', 'DynamoDB requests', 'emails'], rows),
      markdownTable(
        ['customers', 'DynamoDB requests by operation', 'write units by item written', 'transactions recounted', 'single writes where the calculator agrees with DynamoDB Local'],
        operationRows,
      ),
    ],
    readings,
    problems,
  };
}
