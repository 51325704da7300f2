// The EADDRINUSE of listen(), createListener(), restart() and connect()'s bind, and the
// EADDRNOTAVAIL of connect() without a free local port, carry their causes
// (`error.causes`), computed only when the error happens. The analysis never replaces
// the error: if it fails itself, the error goes on without causes.
import { isSystemError, type SystemError } from '../core/errors';
import type { CheckedWhyOptions } from './options';
import type { PortCause } from './causes';
import { portRangeCause } from './port-range';
import { explainBind } from './why';

/** A bind or connect error with its causes (whyInUse's, measured when it happened). */
export interface AddressInUseError extends SystemError {
  causes?: PortCause[];
}

/** `error` (thrown by a bind) with `causes` when it is EADDRINUSE. */
export async function withBindCauses(error: unknown, request: CheckedWhyOptions): Promise<unknown> {
  if (!isSystemError(error) || error.code !== 'EADDRINUSE' || request.port === 0) return error;
  try {
    (error as AddressInUseError).causes = (await explainBind(request)).causes;
  } catch {
    // the analysis failed (no sock_diag here): the error as it was
  }
  return error;
}

/** `error` (a connect's) with the port range's cause when it is EADDRNOTAVAIL. */
export async function withConnectCauses(error: unknown): Promise<unknown> {
  if (!isSystemError(error) || error.code !== 'EADDRNOTAVAIL' || error.syscall !== 'connect') return error;
  if (error.address === undefined || error.port === undefined) return error;
  try {
    const cause = await portRangeCause(error.address, error.port);
    if (cause !== null) (error as AddressInUseError).causes = [cause];
  } catch {
    // as above
  }
  return error;
}
