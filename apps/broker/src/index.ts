export type { AdminRouter } from './admin/router'
export { type Broker, type BrokerOptions, createBroker, VERSION } from './broker'
export { type BrokerConfig, type BrokerConfigInput, brokerConfigSchema, configFromEnv } from './config'
export { type EmbeddedDatabase, freePort, startEmbeddedPostgres } from './storage/embedded'
