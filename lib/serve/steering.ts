// Steering a SO_REUSEPORT group with a classic BPF program (SO_ATTACH_REUSEPORT_CBPF, no
// privilege needed): the program's return value is an index into the group, in the
// kernel's order (join order; closing a member moves the last one into its slot), and an
// index out of range falls back to hashing over every member.
import { binding } from '../core/binding';

// linux/filter.h
const BPF_LD_W_ABS = 0x20;
const BPF_ALU_MOD_K = 0x94;
const BPF_JMP_JEQ_K = 0x15;
const BPF_RET_K = 0x06;
const SKF_AD_RANDOM = (0x1000 * -1 + 56) >>> 0; // SKF_AD_OFF + SKF_AD_RANDOM

/**
 * A program sending every new connection to one of `keep` (indices of the group), chosen at
 * random: `ld random; mod #n; jeq #0 → ret keep[0]; ...; ret keep[n-1]`. Only the SYN picks
 * a listener, so a random choice per packet is a random choice per connection.
 */
export function steeringProgram(keep: readonly number[]): number[] {
  // 2n + 1 instructions, within BPF_MAXINSNS (4096); the CLI allows 1024 workers.
  if (keep.length === 0 || keep.length > 2000) throw new RangeError(`a steering program keeps 1 to 2000 members, not ${keep.length}`);
  if (keep.length === 1) return [BPF_RET_K, 0, 0, keep[0]!];
  const program = [BPF_LD_W_ABS, 0, 0, SKF_AD_RANDOM, BPF_ALU_MOD_K, 0, 0, keep.length];
  keep.slice(0, -1).forEach((index, i) => program.push(BPF_JMP_JEQ_K, 0, 1, i, BPF_RET_K, 0, 0, index));
  program.push(BPF_RET_K, 0, 0, keep[keep.length - 1]!);
  return program;
}

/** The group that `fd` is a member of sends new connections only to `keep`. */
export function steer(fd: number, keep: readonly number[]): void {
  binding.attachReuseportCbpf(fd, steeringProgram(keep));
}

/** Back to the kernel's hashing over every member. */
export function unsteer(fd: number): void {
  binding.detachReuseportBpf(fd);
}

/**
 * The group's order as the kernel keeps it (reuse->socks): members join at the end, and a
 * member that leaves has the last one moved into its slot.
 */
export class GroupOrder<T> {
  readonly #members: T[] = [];

  join(member: T): void {
    this.#members.push(member);
  }

  leave(member: T): void {
    const i = this.#members.indexOf(member);
    if (i === -1) return;
    const last = this.#members.pop()!;
    if (i < this.#members.length) this.#members[i] = last;
  }

  indexOf(member: T): number {
    return this.#members.indexOf(member);
  }

  /** The indices of every member but `leaving`. */
  indicesWithout(leaving: readonly T[]): number[] {
    return this.#members.flatMap((m, i) => (leaving.includes(m) ? [] : [i]));
  }

  get members(): readonly T[] {
    return this.#members;
  }

  get size(): number {
    return this.#members.length;
  }
}
