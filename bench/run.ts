/**
 * `npm run bench`: runs every benchmark in sequence and writes bench/RESULTS.md. Timing never fails
 * the run; it exits 1 only when something is broken (a transfer did not complete, a handler does not
 * load, a benchmark could not run). `npm run bench -- cost api` runs only those and prints their part
 * without writing RESULTS.md.
 */
import { writeFile } from 'node:fs/promises';
import { measureApi } from './api.ts';
import { measureColdStart } from './cold-start.ts';
import { measureCost } from './cost.ts';
import { errorText, machineInfo, progress, type BenchSection, type MachineInfo } from './harness.ts';
import { measureRehomeScale } from './rehome-scale.ts';
import { measureRoundTrips } from './round-trips.ts';
import { measureThroughput } from './throughput.ts';

const BENCHMARKS: ReadonlyArray<{ key: string; title: string; run: () => Promise<BenchSection<unknown>> }> = [
  { key: 'cost', title: 'Cost per transfer', run: measureCost },
  { key: 'round-trips', title: 'Round trips on the critical path', run: measureRoundTrips },
  { key: 'cold-start', title: 'Cold start of the handlers', run: measureColdStart },
  { key: 'api', title: 'HTTP API under load', run: measureApi },
  { key: 'throughput', title: 'Throughput end to end', run: measureThroughput },
  { key: 'rehome', title: 'Scale of re-homing', run: measureRehomeScale },
];

const RESULTS_FILE = new URL('./RESULTS.md', import.meta.url);

interface Outcome {
  key: string;
  title: string;
  section?: BenchSection<unknown>;
  error?: string;
  seconds: number;
}

function sectionMarkdown(index: number, outcome: Outcome): string {
  const lines = [`## ${index}. ${outcome.section?.title ?? outcome.title}`, '', `_Took ${outcome.seconds.toFixed(0)} s._`, ''];
  if (outcome.section === undefined) {
    lines.push(`**Broken:** the benchmark could not run: ${outcome.error ?? 'unknown error'}`, '');
    return lines.join('\n');
  }
  const { method, tables, readings, problems } = outcome.section;
  lines.push(method, '');
  for (const table of tables) lines.push(table, '');
  lines.push('Reading:', '', ...readings.map((r) => `- ${r}`), '');
  if (problems.length > 0) lines.push('**Broken:**', '', ...problems.map((p) => `- ${p}`), '');
  return lines.join('\n');
}

function machineMarkdown(machine: MachineInfo, endLoad: number[], totalSeconds: number): string {
  const busy = Math.max(machine.loadAverage[0] ?? 0, endLoad[0] ?? 0) > machine.cores;
  return [
    `| machine | |`,
    `| --- | --- |`,
    `| CPU | ${machine.cpuModel}, ${machine.cores} cores |`,
    `| memory | ${machine.memoryGiB} GiB |`,
    `| OS | ${machine.os} |`,
    `| Node | ${machine.node} |`,
    `| date | ${machine.date} |`,
    `| total run time | ${Math.floor(totalSeconds / 60)} min ${Math.round(totalSeconds % 60)} s |`,
    `| load average (1, 5, 15 min) at start / end | ${machine.loadAverage.join(', ')} / ${endLoad.join(', ')} |`,
    '',
    busy
      ? `Other work was running on this machine during the run (load average above its ${machine.cores} cores), so the timings are noisy and ` +
        'pessimistic; counts (transitions, invocations, capacity units, emails, bundle sizes) are not affected.'
      : 'The machine was otherwise idle during the run.',
  ].join('\n');
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((key) => !BENCHMARKS.some((b) => b.key === key));
  if (unknown.length > 0) throw new Error(`Unknown benchmark ${unknown.join(', ')}; choose from ${BENCHMARKS.map((b) => b.key).join(', ')}`);
  const selected = wanted.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => wanted.includes(b.key));
  const machine = machineInfo();
  const begun = Date.now();
  const outcomes: Outcome[] = [];
  for (const benchmark of selected) {
    const start = Date.now();
    progress(`── ${benchmark.title}`);
    try {
      const section = await benchmark.run();
      outcomes.push({ key: benchmark.key, title: benchmark.title, section, seconds: (Date.now() - start) / 1000 });
      for (const reading of section.readings) progress(`   ${reading}`);
      for (const problem of section.problems) progress(`   BROKEN: ${problem}`);
    } catch (error) {
      outcomes.push({ key: benchmark.key, title: benchmark.title, error: errorText(error), seconds: (Date.now() - start) / 1000 });
      progress(`   BROKEN: ${errorText(error)}`);
    }
  }
  const totalSeconds = (Date.now() - begun) / 1000;
  const endLoad = machineInfo().loadAverage;
  const markdown = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (`bench/run.ts`). Benchmarks measure; they never fail on timing. Targets are read in each section.',
    '',
    machineMarkdown(machine, endLoad, totalSeconds),
    '',
    '## Summary',
    '',
    ...outcomes.flatMap((o) =>
      o.section === undefined ? [`- **${o.title}**: broken (${o.error ?? 'unknown error'})`] : o.section.readings.map((r) => `- **${o.title}**: ${r}`),
    ),
    '',
    ...outcomes.map((outcome, index) => sectionMarkdown(BENCHMARKS.findIndex((b) => b.key === outcome.key) + 1 || index + 1, outcome)),
  ].join('\n');

  if (selected.length === BENCHMARKS.length) {
    await writeFile(RESULTS_FILE, markdown);
    progress(`Wrote bench/RESULTS.md (whole run: ${totalSeconds.toFixed(0)} s)`);
  } else {
    process.stdout.write(`${markdown}\n`);
    progress(`A partial run: bench/RESULTS.md left as it was (${totalSeconds.toFixed(0)} s)`);
  }
  const broken = outcomes.some((o) => o.section === undefined || o.section.problems.length > 0);
  if (broken) {
    progress('Something is broken (see above): exit code 1.');
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  progress(`bench: ${errorText(error)}`);
  process.exitCode = 1;
});
