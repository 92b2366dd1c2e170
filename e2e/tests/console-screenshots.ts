import { copyFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page, TestInfo } from '@playwright/test'

const docs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs')

/**
 * Saves a full-page screenshot as a test artifact; with QUESTLOG_DOCS_SCREENSHOTS=1
 * it also refreshes the README's picture under docs/.
 */
export async function saveScreenshot(
  page: Page,
  info: TestInfo,
  name: string,
  docsName?: string,
): Promise<void> {
  const file = info.outputPath(`${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  await info.attach(name, { path: file, contentType: 'image/png' })
  if (docsName && process.env.QUESTLOG_DOCS_SCREENSHOTS === '1')
    await copyFile(file, path.join(docs, docsName))
}
