'use client'

import { useActionState } from 'react'
import { type LoginState, login } from './actions'

export function LoginForm() {
  const [state, action, pending] = useActionState<LoginState, FormData>(login, {})
  return (
    <form className="form" action={action}>
      <div className="field">
        <label htmlFor="login-key">Admin key</label>
        <input
          id="login-key"
          name="key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="ql_…"
          aria-invalid={state.error ? true : undefined}
          aria-describedby="login-key-msg"
          required
        />
        {state.error ? (
          <span className="field-error" id="login-key-msg" role="alert" data-testid="login-error">
            {state.error}
          </span>
        ) : (
          <span className="hint" id="login-key-msg">
            An API key allowed admin on every topic (&gt;).
          </span>
        )}
      </div>
      <div className="form-actions">
        <button type="submit" className="primary" disabled={pending}>
          {pending ? 'Checking…' : 'Sign in'}
        </button>
      </div>
    </form>
  )
}
