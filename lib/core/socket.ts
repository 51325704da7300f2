// socket(2): a fresh unbound socket, close-on-exec and non-blocking, owned by the caller,
// for options that only take effect before bind (IPV6_V6ONLY, TCP_MAXSEG, ...).
import { binding } from './binding';
import { OwnedDescriptor, ownedByBinding } from './descriptor';
import { invalidArgValue } from './errors';

export type SocketFamily = 'ipv4' | 'ipv6';
export type SocketType = 'tcp' | 'udp';

const FAMILIES: Readonly<Record<SocketFamily, number>> = {
  ipv4: binding.constants.AF_INET!,
  ipv6: binding.constants.AF_INET6!,
};
const TYPES: Readonly<Record<SocketType, number>> = {
  tcp: binding.constants.SOCK_STREAM!,
  udp: binding.constants.SOCK_DGRAM!,
};

export function socket(family: SocketFamily = 'ipv4', type: SocketType = 'tcp'): OwnedDescriptor {
  if (typeof family !== 'string' || !Object.hasOwn(FAMILIES, family)) {
    throw invalidArgValue('family', family, "must be 'ipv4' or 'ipv6'");
  }
  if (typeof type !== 'string' || !Object.hasOwn(TYPES, type)) {
    throw invalidArgValue('type', type, "must be 'tcp' or 'udp'");
  }
  return ownedByBinding(binding.socket(FAMILIES[family], TYPES[type]));
}
