import type { TopicInfo } from '@questlog/protocol'
import { describe, expect, it } from 'vitest'
import { checkCreate, checkUpdate, EMPTY_TOPIC, valuesOf } from './topic-values'

// only the settings the form edits; the cast leaves room for settings the protocol adds later
const topic = {
  name: 'game.events',
  partitions: 4,
  retentionMs: 86_400_000,
  retentionBytes: null,
  dedupeWindowMs: 120_000,
  maxEventBytes: 1_048_576,
  segmentMs: 3_600_000,
  cleanup: 'delete',
  deleteRetentionMs: 86_400_000,
  createdAt: '2026-11-26T14:00:00.000Z',
} as TopicInfo

describe('checkCreate', () => {
  it('sends what was typed, with the defaults for empty fields and empty retention meaning "keep forever"', () => {
    const r = checkCreate({ ...EMPTY_TOPIC, name: ' game.events ', partitions: '3' })
    expect(r.ok).toBe(true)
    expect(r.ok && r.input).toMatchObject({
      name: 'game.events',
      partitions: 3,
      retentionMs: null,
      retentionBytes: null,
      dedupeWindowMs: 120_000,
      maxEventBytes: 1_048_576,
    })
    expect(r.ok && r.input.segmentMs).toBeUndefined()
  })

  it('reports every bad field at once, in the protocol schema words', () => {
    const r = checkCreate({ ...EMPTY_TOPIC, name: 'bad name', partitions: '0', dedupeWindowMs: 'soon' })
    expect(r.ok).toBe(false)
    expect(r.ok ? {} : r.errors).toEqual({
      name: "use letters, digits, '_' and '-', separated by dots (e.g. game.events)",
      partitions: 'a topic has at least 1 partition',
      dedupeWindowMs: 'enter a number',
    })
  })
})

describe('cleanup', () => {
  it('creates a delete topic by default, without a delete retention', () => {
    const r = checkCreate({ ...EMPTY_TOPIC, name: 'game.events', deleteRetentionMs: 'ignored' })
    expect(r.ok && r.input.cleanup).toBe('delete')
  })

  it('sends the cleanup policy and the delete retention of a compacted topic', () => {
    const r = checkCreate({
      ...EMPTY_TOPIC,
      name: 'player.profiles',
      cleanup: 'compact',
      deleteRetentionMs: '60000',
    })
    expect(r.ok && r.input).toMatchObject({ cleanup: 'compact', deleteRetentionMs: 60_000 })
    const empty = checkCreate({ ...EMPTY_TOPIC, name: 'player.profiles', cleanup: 'compact,delete' })
    expect(empty.ok && empty.input).toMatchObject({
      cleanup: 'compact,delete',
      deleteRetentionMs: 86_400_000,
    })
  })

  it('puts a bad delete retention beside its field', () => {
    const r = checkCreate({
      ...EMPTY_TOPIC,
      name: 'player.profiles',
      cleanup: 'compact',
      deleteRetentionMs: '-1',
    })
    expect(r.ok ? {} : r.errors).toEqual({ deleteRetentionMs: 'must be 0 or more' })
  })

  it('patches the delete retention of a compacted topic when it changed', () => {
    const compacted = { ...topic, cleanup: 'compact' } as TopicInfo
    const r = checkUpdate({ ...valuesOf(compacted), deleteRetentionMs: '1000' }, compacted)
    expect(r).toEqual({ ok: true, patch: { deleteRetentionMs: 1000 } })
  })
})

describe('checkUpdate', () => {
  it('patches only the settings that changed', () => {
    const r = checkUpdate({ ...valuesOf(topic), partitions: '6', retentionMs: '' }, topic)
    expect(r).toEqual({ ok: true, patch: { partitions: 6, retentionMs: null } })
  })

  it('refuses fewer partitions than the topic has', () => {
    const r = checkUpdate({ ...valuesOf(topic), partitions: '2' }, topic)
    expect(r.ok ? {} : r.errors).toEqual({ partitions: 'partitions can only grow (the topic has 4)' })
  })
})
