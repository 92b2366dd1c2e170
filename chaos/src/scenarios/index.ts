import type { Scenario } from '../scenario'
import { brokerKills } from './broker-kills'
import { groupMemberKill } from './group-member-kill'
import { primaryKill } from './primary-kill'
import { queueSettlements } from './queue-settlements'
import { restartsNoSubscribers, restartsWithSubscribers } from './restarts'
import { rowLock } from './row-lock'
import { tcpCuts } from './tcp-cuts'

/** Every scenario, in the order a full run takes them; a new one is a file beside these and a line here. */
export const SCENARIOS: Scenario[] = [
  primaryKill,
  restartsNoSubscribers,
  restartsWithSubscribers,
  groupMemberKill,
  queueSettlements,
  brokerKills,
  tcpCuts,
  rowLock,
]
