import type { ReactNode } from 'react'

/**
 * A box that scrolls inside itself (a payload, a wide table), never the page. It takes focus, so a
 * keyboard can scroll it too (WCAG 2.1.1).
 */
export function ScrollBox({
  as: Tag = 'pre',
  className,
  testId,
  children,
}: {
  /** `pre` for text, `div` around a table. */
  as?: 'pre' | 'div'
  className?: string
  testId?: string
  children: ReactNode
}) {
  return (
    <Tag className={className} data-testid={testId} tabIndex={0}>
      {children}
    </Tag>
  )
}
