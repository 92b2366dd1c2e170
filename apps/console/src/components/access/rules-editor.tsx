'use client'

import { ACTIONS, EMPTY_RULE, type KeyErrors, type RuleValues } from './key-values'

interface Props {
  rules: RuleValues[]
  errors: KeyErrors
  onChange(rules: RuleValues[]): void
}

/** Allow/deny rows of actions on topic patterns; deny wins and no matching rule means denied. */
export function RulesEditor({ rules, errors, onChange }: Props) {
  const update = (i: number, patch: Partial<RuleValues>) =>
    onChange(rules.map((r, k) => (k === i ? { ...r, ...patch } : r)))
  return (
    <fieldset className="rules" data-testid="rules-editor">
      <legend className="field">
        <label htmlFor="rule-0-topics">Rules</label>
      </legend>
      {rules.map((r, i) => {
        const actionsError = errors[`rules.${i}.actions`]
        const topicsError = errors[`rules.${i}.topics`]
        return (
          // rules have no identity but their place in the list
          // biome-ignore lint/suspicious/noArrayIndexKey: rows are edited in place
          <div key={i} className="rule" data-testid="rule">
            <select
              aria-label={`Rule ${i + 1} effect`}
              value={r.effect}
              onChange={(e) => update(i, { effect: e.target.value as RuleValues['effect'] })}
            >
              <option value="allow">allow</option>
              <option value="deny">deny</option>
            </select>
            <fieldset className="actions-picks" aria-label={`Rule ${i + 1} actions`}>
              {ACTIONS.map((a) => (
                <label key={a}>
                  <input
                    type="checkbox"
                    checked={r.actions.includes(a)}
                    onChange={(e) =>
                      update(i, {
                        actions: e.target.checked ? [...r.actions, a] : r.actions.filter((x) => x !== a),
                      })
                    }
                  />{' '}
                  {a}
                </label>
              ))}
            </fieldset>
            <input
              type="text"
              id={`rule-${i}-topics`}
              aria-label={`Rule ${i + 1} topics`}
              placeholder="game.*, chat.>"
              value={r.topics}
              aria-invalid={topicsError ? true : undefined}
              onChange={(e) => update(i, { topics: e.target.value })}
            />
            <button
              type="button"
              aria-label={`Remove rule ${i + 1}`}
              disabled={rules.length === 1}
              onClick={() => onChange(rules.filter((_, k) => k !== i))}
            >
              Remove
            </button>
            {(actionsError || topicsError) && (
              <span className="field-error" style={{ gridColumn: '1 / -1' }} data-testid={`error-rules-${i}`}>
                {[actionsError, topicsError].filter(Boolean).join('; ')}
              </span>
            )}
          </div>
        )
      })}
      {errors.rules && (
        <span className="field-error" data-testid="error-rules">
          {errors.rules}
        </span>
      )}
      <div>
        <button type="button" onClick={() => onChange([...rules, EMPTY_RULE])}>
          Add rule
        </button>{' '}
        <span className="muted">
          Topics: names or patterns (<span className="mono">game.*</span> one level,{' '}
          <span className="mono">chat.&gt;</span> any depth). Deny wins; what no rule allows is denied.
        </span>
      </div>
    </fieldset>
  )
}
