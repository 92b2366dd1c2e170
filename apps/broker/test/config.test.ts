import { writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import os from 'node:os'
import path from 'node:path'
import { generate } from 'selfsigned'
import { describe, expect, it } from 'vitest'
import { configFromEnv } from '../src/config'
import { startBroker } from './helpers'

const tmp = (name: string) => path.join(os.tmpdir(), `questlog-config-${process.pid}-${name}`)

describe('configuration', () => {
  it('reads a YAML file, lets the environment override it, and names the field of a bad value', async () => {
    const file = tmp('ok.yaml')
    await writeFile(file, 'port: 4700\npoolSize: 8\nlogLevel: warn\n')
    const config = configFromEnv({ QUESTLOG_CONFIG: file, QUESTLOG_POOL_SIZE: '12' })
    expect(config).toMatchObject({ port: 4700, poolSize: 12, logLevel: 'warn', host: '127.0.0.1' })

    expect(() => configFromEnv({ QUESTLOG_POOL_SIZE: 'lots' })).toThrow(/poolSize \(QUESTLOG_POOL_SIZE\)/)
    expect(() => configFromEnv({ PORT: '99999' })).toThrow(/port \(PORT\)/)
    const typo = tmp('typo.yaml')
    await writeFile(typo, 'prot: 4700\n')
    expect(() => configFromEnv({ QUESTLOG_CONFIG: typo })).toThrow(/prot/)
    expect(() => configFromEnv({ QUESTLOG_CONFIG: tmp('missing.yaml') })).toThrow(
      /cannot read the configuration file/,
    )
    expect(() => configFromEnv({ QUESTLOG_TLS_CERT: '/x.pem' })).toThrow(/give both or neither/)
  })

  it('takes a PostgreSQL URL with several hosts (a primary and its standbys), and names a bad one', () => {
    const url = 'postgres://questlog@10.0.0.1:5432,10.0.0.2:5432/questlog?target_session_attrs=read-write'
    expect(configFromEnv({ DATABASE_URL: url }).databaseUrl).toBe(url)
    expect(
      configFromEnv({ DATABASE_URL: 'postgresql://u@[::1]:5432,db-b/questlog' }).databaseUrl,
    ).toBeDefined()
    expect(() => configFromEnv({ DATABASE_URL: 'postgres://u@a:5432,b:port/db' })).toThrow(
      /databaseUrl \(DATABASE_URL\): 'b:port' is not a host or host:port/,
    )
    expect(() => configFromEnv({ DATABASE_URL: 'mysql://u@a/db' })).toThrow(/starts with postgres:\/\//)
  })

  it('serves HTTPS when given a certificate and key', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    })
    const cert = tmp('cert.pem')
    const key = tmp('key.pem')
    await writeFile(cert, pems.cert)
    await writeFile(key, pems.private)
    const broker = await startBroker({ tlsCert: cert, tlsKey: key })
    try {
      expect(broker.url).toMatch(/^https:\/\//)
      const body = await new Promise<string>((resolve, reject) => {
        const req = request(`${broker.url}/health/live`, { ca: pems.cert }, (res) => {
          let text = ''
          res.on('data', (c) => {
            text += c
          })
          res.on('end', () => resolve(text))
        })
        req.on('error', reject)
        req.end()
      })
      expect(JSON.parse(body)).toEqual({ status: 'ok' })
      // plain HTTP on the same port gets no answer it can use
      const plain = await fetch(broker.url.replace('https', 'http') + '/health/live').then(
        (r) => r.status,
        () => 'refused',
      )
      expect(plain).not.toBe(200)
    } finally {
      await broker.stop()
    }
  })
})
