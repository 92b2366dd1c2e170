/**
 * The broker runs with its defaults, authentication included: the bench starts
 * it with this admin key (QUESTLOG_ADMIN_KEY) and every client presents it.
 */
export const BENCH_ADMIN_KEY = `ql_benchadmin01_${'Q'.repeat(43)}`
export const AUTH_HEADER = { authorization: `Bearer ${BENCH_ADMIN_KEY}` } as const
