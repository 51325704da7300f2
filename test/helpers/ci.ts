// Under CI (CI=true, as root: .ci/run) a capability a test needs and does not find is a
// failure, not a skip: coverage must not vanish because a machine lacks tracefs, ptrace or
// a tool. Elsewhere (a developer's machine, no root) such tests skip, saying why.
import { beforeAll } from 'vitest';

export const strictCi = process.env.CI === 'true' && process.getuid?.() === 0;

/** skipIf's argument for a case that needs `available`: true (skip) only outside CI. */
export function skipUnlessAvailable(available: boolean): boolean {
  return !available && !strictCi;
}

/**
 * In a describe that `skipUnlessAvailable(available)` guards: under CI, where it runs even
 * without the capability, its first hook fails with `reason` instead of each case failing
 * for a cause it does not name.
 */
export function requireUnderCi(available: boolean, reason: () => string): void {
  beforeAll(() => {
    if (!available) throw new Error(`CI=true as root, and this needs what is missing here: ${reason()}`);
  });
}
