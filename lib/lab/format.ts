// The lab's text output: one line per event, as the kernel confirmed it.
import type { LabEvent } from './recorder';
import type { LabReport } from './run';

export function formatEvent(event: LabEvent): string {
  const time = `${event.t.toFixed(1)} ms`.padStart(10);
  const where = event.local ? `  ${event.local} -> ${event.remote}` : '';
  const timer = event.timer ? `  [${event.timer.kind} ${(event.timer.expiresMs / 1000).toFixed(1)} s left]` : '';
  return `${time}  ${event.side.padEnd(12)} ${event.state.padEnd(11)}  ${event.cause}${where}${timer}`;
}

export function formatSummary(report: LabReport): string {
  const lines = [`Observed ${report.states.length} of 11 states: ${report.states.join(', ')}`];
  if (report.missing.length > 0) lines.push(`Not observed: ${report.missing.join(', ')}`);
  for (const s of report.scenarios.filter((r) => r.error !== undefined)) lines.push(`FAILED ${s.name}: ${s.error}`);
  return lines.join('\n');
}
