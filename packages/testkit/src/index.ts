export {
  type BrokerProcess,
  type BrokerProcessOptions,
  buildBroker,
  nodeStartMs,
  startBroker,
} from './broker-process'
export { processUsage, startProcess, stopAll, stopProcess, waitForLine } from './child'
export { destroyPgServers, type PgServer, startPgServer } from './pg-server'
export { PG_BIN, postgresTempDir, postgresUser, runAsPostgres, SYSTEM_PG_BIN } from './postgres-user'
export { alive, killTree, processTree } from './proc-tree'
