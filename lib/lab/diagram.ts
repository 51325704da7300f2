// The TCP state diagram (RFC 793 fig. 6, RFC 9293 fig. 5) as SVG, with the states and
// transitions a lab run observed highlighted. Plain string building: no dependency.
import { invalidArgType } from '../core/errors';
import type { TcpState } from '../core/tcp-states';
import { readOptions, validateString } from '../core/validate';

type Node = TcpState | 'CLOSED_END';

interface Transition {
  from: Node;
  to: Node;
  label: string;
  /** Sideways bend of the arrow, so that opposite arrows between two states stay apart. */
  bend?: number;
  dashed?: boolean;
}

export interface Observed {
  states: Iterable<TcpState>;
  /** Transitions as 'FROM>TO' with the state names, e.g. 'FIN_WAIT_2>TIME_WAIT'. */
  transitions: Iterable<string>;
  title?: string;
}

const WIDTH = 920;
const HEIGHT = 920;
const BOX_W = 150;
const BOX_H = 40;

const POSITIONS: Record<Node, [number, number]> = {
  CLOSED: [460, 100],
  LISTEN: [460, 220],
  SYN_RECV: [200, 350],
  SYN_SENT: [720, 350],
  ESTABLISHED: [460, 470],
  FIN_WAIT_1: [200, 600],
  CLOSE_WAIT: [720, 600],
  FIN_WAIT_2: [110, 730],
  CLOSING: [330, 730],
  LAST_ACK: [720, 730],
  TIME_WAIT: [220, 850],
  CLOSED_END: [720, 850],
};

export const TRANSITIONS: readonly Transition[] = [
  { from: 'CLOSED', to: 'LISTEN', label: 'passive open', bend: -30 },
  { from: 'LISTEN', to: 'CLOSED', label: 'close', bend: -30 },
  { from: 'CLOSED', to: 'SYN_SENT', label: 'active open / SYN', bend: -30 },
  { from: 'SYN_SENT', to: 'CLOSED', label: 'close', bend: -30 },
  { from: 'LISTEN', to: 'SYN_RECV', label: 'rcv SYN / SYN,ACK' },
  { from: 'LISTEN', to: 'SYN_SENT', label: 'send / SYN' },
  { from: 'SYN_SENT', to: 'SYN_RECV', label: 'rcv SYN / SYN,ACK (simultaneous open)' },
  { from: 'SYN_RECV', to: 'ESTABLISHED', label: 'rcv ACK' },
  { from: 'SYN_SENT', to: 'ESTABLISHED', label: 'rcv SYN,ACK / ACK' },
  { from: 'SYN_RECV', to: 'FIN_WAIT_1', label: 'close / FIN' },
  { from: 'ESTABLISHED', to: 'FIN_WAIT_1', label: 'close / FIN (active close)' },
  { from: 'ESTABLISHED', to: 'CLOSE_WAIT', label: 'rcv FIN / ACK (passive close)' },
  { from: 'ESTABLISHED', to: 'CLOSED_END', label: 'RST (SO_LINGER 0)', dashed: true, bend: 60 },
  { from: 'FIN_WAIT_1', to: 'FIN_WAIT_2', label: 'rcv ACK' },
  { from: 'FIN_WAIT_1', to: 'CLOSING', label: 'rcv FIN / ACK' },
  { from: 'FIN_WAIT_2', to: 'TIME_WAIT', label: 'rcv FIN / ACK' },
  { from: 'CLOSING', to: 'TIME_WAIT', label: 'rcv ACK' },
  { from: 'CLOSE_WAIT', to: 'LAST_ACK', label: 'close / FIN' },
  { from: 'LAST_ACK', to: 'CLOSED_END', label: 'rcv ACK' },
  { from: 'TIME_WAIT', to: 'CLOSED_END', label: '2MSL timeout (60 s on Linux)' },
];

const nameOf = (node: Node): TcpState => (node === 'CLOSED_END' ? 'CLOSED' : node);

const escapeXml = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Where the ray from the box centre (cx, cy) towards (tx, ty) leaves the box. */
function boxEdge(cx: number, cy: number, tx: number, ty: number): [number, number] {
  const dx = tx - cx;
  const dy = ty - cy;
  const scale = 1 / Math.max(Math.abs(dx) / (BOX_W / 2 + 4), Math.abs(dy) / (BOX_H / 2 + 4), 1e-9);
  return [cx + dx * scale, cy + dy * scale];
}

