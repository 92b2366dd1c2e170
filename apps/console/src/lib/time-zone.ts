'use client'

import { useSyncExternalStore } from 'react'

/** Which clock the console shows times in: the browser's own zone, or UTC. */
export type TimeZoneChoice = 'local' | 'utc'

const KEY = 'questlog.console.timeZone'
const listeners = new Set<() => void>()

function read(): TimeZoneChoice {
  try {
    return window.localStorage.getItem(KEY) === 'utc' ? 'utc' : 'local'
  } catch {
    // storage refused (private mode, a sandboxed frame): the browser's zone
    return 'local'
  }
}

function subscribe(onChange: () => void): () => void {
  listeners.add(onChange)
  // another tab changing the choice changes it here too
  window.addEventListener('storage', onChange)
  return () => {
    listeners.delete(onChange)
    window.removeEventListener('storage', onChange)
  }
}

export function setTimeZoneChoice(choice: TimeZoneChoice): void {
  try {
    window.localStorage.setItem(KEY, choice)
  } catch {}
  for (const l of listeners) l()
}

/** The operator's choice, kept in localStorage; the server renders local (it has no data to show yet). */
export function useTimeZoneChoice(): TimeZoneChoice {
  return useSyncExternalStore(subscribe, read, () => 'local')
}
