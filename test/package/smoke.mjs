// Smoke test of the installed package through import: named exports and the namespace.
import * as sockctl from 'sockctl';
import { getOption, setOption, socket } from 'sockctl';
import { createRequire } from 'node:module';

const { exercise } = createRequire(import.meta.url)('./exercise.cjs');
const s = socket('ipv4');
setOption(s, 'SO_REUSEPORT', true);
if (getOption(s, 'SO_REUSEPORT') !== true) throw new Error('import: SO_REUSEPORT did not round-trip');
s.close();
await exercise(sockctl, 'import');
console.log('import: ok');
