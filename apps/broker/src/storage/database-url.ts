import { z } from 'zod'

/**
 * The hosts of a PostgreSQL URL, as libpq and the `postgres` client read them:
 * `postgres://user@h1:5432,h2:5432/db` names a primary and its standbys, tried
 * in turn (WHATWG URLs, and so `z.string().url()`, refuse the comma list).
 */
function hostsOf(url: string): string[] {
  const rest = url.slice(url.indexOf('://') + 3)
  const authority = rest.split(/[/?#]/)[0] ?? ''
  return authority
    .slice(authority.lastIndexOf('@') + 1)
    .split(',')
    .filter(Boolean)
}

/** A `postgres://` or `postgresql://` URL with one host or several (`h1:p1,h2:p2`). */
export const databaseUrlSchema = z
  .string()
  .regex(/^postgres(ql)?:\/\//, 'a PostgreSQL URL starts with postgres:// or postgresql://')
  .superRefine((url, ctx) => {
    const hosts = hostsOf(url)
    for (const h of hosts) {
      // `name`, `name:port`, `[v6]` or `[v6]:port`
      const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/.exec(h)
      if (!m || (m[2] !== undefined && !(Number(m[2]) >= 1 && Number(m[2]) <= 65535))) {
        ctx.addIssue({ code: 'custom', message: `'${h}' is not a host or host:port` })
        return
      }
    }
    try {
      // everything but the host list must be a URL
      new URL(hosts.length > 1 ? url.replace(hosts.join(','), hosts[0]!) : url)
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a valid URL' })
    }
  })

/**
 * A broker writes: with several hosts it must land on the one that takes
 * writes, before and after a failover, so a multi-host URL that does not say
 * otherwise gets `target_session_attrs=read-write`.
 */
export function writableDatabaseUrl(url: string): string {
  if (hostsOf(url).length < 2 || /[?&]target_session_attrs=/.test(url)) return url
  return `${url}${url.includes('?') ? '&' : '?'}target_session_attrs=read-write`
}