function arrow(t: Transition, seen: boolean): string {
  const [x1, y1] = POSITIONS[t.from];
  const [x2, y2] = POSITIONS[t.to];
  const length = Math.hypot(x2 - x1, y2 - y1);
  const bend = t.bend ?? 0;
  // Control point: the midpoint pushed sideways by `bend`.
  const qx = (x1 + x2) / 2 + (-(y2 - y1) / length) * bend;
  const qy = (y1 + y2) / 2 + ((x2 - x1) / length) * bend;
  const [sx, sy] = boxEdge(x1, y1, qx, qy);
  const [ex, ey] = boxEdge(x2, y2, qx, qy);
  // The label sits beside the curve's midpoint, on the side the arrow bends to.
  const side = bend === 0 ? 1 : Math.sign(bend);
  const nx = (-(y2 - y1) / length) * side;
  const ny = ((x2 - x1) / length) * side;
  const lx = 0.25 * sx + 0.5 * qx + 0.25 * ex + nx * 6;
  const ly = 0.25 * sy + 0.5 * qy + 0.25 * ey + ny * 6;
  const anchor = bend === 0 ? 'middle' : nx > 0.3 ? 'start' : nx < -0.3 ? 'end' : 'middle';
  const cls = `transition${seen ? ' seen' : ''}${t.dashed ? ' dashed' : ''}`;
  const id = `${nameOf(t.from)}>${nameOf(t.to)}`;
  return [
    `<g class="${cls}" data-transition="${id}">`,
    `<path d="M${sx.toFixed(1)},${sy.toFixed(1)} Q${qx.toFixed(1)},${qy.toFixed(1)} ${ex.toFixed(1)},${ey.toFixed(1)}" marker-end="url(#${seen ? 'head-seen' : 'head'})"/>`,
    `<text x="${lx.toFixed(1)}" y="${(ly - 4).toFixed(1)}" text-anchor="${anchor}">${escapeXml(t.label)}</text>`,
    '</g>',
  ].join('');
}

function box(node: Node, seen: boolean): string {
  const [x, y] = POSITIONS[node];
  const name = nameOf(node);
  return [
    `<g class="state${seen ? ' seen' : ''}" data-state="${name}">`,
    `<rect x="${x - BOX_W / 2}" y="${y - BOX_H / 2}" width="${BOX_W}" height="${BOX_H}" rx="8"/>`,
    `<text x="${x}" y="${y + 5}">${name}</text>`,
    '</g>',
  ].join('');
}

const STYLE = `
  .state rect { fill: #f4f4f5; stroke: #a1a1aa; stroke-width: 1.5; }
  .state text { font: 600 14px sans-serif; fill: #71717a; text-anchor: middle; }
  .state.seen rect { fill: #2563eb; stroke: #1e40af; }
  .state.seen text { fill: #ffffff; }
  .transition path { fill: none; stroke: #d4d4d8; stroke-width: 1.5; }
  .transition text { font: 11px sans-serif; fill: #a1a1aa; paint-order: stroke; stroke: #ffffff; stroke-width: 4px; stroke-linejoin: round; }
  .transition.seen path { stroke: #ea580c; stroke-width: 3; }
  .transition.seen text { fill: #9a3412; font-weight: 600; }
  .transition.dashed path { stroke-dasharray: 6 4; }
  .title { font: 600 16px sans-serif; fill: #18181b; }
  .legend { font: 12px sans-serif; fill: #3f3f46; }
`;

/** The whole diagram; observed states are filled blue, observed transitions drawn orange. */
/** An iterable of strings, copied once. */
function strings(value: unknown, name: string): string[] {
  if (typeof value !== 'object' || value === null || typeof (value as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw invalidArgType(name, 'an iterable of strings', value);
  }
  const list = Array.from(value as Iterable<unknown>);
  for (const item of list) if (typeof item !== 'string') throw invalidArgType(name, 'an iterable of strings', item);
  return list as string[];
}

export function renderStateDiagram(observed: Observed): string {
  if (observed === undefined) throw invalidArgType('observed', 'of type object', observed);
  // A LabReport (runLab's result) is drawn as it is: its scenarios and missing states are
  // known and not drawn; any other key is a mistake.
  const o = readOptions(observed, 'observed', ['states', 'transitions', 'title', 'scenarios', 'missing'], 'a property of Observed or of a LabReport');
  const states = new Set<string>(strings(o.states, 'observed.states'));
  const transitions = new Set<string>(strings(o.transitions, 'observed.transitions'));
  const nodes = Object.keys(POSITIONS) as Node[];
  const title = o.title === undefined ? 'TCP states observed on this host' : validateString(o.title, 'observed.title');
  const seenCount = new Set([...states].filter((s) => s !== 'UNKNOWN')).size;
  // Only the diagram's own edges count: a jump over a state the polling missed is not one.
  const drawnCount = TRANSITIONS.filter((t) => transitions.has(`${nameOf(t.from)}>${nameOf(t.to)}`)).length;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    `<style>${STYLE}</style>`,
    '<defs>',
    '<marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#d4d4d8"/></marker>',
    '<marker id="head-seen" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="5" markerHeight="5" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#ea580c"/></marker>',
    '</defs>',
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text class="title" x="20" y="28">${escapeXml(title)}</text>`,
    `<text class="legend" x="20" y="48">${seenCount} of 11 states and ${drawnCount} of ${TRANSITIONS.length} transitions observed (blue, orange) as the kernel reported them</text>`,
    ...TRANSITIONS.map((t) => arrow(t, transitions.has(`${nameOf(t.from)}>${nameOf(t.to)}`))),
    ...nodes.map((n) => box(n, states.has(nameOf(n)))),
    '</svg>',
    '',
  ].join('\n');
}
