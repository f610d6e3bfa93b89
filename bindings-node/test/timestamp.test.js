'use strict'
// Trusted time (RFC 3161) from Node, against a real time-stamp authority: `openssl ts -reply`
// behind tests/tsa/server.py on 127.0.0.1 with the PKI of tests/tsa/make_pki.sh; the same calls
// as `trailseal timestamp` and `verify-bundle --tsa-ca` (cli/tests/timestamp.rs).
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { ts, REPO, tmpdir, ledgerPath, rejectsWith, throwsWith } = require('./helpers')

const ORIGIN = 'example.com/trailseal/node-tsa'
const have = (cmd, arg) => spawnSync(cmd, [arg], { stdio: 'ignore' }).status === 0
const available = have('openssl', 'version') && have('python3', '--version')
if (!available && process.env.TRAILSEAL_TSA_TESTS) {
  throw new Error('TRAILSEAL_TSA_TESTS is set but openssl or python3 is missing')
}

let server
let url
let pki

before(async () => {
  if (!available) return
  const dir = tmpdir()
  pki = path.join(dir, 'pki')
  const made = spawnSync('bash', [path.join(REPO, 'tests/tsa/make_pki.sh'), pki], { stdio: 'inherit' })
  assert.equal(made.status, 0, 'make_pki.sh failed')
  const portFile = path.join(dir, 'port')
  server = spawn('python3', [path.join(REPO, 'tests/tsa/server.py'), pki, portFile], { stdio: 'inherit' })
  const deadline = Date.now() + 20000
  while (!fs.existsSync(portFile)) {
    assert.equal(server.exitCode, null, 'the TSA server exited at startup')
    assert.ok(Date.now() < deadline, 'the TSA server did not start within 20 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  url = `http://127.0.0.1:${fs.readFileSync(portFile, 'utf8')}`
})

after(() => {
  if (server) server.kill()
})

const entry = (n) => ({
  actor: { id: 'alice' },
  action: 'deploy.succeeded',
  subject: { type: 'release', id: 'r1' },
  attrs: { n: String(n) },
})

for (const kind of ['ec', 'rsa']) {
  test(`timestampCheckpoint (${kind}): a token obtained, kept, checked and carried by a bundle`, { skip: !available }, async () => {
    const ca = fs.readFileSync(path.join(pki, `ca-${kind}.pem`))
    const other = fs.readFileSync(path.join(pki, 'ca-other.pem'))
    const signer = ts.Signer.generate(ORIGIN)
    const ledger = await ts.Ledger.create(ledgerPath(), { origin: ORIGIN })
    for (let n = 0; n < 3; n++) await ledger.append(entry(n))
    const note = await ledger.checkpoint(signer)
    const got = await ledger.timestampCheckpoint(`${url}/${kind}`, ca.toString('utf8'), { timeoutSeconds: 10 })
    assert.equal(got.checkpoint, 0)
    assert.equal(got.size, 3)
    assert.equal(got.requested, true)
    assert.ok(got.attested.tsa.includes(`tsa-${kind}`))
    const token = ledger.checkpointTimestamp(0)
    assert.ok(Buffer.isBuffer(token))
    assert.equal(token.toString('base64'), got.token)
    assert.equal(ledger.checkpointTimestamp(1), null)
    const again = await ledger.timestampCheckpoint(`${url}/${kind}`, ca)
    assert.equal(again.requested, false)
    const text = await ledger.bundle({ subject: 'release:r1' }, { signer })
    await ledger.close()

    assert.deepEqual(ts.verifyTimestampToken(token, note, ca), got.attested)
    throwsWith('verification_failed', () => ts.verifyTimestampToken(token, note, other))
    throwsWith('verification_failed', () => ts.verifyTimestampToken(token, note.replace('\n3\n', '\n4\n'), ca))
    const report = ts.verifyBundleWithTsa(text, signer.verifierKey, ca)
    assert.deepEqual(report.attested, got.attested)
    assert.equal(ts.verifyBundle(text, signer.verifierKey).attested, undefined)
    throwsWith('verification_failed', () => ts.verifyBundleWithTsa(text, signer.verifierKey, other))
  })
}

test('timestampCheckpoint: a failing TSA stores nothing', { skip: !available }, async () => {
  const ca = fs.readFileSync(path.join(pki, 'ca-ec.pem'))
  const signer = ts.Signer.generate(ORIGIN)
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: ORIGIN })
  await ledger.append(entry(0))
  await rejectsWith('io', () => ledger.timestampCheckpoint(`${url}/garbage`, ca, { signer }))
  await rejectsWith('io', () => ledger.timestampCheckpoint(`${url}/slow`, ca, { timeoutSeconds: 1 }))
  const other = fs.readFileSync(path.join(pki, 'ca-other.pem'))
  await rejectsWith('verification_failed', () => ledger.timestampCheckpoint(`${url}/ec`, other))
  await rejectsWith('invalid_argument', () => ledger.timestampCheckpoint(`${url}/ec`, ca, { timeoutSeconds: 0 }))
  await rejectsWith('invalid_argument', () => ledger.timestampCheckpoint(`${url}/ec`, ca, { timeout: 1 }))
  assert.equal(ledger.checkpointTimestamp(0), null)
  await ledger.close()
})
