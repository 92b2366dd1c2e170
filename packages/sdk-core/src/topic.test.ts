import { gameKillSchema, isQuestlogError } from '@questlog/protocol'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { checkPayload, defineTopic } from './topic'

describe('defineTopic', () => {
  const actions = defineTopic('player.actions', z.object({ action: z.string(), player: z.string() }))

  it('names the failing field of a payload', () => {
    const e = checkPayload(actions, { action: 'jump', player: 42 as unknown as string })
    expect(isQuestlogError(e) && e.code).toBe('validation_error')
    expect(e?.name).toBe('ValidationError')
    expect(e?.issues[0]?.path).toBe('data.player')
    expect(e?.message).toMatch(/^data\.player: /)
  })

  it('passes a good payload and skips checks when asked', () => {
    expect(checkPayload(actions, { action: 'jump', player: 'p1' })).toBeUndefined()
    const loose = defineTopic('game.kills', gameKillSchema, { validate: false })
    expect(checkPayload(loose, {} as never)).toBeUndefined()
    expect(checkPayload('untyped', { anything: true })).toBeUndefined()
  })
})
