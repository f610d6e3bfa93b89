'use strict'
// Interop with the `trailseal` command: a ledger written from Node is read and verified by
// the command, and the other way round, with the same roots, proofs and keys.
const { test, before } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')
const { ts, REPO, tmpdir, entry, cliPath, throwsWith } = require('./helpers')

const CLI = cliPath()

before(() => {
  // Build the command unless one was named (cheap when it is up to date).
  if (!process.env.TRAILSEAL_CLI) {
    execFileSync('cargo', ['build', '--quiet', '-p', 'trailseal-cli'], { cwd: REPO, stdio: 'inherit' })
  }
  assert.ok(fs.existsSync(CLI), `no trailseal command at ${CLI}`)
})

/** Run the command; its stdout (it must exit 0). */
function cli(args, input) {
  return execFileSync(CLI, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] })
}
const cliJson = (args, input) => JSON.parse(cli(args, input))
/** Run the command; its exit status and output. */
function cliStatus(args) {
  const r = spawnSync(CLI, args, { encoding: 'utf8' })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

test('a ledger written from Node is read and verified by the trailseal command', async () => {
  const dir = tmpdir()
  const file = path.join(dir, 'node.redb')
  const keyFile = path.join(dir, 'node.key')
  const signer = ts.Signer.generate('example.com/node')
  fs.writeFileSync(keyFile, `${signer.secretKey()}\n`, { mode: 0o600 })

  const ledger = await ts.Ledger.create(file, { origin: 'example.com/node', hash: 'sha256' })
  await ledger.appendBatch([
    entry(0, { id: 'build-1', payload: { sha: 'abc', list: [1, 2.5, 'x'] } }),
    entry(1, { links: [{ rel: 'built_from', index: 0 }, { rel: 'ref', ref: 'git:4f2a9c1' }] }),
  ])
  for (let i = 2; i < 11; i++) await ledger.append(entry(i, { attrs: { n: String(i) } }))
  const note = await ledger.checkpoint(signer)
  const entries = Array.from({ length: 11 }, (_, i) => ledger.get(i))
  const proof = ledger.proveInclusion(6)
  const consistency = ledger.proveConsistency(4)
  const root = ledger.root()
  await ledger.close()

  for (let i = 0; i < 11; i++) assert.deepEqual(cliJson(['show', file, String(i)]), entries[i])
  assert.deepEqual(cliJson(['prove', 'inclusion', file, '6']), proof)
  assert.deepEqual(cliJson(['prove', 'consistency', file, '4']), consistency)
  assert.equal(cli(['vkey', '--key', keyFile]).trim(), signer.verifierKey)

  const noteFile = path.join(dir, 'checkpoint.note')
  fs.writeFileSync(noteFile, note)
  cli(['verify', file, '--checkpoint', noteFile, '--vkey', signer.verifierKey])
  const proofFile = path.join(dir, 'proof.json')
  const leafFile = path.join(dir, 'leaf.json')
  fs.writeFileSync(proofFile, JSON.stringify(proof))
  fs.writeFileSync(leafFile, JSON.stringify(entries[6]))
  cli(['verify-proof', '--inclusion', proofFile, '--leaf', leafFile, '--checkpoint', noteFile, '--vkey', signer.verifierKey])
  fs.writeFileSync(leafFile, JSON.stringify(entries[5]))
  assert.equal(cliStatus(['verify-proof', '--inclusion', proofFile, '--leaf', leafFile]).status, 1)

  // The command signs with the Node key, and appends; Node reads both back.
  const cliNote = cli(['checkpoint', file, '--key', keyFile])
  assert.deepEqual(ts.verifyCheckpoint(cliNote, signer.verifierKey), {
    origin: 'example.com/node',
    size: 11,
    root,
    extensions: [],
  })
  const jsonl = [entry(20), entry(0, { id: 'build-1', payload: { sha: 'abc', list: [1, 2.5, 'x'] } })]
    .map((e) => JSON.stringify(e))
    .join('\n')
  const lines = cli(['append', file], `${jsonl}\n`).trim().split('\n').map((l) => JSON.parse(l))
  assert.deepEqual(
    lines.map((r) => r.index),
    [11, 0],
    'the id already recorded from Node is not written again',
  )
  const again = await ts.Ledger.open(file)
  assert.equal(again.size, 12)
  assert.equal(again.root(11), root)
  assert.equal(again.root(), lines[0].root)
  assert.equal(again.checkpoints().length, 2)
  const report = await again.verify({ checkpoint: note, verifierKey: signer.verifierKey })
  assert.equal(report.consistent_with_checkpoint, 11)
  assert.equal(report.checkpoints_checked, 2)
  const deep = await again.verify({ indexes: true })
  assert.equal(deep.indexes_checked, true)
  await again.close()
  // The same reports, field for field, as the command's.
  assert.deepEqual(cliJson(['verify', file, '--checkpoint', noteFile, '--vkey', signer.verifierKey]), report)
  assert.deepEqual(cliJson(['verify', file, '--indexes']), deep)
})

test('a ledger written by the trailseal command is read, verified and extended from Node', async () => {
  const dir = tmpdir()
  const file = path.join(dir, 'cli.redb')
  const init = cliJson(['init', file, '--origin', 'example.com/cli'])
  assert.equal(init.hash, 'sha256')
  const keyFile = `${file}.key`
  const jsonl = Array.from({ length: 6 }, (_, i) => JSON.stringify(entry(i))).join('\n')
  const receipts = cli(['append', file], `${jsonl}\n`).trim().split('\n').map((l) => JSON.parse(l))
  const flag = cliJson(['append', file, '--actor', 'alice', '--action', 'deploy.succeeded', '--subject', 'service:api',
    '--decision', 'allow', '--policy', 'two-person', '--link', 'approved_by=3', '--ref', 'built_from=git:4f2a9c1'])
  const cliNote = cli(['checkpoint', file])
  const cliProof = cliJson(['prove', 'inclusion', file, '2'])
  const cliShown = Array.from({ length: 7 }, (_, i) => cliJson(['show', file, String(i)]))
  const vkey = cli(['vkey', file]).trim()
  assert.equal(vkey, init.verifier_key)

  const ledger = await ts.Ledger.open(file)
  assert.equal(ledger.origin, 'example.com/cli')
  assert.equal(ledger.hash, 'sha256')
  assert.equal(ledger.size, 7)
  assert.equal(ledger.root(), flag.root)
  receipts.forEach((r) => assert.equal(ledger.root(r.tree_size), r.root))
  for (let i = 0; i < 7; i++) assert.deepEqual(ledger.get(i), cliShown[i])
  assert.deepEqual(ledger.proveInclusion(2), cliProof)
  ts.verifyInclusion(cliProof, cliShown[2])
  assert.equal(ts.verifyCheckpoint(cliNote, vkey).root, ledger.root())
  await ledger.verify({ checkpoint: cliNote, verifierKey: vkey })

  // The command's key file is a Node Signer.
  const signer = ts.Signer.fromString(fs.readFileSync(keyFile, 'utf8'))
  assert.equal(signer.verifierKey, vkey)
  await ledger.append(entry(7, { links: [{ rel: 'after', index: 6 }] }))
  const nodeNote = await ledger.checkpoint(signer)
  const root = ledger.root()
  await ledger.close()

  const noteFile = path.join(dir, 'node.note')
  fs.writeFileSync(noteFile, nodeNote)
  cli(['verify', file, '--checkpoint', noteFile, '--vkey', vkey])
  assert.equal(cliJson(['prove', 'inclusion', file, '7']).root, root)
  // A checkpoint Node signed for a longer tree: the command sees the rollback.
  const other = await ts.Ledger.create(path.join(dir, 'fork.redb'), { origin: 'example.com/cli' })
  await other.appendBatch(Array.from({ length: 9 }, (_, i) => entry(100 + i)))
  fs.writeFileSync(noteFile, await other.checkpoint(signer))
  await other.close()
  assert.equal(cliStatus(['verify', file, '--checkpoint', noteFile, '--vkey', vkey]).status, 1)
})

test('raw ledgers: same bytes and roots both ways', async () => {
  const dir = tmpdir()
  const file = path.join(dir, 'raw.redb')
  cli(['init', file, '--origin', 'example.com/raw', '--hash', 'sha256', '--raw'])
  const leaves = [Buffer.from([0, 1, 2, 3, 255]), Buffer.from('second leaf\n'), Buffer.alloc(0)]
  const files = leaves.map((b, i) => {
    const f = path.join(dir, `leaf${i}.bin`)
    fs.writeFileSync(f, b)
    return f
  })
  cli(['append', file, '--raw', ...files])
  const ledger = await ts.Ledger.open(file)
  assert.equal(ledger.kind, 'raw')
  leaves.forEach((b, i) => assert.deepEqual(ledger.getRaw(i), b))
  await ledger.appendRaw(Buffer.from('from node'))
  const proof = ledger.proveInclusion(3)
  await ledger.close()
  assert.equal(execFileSync(CLI, ['show', file, '3', '--raw']).toString(), 'from node')
  assert.deepEqual(execFileSync(CLI, ['show', file, '0', '--raw']), leaves[0])
  assert.deepEqual(cliJson(['prove', 'inclusion', file, '3']), proof)
  cli(['verify', file])
})

test("the auditor's answers are the command's --json, field for field, and bundles cross both ways", async () => {
  // The example history, recorded by the command through examples/history.sh.
  const dir = tmpdir()
  const file = path.join(dir, 'history.redb')
  const vkey = cliJson(['init', file, '--origin', 'example.com/payments/audit', '--hash', 'sha256']).verifier_key
  execFileSync('bash', [path.join(REPO, 'examples', 'history.sh'), CLI, file], { stdio: 'pipe' })
  const policyFile = path.join(REPO, 'examples', 'release-gate.json')
  const policy = JSON.parse(fs.readFileSync(policyFile, 'utf8'))
  const lines = (text) => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
  const gateJson = (subject) => JSON.parse(cliStatus(['gate', file, '--subject', subject, '--policy', policyFile, '--json']).stdout)
  const want = {
    alice: lines(cli(['query', file, '--actor', 'alice', '--json'])),
    prod: lines(cli(['query', file, '--action', 'deploy.succeeded', '--attr', 'env=prod', '--oldest', '--json'])),
    trace: cliJson(['trace', file, '18', '--json']),
    forward: cliJson(['trace', file, '10', '--forward', '--json']),
    why: cliJson(['why', file, '18', '--json']),
    passed: gateJson('release:2026.11.3'),
    failed: gateJson('release:2026.11.4'),
    report: cliJson(['report', file, '--json']),
    since: cliJson(['report', file, '--since', '2026-11-10T00:00:00Z', '--change-action', 'deploy.rolled_back', '--json']),
  }
  const cliBundle = path.join(dir, 'cli-bundle.json')
  cli(['bundle', file, '--subject', 'release:2026.11.3', '-o', cliBundle])

  const ledger = await ts.Ledger.open(file)
  assert.equal(ledger.size, 27)
  assert.deepEqual((await ledger.query({ actor: 'alice' })).entries, want.alice)
  assert.deepEqual((await ledger.query({ action: 'deploy.succeeded', attrs: { env: 'prod' }, order: 'oldest' })).entries, want.prod)
  assert.deepEqual(await ledger.trace(18), want.trace)
  assert.deepEqual(await ledger.trace(10, { forward: true }), want.forward)
  assert.deepEqual(await ledger.why(18), want.why)
  assert.deepEqual(await ledger.gate('release:2026.11.3', policy), want.passed)
  assert.deepEqual(await ledger.gate('release:2026.11.4', policy), want.failed)
  assert.deepEqual(await ledger.report(), want.report)
  assert.deepEqual(await ledger.report({ since: '2026-11-10T00:00:00Z', changeActions: ['deploy.rolled_back'] }), want.since)
  // A bundle from Node, signed with the command's key file.
  const signer = ts.Signer.fromString(fs.readFileSync(`${file}.key`, 'utf8'))
  const nodeBundle = path.join(dir, 'node-bundle.json')
  fs.writeFileSync(nodeBundle, await ledger.bundle({ index: 18 }, { signer }))
  await ledger.close()

  // Each side verifies the other's bundle, with the same report.
  const fromCli = ts.verifyBundle(fs.readFileSync(cliBundle), vkey)
  assert.deepEqual(fromCli.entries.map((f) => f.index), [12, 13, 14, 15, 16, 17])
  assert.deepEqual(cliJson(['verify-bundle', cliBundle, '--vkey', vkey, '--json']), fromCli)
  const fromNode = cliJson(['verify-bundle', nodeBundle, '--vkey', vkey, '--json'])
  assert.deepEqual(fromNode, ts.verifyBundle(fs.readFileSync(nodeBundle, 'utf8'), vkey))
  assert.deepEqual(fromNode.entries.map((f) => f.index), [0, 10, 11, 14, 16, 17, 18])
  // One changed character: the command refuses Node's bundle too.
  const text = fs.readFileSync(nodeBundle, 'utf8')
  const edited = text.replace('"rel":"release"', '"rel":"relea5e"')
  assert.notEqual(edited, text)
  fs.writeFileSync(nodeBundle, edited)
  assert.equal(cliStatus(['verify-bundle', nodeBundle, '--vkey', vkey]).status, 1)
  throwsWith('verification_failed', () => ts.verifyBundle(fs.readFileSync(nodeBundle), vkey))
})
