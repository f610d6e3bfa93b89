'use strict'
// Checkpoint keys held outside the process, from Node: a key in a real ssh-agent (OpenSSH,
// started here) signs through `Signer.open`; tests/keys/check.sh runs the same against
// SoftHSM2 from the command line.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { ts, ledgerPath, entry, tmpdir, rejectsWith, throwsWith } = require('./helpers')

const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const available = have('ssh-agent') && have('ssh-keygen')
if (!available && process.env.TRAILSEAL_KEY_TESTS) {
  throw new Error('TRAILSEAL_KEY_TESTS is set but OpenSSH is missing')
}

async function withAgent(body) {
  const dir = tmpdir()
  const key = path.join(dir, 'id')
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'node-ci', '-f', key], { stdio: 'ignore' })
  const sock = path.join(dir, 'agent.sock')
  const agent = spawn('ssh-agent', ['-a', sock, '-D'], { stdio: 'ignore' })
  const old = process.env.SSH_AUTH_SOCK
  try {
    for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50))
    assert.ok(fs.existsSync(sock), 'ssh-agent did not start within 10 s')
    process.env.SSH_AUTH_SOCK = sock
    assert.equal(spawnSync('ssh-add', ['-q', key], { stdio: 'ignore', env: process.env }).status, 0)
    await body(key)
  } finally {
    agent.kill()
    if (old === undefined) delete process.env.SSH_AUTH_SOCK
    else process.env.SSH_AUTH_SOCK = old
  }
}

test('an ssh-agent key signs checkpoints; refusals', { skip: !available }, async () => {
  await withAgent(async () => {
    const signer = ts.Signer.open('ssh-agent:node-ci', 'example.com/node-agent')
    const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'example.com/node-agent' })
    await ledger.append(entry(0))
    const note = await ledger.checkpoint(signer)
    assert.equal(ts.verifyCheckpoint(note, signer.verifierKey).size, 1)
    assert.equal((await ledger.verify()).checkpoints_checked, 1)
    await ledger.close()
    throwsWith('invalid_argument', () => signer.secretKey())
    throwsWith('invalid_argument', () => ts.Signer.open('ssh-agent:nobody', 'example.com/node-agent'))
    throwsWith('invalid_argument', () => ts.Signer.open('file:/etc/key', 'example.com/node-agent'))
    throwsWith('malformed', () => ts.Signer.open('pkcs11:objekt=k', 'example.com/node-agent'))
  })
})

test('a ledger rotated twice verifies from its first key', async () => {
  const origin = 'example.com/node-rotate'
  const keys = [0, 1, 2].map(() => ts.Signer.generate(origin))
  const ledger = await ts.Ledger.create(ledgerPath(), { origin })
  await ledger.append(entry(0))
  await ledger.checkpoint(keys[0])
  const r = await ledger.rotateKey(keys[0], keys[1], { actor: 'alice' })
  assert.deepEqual([r.index, r.old_key, r.new_key], [1, keys[0].verifierKey, keys[1].verifierKey])
  for (const k of keys.slice(0, 2)) assert.equal(ts.verifyCheckpoint(r.note, k.verifierKey).size, 2)
  await rejectsWith('invalid_argument', () => ledger.checkpoint(keys[0]))
  await ledger.rotateKey(keys[1], keys[2])
  await ledger.checkpoint(keys[2])
  assert.equal(ledger.verifierKeyInForce(), keys[2].verifierKey)
  assert.equal((await ledger.verify()).checkpoints_checked, 4)
  await rejectsWith('invalid_argument', () => ledger.rotateKey(keys[2], keys[2]))
  await rejectsWith('invalid_argument', () => ledger.rotateKey(keys[2], keys[0], { actr: 'x' }))
  await ledger.close()
})
