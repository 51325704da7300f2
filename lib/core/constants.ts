// The platform's numbers, as the addon was compiled against them, plus errno from Node.
import { constants as osConstants } from 'node:os';
import { binding } from './binding';
import type { OptionName } from './options';

/** Present on every POSIX platform. */
type PosixName =
  | 'AF_INET' | 'AF_INET6' | 'SOCK_STREAM' | 'SOCK_DGRAM'
  | 'SOL_SOCKET' | 'IPPROTO_IP' | 'IPPROTO_IPV6' | 'IPPROTO_TCP' | 'IPPROTO_UDP'
  | 'SHUT_RD' | 'SHUT_WR' | 'SHUT_RDWR';

/**
 * Typed as Linux has them (the platform sockctl ships prebuilds for and tests): every
 * option name of the options table is a number. A macOS or BSD build leaves out what its
 * headers lack (TCP_INFO, TCP_CORK, ...): test `'TCP_CORK' in constants` there.
 */
export type Constants = Readonly<Record<PosixName | OptionName, number>> & { readonly errno: typeof osConstants.errno };

export const constants = Object.freeze({ ...binding.constants, errno: osConstants.errno }) as unknown as Constants;
