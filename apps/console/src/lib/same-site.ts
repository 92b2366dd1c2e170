/**
 * Whether a browser says the request comes from a page of another site: its `Origin` is not
 * this console's host. `Origin: null` (a sandboxed frame, a file: page) is no site of ours either.
 * Requests without `Origin` (same-origin GETs, scripts) are not judged here.
 */
export function fromAnotherSite(req: Request): boolean {
  const origin = req.headers.get('origin')
  if (origin === null) return false
  return !URL.canParse(origin) || new URL(origin).host !== req.headers.get('host')
}
