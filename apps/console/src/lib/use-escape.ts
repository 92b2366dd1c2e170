'use client'

import { type RefObject, useEffect, useRef } from 'react'

/**
 * While `active`, the Escape key calls `onEscape`: how every panel that opens into the page closes.
 * Focus then goes back to the button that opened it: the one given the returned ref (for a button
 * that is hidden while its panel is open and drawn anew after), else what had focus on opening.
 */
export function useEscape(active: boolean, onEscape: () => void): RefObject<HTMLButtonElement | null> {
  const latest = useRef(onEscape)
  latest.current = onEscape
  const opener = useRef<HTMLButtonElement | null>(null)
  useEffect(() => {
    if (!active) return
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement : null
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented) return
      latest.current()
      // after React has drawn the page without the panel, so focus does not fall to the page's start
      requestAnimationFrame(() => {
        const back = opener.current ?? (focused?.isConnected ? focused : null)
        back?.focus()
      })
    }
    document.addEventListener('keydown', onKey)
    return () => document.removeEventListener('keydown', onKey)
  }, [active])
  return opener
}
