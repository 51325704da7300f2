// Moved to core/abort.ts; re-exported here for takeover.ts until its rework imports it from core.
export { checkSignal, onAbort } from '../core/abort';
