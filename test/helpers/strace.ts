// Whether strace can trace a child here (strace installed, ptrace allowed): the probe the
// strace-witnessed tests share, and the reason they give when it fails.
import { spawnSync } from 'node:child_process';
import { isLinux } from './net';

export const canStrace = isLinux && spawnSync('strace', ['-qq', '-e', 'trace=none', 'true']).status === 0;

export const noStraceReason = 'strace could not trace a child (strace missing, or ptrace refused)';
