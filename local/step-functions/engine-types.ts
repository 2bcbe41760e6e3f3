import type { RunOptions, StateMachine } from 'aws-local-stepfunctions';

// The engine only exports a few of its types; the rest are derived from its public signatures.
type EngineRun = ReturnType<StateMachine['run']>;

export type EngineJson = Parameters<StateMachine['run']>[0];
export type EngineEvent = EngineRun['eventLogs'] extends AsyncGenerator<infer E> ? E : never;
export type EngineOverrides = NonNullable<RunOptions['overrides']>;
export type EngineTaskHandlers = NonNullable<EngineOverrides['taskResourceLocalHandlers']>;
export type EngineWaitOverrides = NonNullable<EngineOverrides['waitTimeOverrides']>;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Copies a value the way a JSON round trip through Lambda would (dates become strings, undefined becomes null). */
export function toEngineJson(value: unknown): EngineJson {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as EngineJson);
}

export function jsonText(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}
