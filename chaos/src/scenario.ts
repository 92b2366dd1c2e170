/** What a scenario measured, printed and put in the report, in this order. */
export type Figures = Record<string, number | string>

export interface ScenarioContext {
  /** One line of progress on stderr. */
  log(line: string): void
  figures: Figures
  /** A property that must hold; a false one fails the scenario (it still runs to the end). */
  expect(holds: boolean, property: string): void
}

/** One fault scenario: a file under src/scenarios exporting one of these. */
export interface Scenario {
  name: string
  /** What it does and what must hold, for the report. */
  title: string
  /** Set when it needs pg_auto_failover (Debian `postgresql-15-auto-failover`). */
  needsFailover?: boolean
  run(ctx: ScenarioContext): Promise<void>
}

export interface ScenarioResult {
  scenario: Scenario
  figures: Figures
  violations: string[]
  error?: string
  ms: number
}

/** Runs one scenario; never throws: a crash is a violation in the result. */
export async function runScenario(
  s: Scenario,
  log = (l: string) => process.stderr.write(`${l}\n`),
): Promise<ScenarioResult> {
  const figures: Figures = {}
  const violations: string[] = []
  const t0 = performance.now()
  const ctx: ScenarioContext = {
    log: (l) => log(`[${s.name}] ${l}`),
    figures,
    expect(holds, property) {
      if (!holds) violations.push(property)
    },
  }
  let error: string | undefined
  try {
    await s.run(ctx)
  } catch (e) {
    error = (e as Error).stack ?? String(e)
    violations.push(`the scenario failed: ${(e as Error).message}`)
  }
  const result: ScenarioResult = { scenario: s, figures, violations, ms: Math.round(performance.now() - t0) }
  if (error !== undefined) result.error = error
  return result
}
