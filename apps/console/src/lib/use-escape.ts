'use client'

import { useEffect, useRef } from 'react'

/**
 * While `active`, the Escape key calls `onEscape`: how every panel that opens over or into the page
 * closes. Focus goes back to what had it when the panel opened (the button that opened it).
 */
export function useEscape(active: boolean, onEscape: () => void): void {
  const latest = useRef(onEscape)
  latest.current = onEscape
  useEffect(() => {
    if (!active) return
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented) return
      latest.current()
      // after React has removed the panel, so focus does not fall to the page's start
      requestAnimationFrame(() => {
        if (opener?.isConnected) opener.focus()
      })
    }
    document.addEventListener('keydown', onKey)
    return () => document.removeEventListener('keydown', onKey)
  }, [active])
}
