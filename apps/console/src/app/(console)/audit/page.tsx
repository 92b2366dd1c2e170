import { AuditLog } from '@/components/audit/audit-log'

export default function Page() {
  return <AuditLog />
}
