// A measured sequence as text (a terminal's width) and as SVG: the two ends' lifelines,
// each segment an arrow with its flags and relative numbers, each side's state after it,
// the dropped segments ending in a cross.
import type { Sequence, SequenceStep } from './sequence';
import { CLIENT, SERVER } from './agent';

export function segmentLabel(step: SequenceStep): string {
  const parts = [step.flags!];
  if (step.seq !== null && step.seq !== undefined) parts.push(`seq=${step.seq}`);
  else if (step.flags!.startsWith('RST')) parts.push('seq=0 (abs)');
  if (step.ack !== null && step.ack !== undefined) parts.push(`ack=${step.ack}`);
  if (step.length) parts.push(`len=${step.length}`);
  return parts.join(' ');
}

const time = (t: number) => `${t < 0 ? '-' : '+'}${Math.abs(t).toFixed(3)}s`.padStart(9);

export function formatSequence(seq: Sequence, title: string): string {
  const lines = [`== ${seq.scenario} (${seq.variant}): ${title}`];
  const sysctls = Object.entries(seq.sysctls).map(([k, v]) => `${k}=${v}`);
  if (sysctls.length > 0) lines.push(`   in the namespace: ${sysctls.join(', ')}`);
  for (const r of seq.rules) {
    lines.push(`   nft (input hook, drop): ${r.rule}  [${time(r.from).trim()} .. ${r.to === null ? 'end' : time(r.to).trim()}]`);
  }
  lines.push(`   dropped: ${seq.dropped.marked} segment(s) marked, nft counters ${seq.dropped.nft}`);
  lines.push(`   states: ${seq.statesVia}: ${seq.confirmed ? 'confirmed' : 'NOT confirmed'} (client ${seq.polled.client.join(' ')}; server ${seq.polled.server.join(' ')})`);
  lines.push('');
  const W = 36;
  lines.push(`${'time'.padStart(9)}  ${`client ${CLIENT.address}:${CLIENT.port}`.padEnd(14 + W + 2)}server ${SERVER.address}:${SERVER.port}`);
  let last = { client: '', server: '' };
  for (const step of seq.steps) {
    if (step.kind === 'note') {
      // A note that changed a state (a connect that gave up) says which.
      const changed = (['client', 'server'] as const).filter((side) => last[side] !== '' && last[side] !== step[side]).map((side) => `${side} ${step[side]}`);
      lines.push(`${time(step.t)}  ${''.padEnd(14)}  · ${step.note}${changed.length > 0 ? `  [${changed.join(', ')}]` : ''}`);
      last = { client: step.client, server: step.server };
      continue;
    }
    last = { client: step.client, server: step.server };
    const label = ` ${segmentLabel(step)} `;
    let arrow: string;
    if (step.from === 'client') {
      const body = `──${label}`.padEnd(W - 1, '─');
      arrow = step.dropped ? `${body.slice(0, W - 10)}──✕ lost ` : `${body}▶`;
    } else {
      const body = `◀──${label}`.padEnd(W, '─');
      arrow = step.dropped ? ` lost ✕──${body.slice(3, W - 6)}` : body;
    }
    lines.push(`${time(step.t)}  ${step.client.padEnd(14)}${arrow.padEnd(W)}  ${step.server}`);
  }
  return `${lines.join('\n')}\n`;
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** One SVG of several measured sequences (variants of a scenario), one after the other. */
export function renderSequenceSvg(sequences: { sequence: Sequence; title: string }[], heading: string): string {
  const width = 860;
  const left = 250;
  const right = 610;
  const rowHeight = 34;
  const parts: string[] = [];
  let y = 40;
  parts.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escape(heading)}</text>`);
  for (const { sequence, title } of sequences) {
    y += 16;
    parts.push(`<text x="10" y="${y}" font-size="13" font-weight="bold">${escape(`${sequence.variant}: ${title}`)}</text>`);
    y += 22;
    parts.push(`<text x="${left}" y="${y}" text-anchor="middle" font-size="12">client ${CLIENT.address}:${CLIENT.port}</text>`);
    parts.push(`<text x="${right}" y="${y}" text-anchor="middle" font-size="12">server ${SERVER.address}:${SERVER.port}</text>`);
    const top = y + 6;
    y += 20;
    const rows: string[] = [];
    for (const step of sequence.steps) {
      if (step.kind === 'note') {
        rows.push(`<text x="${(left + right) / 2}" y="${y + 4}" text-anchor="middle" font-size="11" font-style="italic" fill="#666">${escape(`${step.t.toFixed(3)} s · ${step.note}`)}</text>`);
        y += rowHeight * 0.8;
        continue;
      }
      const fromX = step.from === 'client' ? left : right;
      const toX = step.from === 'client' ? right : left;
      const endX = step.dropped ? fromX + (toX - fromX) * 0.7 : toX;
      const endY = step.dropped ? y + 14 : y + 20;
      const color = step.dropped ? '#c0392b' : step.flags!.startsWith('RST') ? '#8e44ad' : '#1f4e79';
      rows.push(`<line x1="${fromX}" y1="${y + 4}" x2="${endX}" y2="${endY + 4}" stroke="${color}" stroke-width="1.6"${step.dropped ? ' stroke-dasharray="5,3"' : ' marker-end="url(#arrow)"'}/>`);
      if (step.dropped) {
        rows.push(`<text x="${endX}" y="${endY + 9}" text-anchor="middle" font-size="15" fill="${color}">✕</text>`);
      }
      const label = segmentLabel(step) + (step.dropped ? ' (dropped)' : '');
      rows.push(`<text x="${(left + right) / 2}" y="${y - 1}" text-anchor="middle" font-size="11" fill="${color}">${escape(label)}</text>`);
      rows.push(`<text x="10" y="${y + 14}" font-size="10" fill="#666">${step.t.toFixed(3)} s</text>`);
      rows.push(`<text x="${left - 8}" y="${y + 14}" text-anchor="end" font-size="11">${escape(step.client)}</text>`);
      rows.push(`<text x="${right + 8}" y="${y + 14}" font-size="11">${escape(step.server)}</text>`);
      y += rowHeight;
    }
    parts.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${y}" stroke="#999"/>`, `<line x1="${right}" y1="${top}" x2="${right}" y2="${y}" stroke="#999"/>`);
    parts.push(...rows);
    y += 10;
  }
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans Mono, monospace">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1f4e79"/></marker></defs>',
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
