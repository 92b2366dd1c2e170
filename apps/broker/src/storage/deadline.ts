/**
 * `p`, or a rejection with code `ETIMEDOUT` (a database-unavailable code) once
 * `ms` have passed: a call that gets no answer fails, and its caller retries
 * or reports, instead of waiting on a connection that says nothing.
 */
export function withDeadline<T>(p: PromiseLike<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            Object.assign(new Error(`the database gave no answer within ${ms} ms`), { code: 'ETIMEDOUT' }),
          ),
        ms,
      )
    }),
  ]).finally(() => clearTimeout(timer))
}
