// The lab's scenarios, in the order the TCP diagram tells its story.
import type { Scenario } from '../scenario';
import { abortiveClose } from './abortive-close';
import { activeClose } from './active-close';
import { halfClose } from './half-close';
import { handshake } from './handshake';
import { passiveClose } from './passive-close';
import { restartScenario } from './restart';
import { sharedDescriptor } from './shared-descriptor';
import { simultaneousClose } from './simultaneous-close';
import { simultaneousOpen } from './simultaneous-open';

export const SCENARIOS: readonly Scenario[] = [
  handshake,
  simultaneousOpen,
  activeClose,
  passiveClose,
  simultaneousClose,
  halfClose,
  abortiveClose,
  restartScenario,
  sharedDescriptor,
];
