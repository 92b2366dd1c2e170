import type { AclRule } from '@questlog/protocol'

/** "allow publish, subscribe on game.*, chat.>" — one line per rule. */
export function RuleSummary({ rules }: { rules: AclRule[] }) {
  return (
    <ul className="rule-list">
      {rules.map((r, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a key's rules never change order
        <li key={i}>
          <span className={`badge ${r.effect === 'allow' ? 'ok' : 'down'}`}>{r.effect}</span>{' '}
          {r.actions.join(', ')} on <span className="mono">{r.topics.join(', ')}</span>
        </li>
      ))}
    </ul>
  )
}
