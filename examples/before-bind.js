// examples/before-bind.js: a fresh unbound socket for options that count only before bind.
const { getOption, setOption, socket } = require('sockctl');

const s = socket('ipv6'); // close-on-exec, non-blocking, owned by `s`
setOption(s, 'IPV6_V6ONLY', true);
setOption(s, 'TCP_MAXSEG', 1200);
console.log('IPV6_V6ONLY', getOption(s, 'IPV6_V6ONLY')); // true
console.log('TCP_MAXSEG', getOption(s, 'TCP_MAXSEG')); // 1200
s.close();
