// `sockctl lab`: every state of the TCP diagram reproduced on loopback and confirmed by the
// kernel, as a timeline (text or --json), and the diagram drawn with what was seen (--svg).
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { renderStateDiagram } from '../lab/diagram';
import { formatEvent, formatSummary } from '../lab/format';
import { runLab, scenarioNames } from '../lab/run';
import { SCENARIOS } from '../lab/scenarios/index';

const HELP = `Usage: sockctl lab [SCENARIO...] [options]

Drives real sockets on 127.0.0.1 through the states of the TCP diagram and prints each
state once the kernel reports it (NETLINK_SOCK_DIAG or TCP_INFO). No root needed.

Options:
  --list        list the scenarios and exit
  --json        print the whole run as JSON (an event per state, with a "state" field)
  --svg FILE    draw the TCP state diagram with the observed states and transitions
  --wait-2msl   also wait out TIME_WAIT (60 s on Linux) until the kernel drops it
  -h, --help    this text

Exit status: 0 every scenario confirmed its states, 1 one did not, 2 bad usage.
`;

export async function runLabCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        list: { type: 'boolean' },
        json: { type: 'boolean' },
        svg: { type: 'string' },
        'wait-2msl': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`sockctl lab: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.list) {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(20)} ${s.title}\n`);
    return 0;
  }
  const unknown = positionals.filter((name) => !scenarioNames().includes(name));
  if (unknown.length > 0) {
    process.stderr.write(`sockctl lab: unknown scenario ${unknown.join(', ')} (sockctl lab --list)\n`);
    return 2;
  }
  if (values.svg !== undefined) {
    // Before a minute of scenarios: a path that cannot be written is a usage error now.
    // (Opened for appending: an existing file is not truncated until the diagram is ready.)
    try {
      closeSync(openSync(values.svg, 'a'));
    } catch (error) {
      process.stderr.write(`sockctl lab: --svg ${values.svg}: ${(error as Error).message}\n`);
      return 2;
    }
  }
  const json = values.json === true;
  const report = await runLab(positionals.length > 0 ? positionals : scenarioNames(), {
    waitTwoMsl: values['wait-2msl'] === true,
    onScenario: json ? undefined : (name, title) => process.stdout.write(`\n== ${name}: ${title}\n`),
    onEvent: json ? undefined : (_name, event) => process.stdout.write(`${formatEvent(event)}\n`),
  });
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(`\n${formatSummary(report)}\n`);
  if (values.svg !== undefined) {
    const ran = report.scenarios.map((s) => s.name);
    const which = ran.length === SCENARIOS.length ? `all ${ran.length} scenarios` : ran.join(', ');
    const title = `TCP states observed by sockctl lab (${which})`;
    writeFileSync(values.svg, renderStateDiagram({ states: report.states, transitions: report.transitions, title }));
    if (!json) process.stdout.write(`Diagram: ${values.svg}\n`);
  }
  return report.scenarios.some((s) => s.error !== undefined) ? 1 : 0;
}
