'use server'

import { redirect } from 'next/navigation'
import { checkAdminKey } from '@/lib/check-key'
import { startSession } from '@/lib/session'

export interface LoginState {
  error?: string
}

/** Checks the pasted key against the broker and, when it administers it, opens a session. */
export async function login(_prev: LoginState, form: FormData): Promise<LoginState> {
  const key = String(form.get('key') ?? '').trim()
  if (!key) return { error: 'Paste an admin key: it starts with ql_.' }
  const checked = await checkAdminKey(key)
  if (!checked.ok) return { error: checked.message }
  await startSession({ key, keyId: checked.keyId, name: checked.name })
  redirect('/')
}
