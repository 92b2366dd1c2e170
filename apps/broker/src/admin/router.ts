import {
  createTopicSchema,
  presenceChannelSchema,
  publishBatchSchema,
  readQuerySchema,
  topicNameSchema,
  updateTopicSchema,
} from '@questlog/protocol'
import { z } from 'zod'
import { envelopeJson } from '../read/envelope-json'
import { browseQuerySchema, readNewestPage } from '../read/newest-reader'
import { readPage } from '../read/reader'
import type { Services } from '../services'
import { toTopicInfo } from '../topics/topic-service'
import { auditRouter, keysRouter } from './access-router'
import { replaysRouter, subscriptionsRouter } from './delivery-router'
import { AppendRates, TopicFigureCache, topicPage, topicPageSchema } from './list-pages'
import { statsRouter } from './stats-router'
import { procedure, router } from './trpc'

const byName = z.object({ name: topicNameSchema })
/** Members of a presence channel the console shows at once. */
const PRESENCE_PAGE = 200

/** Each broker's append-rate samples and topic figures, kept as long as its services are. */
const listState = new WeakMap<Services, { rates: AppendRates; figures: TopicFigureCache }>()
function listStateOf(s: Services) {
  let state = listState.get(s)
  if (!state) {
    state = { rates: new AppendRates(), figures: new TopicFigureCache() }
    listState.set(s, state)
  }
  return state
}

/** The admin API under /trpc, used by the console. Its type is the console's contract. */
export const adminRouter = router({
  subscriptions: subscriptionsRouter,
  replays: replaysRouter,
  topics: router({
    list: procedure.query(async ({ ctx }) => (await ctx.s.topics.list()).map(toTopicInfo)),
    /** One page of the topic list with each row's counts, size and rate, read in one query. */
    page: procedure.input(topicPageSchema).query(({ ctx, input }) => {
      const { rates, figures } = listStateOf(ctx.s)
      return topicPage(ctx.s.sql, rates, figures, input)
    }),
    get: procedure.input(byName).query(({ ctx, input }) => ctx.s.topics.describe(input.name)),
    create: procedure.input(createTopicSchema).mutation(async ({ ctx, input }) => {
      const topic = await ctx.s.topics.create(input, ctx.s.quotas.owner(ctx.principal))
      return ctx.s.topics.describe(topic.name)
    }),
    update: procedure
      .input(z.object({ name: topicNameSchema, patch: updateTopicSchema }))
      .mutation(async ({ ctx, input }) => {
        await ctx.s.topics.update(input.name, input.patch, ctx.s.quotas.owner(ctx.principal))
        return ctx.s.topics.describe(input.name)
      }),
    delete: procedure.input(byName).mutation(async ({ ctx, input }) => {
      await ctx.s.topics.delete(input.name)
      return { deleted: input.name }
    }),
  }),
  events: router({
    read: procedure
      .input(z.object({ topic: topicNameSchema, query: readQuerySchema }))
      .query(async ({ ctx, input }) => {
        const topic = await ctx.s.topics.get(input.topic)
        const page = await readPage(ctx.s.sql, topic, input.query)
        return {
          events: page.events.map((e) => JSON.parse(envelopeJson(topic.name, e)) as Record<string, unknown>),
          next: page.next,
          cursor: page.cursor,
        }
      }),
    /** Newest first, with payload search done by the database a window at a time: the console's browser. */
    newest: procedure
      .input(z.object({ topic: topicNameSchema, query: browseQuerySchema }))
      .query(async ({ ctx, input }) => {
        const topic = await ctx.s.topics.get(input.topic)
        const page = await readNewestPage(ctx.s.sql, topic, input.query)
        return {
          ...page,
          events: page.events.map((e) => JSON.parse(envelopeJson(topic.name, e)) as Record<string, unknown>),
        }
      }),
    publish: procedure
      .input(z.object({ topic: topicNameSchema, events: publishBatchSchema.shape.events }))
      .mutation(({ ctx, input }) =>
        ctx.s.pipeline.publish({
          door: 'console',
          topic: input.topic,
          principal: ctx.principal,
          events: input.events,
          batch: true,
        }),
      ),
  }),
  health: procedure.query(({ ctx }) => ctx.s.health.report()),
  /** Every broker on this database seen within the last hour: live, stopped or dead, with its health. */
  brokers: procedure.query(({ ctx }) => ctx.s.cluster.registry.list()),
  presence: router({
    /** A presence channel's members on every broker: the first PRESENCE_PAGE, and how many there are. */
    members: procedure.input(z.object({ channel: presenceChannelSchema })).query(({ ctx, input }) => {
      const members = ctx.s.presence.members(input.channel)
      return { channel: input.channel, total: members.length, members: members.slice(0, PRESENCE_PAGE) }
    }),
  }),
  stats: statsRouter,
  keys: keysRouter,
  audit: auditRouter,
})

export type AdminRouter = typeof adminRouter
