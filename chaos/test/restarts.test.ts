import { buildBroker } from '@questlog/testkit'
import { beforeAll, describe, expect, it } from 'vitest'
import { runScenario } from '../src/scenario'
import { restartsNoSubscribers, restartsWithSubscribers } from '../src/scenarios/restarts'

describe('immediate PostgreSQL restarts under SDK load (real processes)', () => {
  beforeAll(() => buildBroker())

  for (const scenario of [restartsNoSubscribers, restartsWithSubscribers]) {
    it(scenario.title, async () => {
      const r = await runScenario(scenario)
      console.log(scenario.name, r.figures)
      expect(r.violations).toEqual([])
    })
  }
})
