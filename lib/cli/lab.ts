// `sockctl lab`: every state of the TCP diagram reproduced on loopback and confirmed by the
// kernel, as a timeline (text or --json), and the diagram drawn with what was seen (--svg).
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { renderStateDiagram } from '../lab/diagram';
import { formatEvent, formatSummary } from '../lab/format';
import { runLab, scenarioNames } from '../lab/run';
import { SCENARIOS } from '../lab/scenarios/index';
import { formatSequence, renderSequenceSvg } from '../lab/loss/render';
import { LOSS_SCENARIOS, lossScenarioNames, runLossScenario, type LossScenario } from '../lab/loss/run';

const HELP = `Usage: sockctl lab [SCENARIO...] [options]
       sockctl lab --sequence SCENARIO [--svg FILE] [--json]

Drives real sockets on 127.0.0.1 through the states of the TCP diagram and prints each
state once the kernel reports it (NETLINK_SOCK_DIAG or TCP_INFO). No root needed.

Options:
  --list        list the scenarios and exit
  --json        print the whole run as JSON (an event per state, with a "state" field)
  --svg FILE    draw the TCP state diagram with the observed states and transitions
  --wait-2msl   also wait out TIME_WAIT (60 s on Linux) until the kernel drops it
  --sequence S  lose segments on purpose in a network namespace of the lab's own
                (nftables; root: unshare -n, else a user namespace) and print the
                segments between the two ends (tcpdump -S inside it) with flags,
                seq/ack relative to each side's ISN and both sides' states after
                each one, dropped ones marked; with --svg, as a sequence diagram.
                S: ${lossScenarioNames().join(', ')}
  -h, --help    this text

Exit status: 0 every scenario confirmed its states, 1 one did not, 2 bad usage,
3 --sequence skipped (no namespace with nft and tcpdump here; the reason on stderr).
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
        sequence: { type: 'string' },
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
    for (const name of lossScenarioNames()) process.stdout.write(`${name.padEnd(24)} (--sequence) ${LOSS_SCENARIOS[name].title}\n`);
    return 0;
  }
  if (values.sequence !== undefined) {
    if (positionals.length > 0 || values['wait-2msl']) {
      process.stderr.write('sockctl lab: --sequence takes one scenario, and no other\n');
      return 2;
    }
    return runSequence(values.sequence, values.svg, values.json === true);
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

async function runSequence(name: string, svg: string | undefined, json: boolean): Promise<number> {
  if (!(lossScenarioNames() as string[]).includes(name)) {
    process.stderr.write(`sockctl lab: unknown --sequence scenario '${name}' (${lossScenarioNames().join(', ')})\n`);
    return 2;
  }
  if (svg !== undefined) {
    try {
      closeSync(openSync(svg, 'a'));
    } catch (error) {
      process.stderr.write(`sockctl lab: --svg ${svg}: ${(error as Error).message}\n`);
      return 2;
    }
  }
  let report;
  try {
    report = await runLossScenario(name as LossScenario);
  } catch (error) {
    const skipped = (error as { skipped?: string }).skipped;
    process.stderr.write(`sockctl lab: ${skipped === undefined ? (error as Error).message : `--sequence ${name} skipped: ${skipped}`}\n`);
    return skipped === undefined ? 1 : 3;
  }
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    process.stdout.write(`${name}: ${report.title}\nnamespace: ${report.namespace}\n\n`);
    for (const run of report.runs) process.stdout.write(`${formatSequence(run.sequence, run.title)}\n`);
  }
  if (svg !== undefined) {
    writeFileSync(svg, renderSequenceSvg(report.runs, `${name}: ${report.title}`));
    if (!json) process.stdout.write(`Diagram: ${svg}\n`);
  }
  return report.runs.every((run) => run.sequence.confirmed) ? 0 : 1;
}
