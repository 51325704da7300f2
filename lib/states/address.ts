// Socket addresses as text, from the kernel's bytes (network order), written the way
// inet_ntop(3) and so ss(8) write them: dotted IPv4; IPv6 in RFC 5952 form (lowercase, the
// longest run of two or more zero groups as "::"), with the IPv4 tail of ::ffff:a.b.c.d.

export function formatIPv4(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

export function formatIPv6(bytes: Uint8Array, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[offset + i]! << 8) | bytes[offset + i + 1]!);

  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  if (bestLength < 2) bestStart = -1;

  // As glibc: ::a.b.c.d and ::ffff:a.b.c.d keep the embedded IPv4 address dotted.
  const embedsIPv4 = bestStart === 0 && (bestLength === 6 || (bestLength === 5 && groups[5] === 0xffff));
  const last = embedsIPv4 ? 6 : 8;
  let text = '';
  for (let i = 0; i < last; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLength - 1;
      continue;
    }
    if (text !== '' && !text.endsWith(':')) text += ':';
    text += groups[i]!.toString(16);
  }
  if (embedsIPv4) text += `${text.endsWith(':') ? '' : ':'}${formatIPv4(bytes, offset + 12)}`;
  return text;
}

/** `address:port` as ss writes it: IPv6 in brackets, port 0 (a listener's peer) as `*`. */
export function formatEndpoint(address: string, port: number): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return `${host}:${port === 0 ? '*' : port}`;
}
