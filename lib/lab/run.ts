// Runs lab scenarios one after another and gathers what the kernel showed.
import { invalidArgType, invalidArgValue } from '../core/errors';
import { readOptions, validateBoolean } from '../core/validate';
import { TCP_STATE_NAMES, type TcpState } from '../core/tcp-states';
import { Recorder, type LabEvent } from './recorder';
import type { ScenarioOptions } from './scenario';
import { SCENARIOS } from './scenarios/index';

export interface ScenarioResult {
  name: string;
  title: string;
  events: LabEvent[];
  transitions: string[];
  /** Why the scenario stopped early, if it did. */
  error?: string;
}

export interface LabReport {
  scenarios: ScenarioResult[];
  /** Every state some scenario observed, in the kernel's order. */
  states: TcpState[];
  transitions: string[];
  /** The diagram's states no scenario observed. */
  missing: TcpState[];
}

export interface LabOptions extends ScenarioOptions {
  /** Called for each event as the kernel confirms it. */
  onEvent?: (scenario: string, event: LabEvent) => void;
  /** Called before each scenario starts. */
  onScenario?: (name: string, title: string) => void;
}

const ALL_STATES = [...new Set(TCP_STATE_NAMES.filter((s) => s !== 'UNKNOWN'))] as TcpState[];

export function scenarioNames(): string[] {
  return SCENARIOS.map((s) => s.name);
}

function checkNames(value: unknown): string[] {
  if (!Array.isArray(value)) throw invalidArgType('names', 'an instance of Array', value);
  const names = Array.from(value as unknown[]); // copied once
  for (const name of names) {
    if (typeof name !== 'string' || !SCENARIOS.some((s) => s.name === name)) {
      throw invalidArgValue('names', name, `must name lab scenarios (${scenarioNames().join(', ')})`);
    }
  }
  return names as string[];
}

function callback<F>(value: unknown, name: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalidArgType(name, 'of type function', value);
  return value as F | undefined;
}

/** Runs the named scenarios (all by default) in order; one that fails does not stop the rest. */
export async function runLab(names: readonly string[] = scenarioNames(), options?: LabOptions): Promise<LabReport> {
  const wanted = checkNames(names);
  const o = readOptions(options, 'options', ['waitTwoMsl', 'onEvent', 'onScenario'], 'an option of runLab');
  const scenarioOptions: ScenarioOptions = {
    waitTwoMsl: o.waitTwoMsl === undefined ? false : validateBoolean(o.waitTwoMsl, 'options.waitTwoMsl'),
  };
  const onEvent = callback<LabOptions['onEvent']>(o.onEvent, 'options.onEvent');
  const onScenario = callback<LabOptions['onScenario']>(o.onScenario, 'options.onScenario');
  const scenarios: ScenarioResult[] = [];
  for (const scenario of SCENARIOS.filter((s) => wanted.includes(s.name))) {
    onScenario?.(scenario.name, scenario.title);
    const recorder = new Recorder((event) => onEvent?.(scenario.name, event));
    const result: ScenarioResult = { name: scenario.name, title: scenario.title, events: recorder.events, transitions: [] };
    try {
      await scenario.run(recorder, scenarioOptions);
    } catch (error) {
      result.error = error instanceof Error ? error.message : String(error);
    }
    result.transitions = [...recorder.transitions];
    scenarios.push(result);
  }
  const seen = new Set(scenarios.flatMap((s) => s.events.map((e) => e.state)));
  return {
    scenarios,
    states: ALL_STATES.filter((s) => seen.has(s)),
    transitions: [...new Set(scenarios.flatMap((s) => s.transitions))],
    missing: ALL_STATES.filter((s) => !seen.has(s)),
  };
}
