// The platform's numbers, as the addon was compiled against them, plus errno from Node.
import { constants as osConstants } from 'node:os';
import { binding } from './binding';
import type { OptionName } from './options';

/** Present on every POSIX platform. */
type PosixName =
  | 'AF_INET' | 'AF_INET6' | 'SOCK_STREAM' | 'SOCK_DGRAM'
  | 'SOL_SOCKET' | 'IPPROTO_IP' | 'IPPROTO_IPV6' | 'IPPROTO_TCP' | 'IPPROTO_UDP'
  | 'SHUT_RD' | 'SHUT_WR' | 'SHUT_RDWR';

/** Option numbers are absent where this platform lacks the option. */
export type Constants = Readonly<Record<PosixName, number>> &
  { readonly [K in OptionName]?: number } & { readonly errno: Readonly<Record<string, number>> };

export const constants = Object.freeze({ ...binding.constants, errno: osConstants.errno }) as unknown as Constants;
