/** Saves `rows` as a JSON lines file (one JSON value a line) through the browser's download. */
export function downloadJsonLines(rows: unknown[], fileName: string): void {
  const blob = new Blob([`${rows.map((r) => JSON.stringify(r)).join('\n')}\n`], {
    type: 'application/x-ndjson',
  })
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = fileName
  a.click()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}
