'use strict'
// Every error code, from the input that should cause it. Errors are `Error`s whose `code`
// is the core's code string and whose `status` is its number.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { ts, tmpdir, ledgerPath, entry, rejectsWith, throwsWith } = require('./helpers')

// README "Errors": the stable codes, in numeric order (the C status).
const CODES = [
  'invalid_entry',
  'id_conflict',
  'malformed',
  'verification_failed',
  'tampered',
  'inconsistent',
  'out_of_range',
  'invalid_argument',
  'wrong_kind',
  'already_exists',
  'not_found',
  'not_a_ledger',
  'locked',
  'storage',
  'io',
  'internal',
  'closed',
  'rule_violation',
]

test('errorCodes(): the 18 core codes, one to one, in numeric order', () => {
  assert.deepEqual(ts.errorCodes(), CODES)
})

test('invalid_entry: an entry that breaks a SPEC rule, naming the field; nothing written', async () => {
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'errors' })
  let e = await rejectsWith('invalid_entry', () => ledger.append(entry(0, { action: 'Deploy' })))
  assert.match(e.message, /action/)
  e = await rejectsWith('invalid_entry', () => ledger.append(entry(0, { colour: 'red' })))
  assert.match(e.message, /colour/)
  await rejectsWith('invalid_entry', () => ledger.append(entry(0, { authz: { decision: 'override', policy: 'p' } })))
  await rejectsWith('invalid_entry', () => ledger.append(entry(0, { links: [{ rel: 'after', index: 0 }] })))
  await rejectsWith('invalid_entry', () => ledger.append(42))
  await rejectsWith('invalid_entry', () => ledger.append(undefined))
  e = await rejectsWith('invalid_entry', () => ledger.appendBatch([entry(0), entry(1, { actor: {} })]))
  assert.match(e.message, /\[1\]\.actor/)
  assert.equal(ledger.size, 0, 'nothing of a refused batch is written')
  await ledger.close()
})

test('id_conflict: an id already recorded with other content', async () => {
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'errors' })
  const first = await ledger.append(entry(0, { id: 'evt-1' }))
  // The same event again is not written twice: the stored receipt comes back.
  assert.deepEqual(await ledger.append(entry(0, { id: 'evt-1' })), first)
  assert.equal(ledger.size, 1)
  await rejectsWith('id_conflict', () => ledger.append(entry(1, { id: 'evt-1' })))
  await rejectsWith('id_conflict', () => ledger.appendBatch([entry(2, { id: 'x' }), entry(3, { id: 'x' })]))
  assert.equal(ledger.size, 1)
  await ledger.close()
})

test('malformed: JSON, proofs, keys, notes and hash names that do not parse', async () => {
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'errors' })
  await rejectsWith('malformed', () => ledger.append('{"actor": '))
  await rejectsWith('malformed', () => ledger.append('{"action": "a", "action": "b"}')) // repeated key
  const cyclic = entry(0)
  cyclic.payload = cyclic
  await rejectsWith('malformed', () => ledger.append(cyclic))
  await rejectsWith('malformed', () => ledger.append(entry(0, { payload: 1n })))
  await rejectsWith('malformed', () => ledger.appendBatch([entry(0), '{nope']))
  await ledger.close()
  throwsWith('malformed', () => ts.verifyInclusion({ hash: 'sha256', index: 0, tree_size: 1 }))
  throwsWith('malformed', () =>
    ts.verifyInclusion({ hash: 'md5', index: 0, tree_size: 1, leaf_hash: '00'.repeat(32), root: '00'.repeat(32), path: [] }),
  )
  throwsWith('malformed', () =>
    ts.verifyConsistency({ hash: 'sha256', old_size: 1, new_size: 2, old_root: 'zz', new_root: '00'.repeat(32), path: [] }),
  )
  throwsWith('malformed', () => ts.verifyConsistency('not json'))
  throwsWith('malformed', () => ts.Signer.fromString('PRIVATE+KEY+nonsense'))
  throwsWith('malformed', () => ts.Signer.generate('has space'))
  throwsWith('malformed', () => ts.verifyCheckpoint('no signature\n', 'a+00000000+AQ=='))
  await rejectsWith('malformed', () => ts.Ledger.create(ledgerPath(), { origin: 'o', hash: 'md5' }))
})

test('verification_failed: well-formed proofs and signatures that do not verify', async () => {
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'errors', hash: 'sha256' })
  for (let i = 0; i < 5; i++) await ledger.append(entry(i))
  const p = ledger.proveInclusion(2)
  throwsWith('verification_failed', () => ts.verifyInclusion({ ...p, root: 'ab'.repeat(32) }))
  throwsWith('verification_failed', () => ts.verifyInclusion(p, ledger.get(3)))
  const c = ledger.proveConsistency(3)
  throwsWith('verification_failed', () => ts.verifyConsistency({ ...c, old_root: p.root }))
  const signer = ts.Signer.generate('errors')
  const note = await ledger.checkpoint(signer)
  throwsWith('verification_failed', () => ts.verifyCheckpoint(note, ts.Signer.generate('errors').verifierKey))
  await rejectsWith('verification_failed', () =>
    ledger.verify({ checkpoint: note, verifierKey: ts.Signer.generate('errors').verifierKey }),
  )
  await ledger.close()
})

test('tampered: verify() finds a leaf edited behind the library, and names it', async () => {
  const file = ledgerPath()
  const ledger = await ts.Ledger.create(file, { origin: 'errors', raw: true })
  // 70 leaves: leaf 3 lies under the first complete tile of 64, whose hashes are stored. Its
  // bundle is closed, so stored compressed: a token unlike any other leaf's stays literal.
  const token = (i) => crypto.createHash('sha256').update(`leaf ${i}`).digest('base64url').slice(0, 24)
  for (let i = 0; i < 70; i++) await ledger.appendRaw(`leaf ${i} ${token(i)}`)
  await ledger.close()
  const bytes = fs.readFileSync(file)
  // Every copy: earlier versions of the bundle may linger in pages redb has freed.
  const needle = Buffer.from(token(3))
  let copies = 0
  for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1), copies++) {
    bytes[at + 10] = bytes[at + 10] === 65 ? 66 : 65
  }
  assert.ok(copies > 0)
  fs.writeFileSync(file, bytes)
  const reopened = await ts.Ledger.open(file)
  const e = await rejectsWith('tampered', () => reopened.verify())
  assert.match(e.message, /leaf 3/)
  await reopened.close()
})

test('inconsistent: a ledger rolled back or forked from an outside checkpoint', async () => {
  const signer = ts.Signer.generate('errors')
  const a = await ts.Ledger.create(ledgerPath('a'), { origin: 'errors' })
  const b = await ts.Ledger.create(ledgerPath('b'), { origin: 'errors' })
  await a.append(entry(1))
  await b.append(entry(2))
  const forked = await b.checkpoint(signer)
  await rejectsWith('inconsistent', () => a.verify({ checkpoint: forked, verifierKey: signer.verifierKey }))
  await b.append(entry(3))
  const ahead = await b.checkpoint(signer)
  await rejectsWith('inconsistent', () => a.verify({ checkpoint: ahead, verifierKey: signer.verifierKey }))
  await a.close()
  await b.close()
})

test('out_of_range: an index or size beyond the tree', async () => {
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'errors' })
  await ledger.append(entry(0))
  throwsWith('out_of_range', () => ledger.get(1))
  throwsWith('out_of_range', () => ledger.getRaw(5n))
  throwsWith('out_of_range', () => ledger.leafHash(1))
  throwsWith('out_of_range', () => ledger.root(2))
  throwsWith('out_of_range', () => ledger.proveInclusion(0, 2))
  throwsWith('out_of_range', () => ledger.proveConsistency(2))
  await rejectsWith('out_of_range', () => ledger.checkpoint(ts.Signer.generate('e'), 9))
  throwsWith('out_of_range', () =>
    ts.verifyInclusion({ hash: 'sha256', index: 3, tree_size: 2, leaf_hash: '00'.repeat(32), root: '00'.repeat(32), path: [] }),
  )
  await ledger.close()
})

test('invalid_argument: impossible arguments, wrong JS types', async () => {
  await rejectsWith('invalid_argument', () => ts.Ledger.create(ledgerPath(), { origin: '' }))
  await rejectsWith('invalid_argument', () => ts.Ledger.create(ledgerPath(), { origin: 'a\nb' }))
  await rejectsWith('invalid_argument', () => ts.Ledger.create(ledgerPath(), {}))
  await rejectsWith('invalid_argument', () => ts.Ledger.create(ledgerPath()))
  await rejectsWith('invalid_argument', () => ts.Ledger.create(42, { origin: 'o' }))
  await rejectsWith('invalid_argument', () => ts.Ledger.create(ledgerPath(), { origin: 'o', hsah: 'sha256' }))
  await rejectsWith('invalid_argument', () => ts.Ledger.create(ledgerPath(), { origin: 'o', raw: 'yes' }))
  await rejectsWith('invalid_argument', () => ts.Ledger.open(ledgerPath(), { wait: -1 }))
  const raw = await ts.Ledger.create(ledgerPath(), { origin: 'o', raw: true, maxEntryBytes: 8 })
  await rejectsWith('invalid_argument', () => raw.appendRaw(Buffer.alloc(9)))
  await rejectsWith('invalid_argument', () => raw.appendRaw(42))
  await rejectsWith('invalid_argument', () => raw.appendRawBatch('not an array'))
  await raw.appendRaw(new Uint8Array([1, 2, 3]))
  throwsWith('invalid_argument', () => raw.getRaw(-1))
  throwsWith('invalid_argument', () => raw.getRaw(0.5))
  throwsWith('invalid_argument', () => raw.getRaw('0'))
  throwsWith('invalid_argument', () => raw.getRaw(2 ** 64))
  throwsWith('invalid_argument', () => raw.getRaw(-1n))
  await rejectsWith('invalid_argument', () => raw.checkpoint({ secretKey: () => 'x' }))
  await rejectsWith('invalid_argument', () => raw.checkpoint(raw))
  await rejectsWith('invalid_argument', () => raw.verify({ checkpoint: 'x' }))
  // A raw ledger has no query indexes: indexes: true has nothing to check.
  const report = await raw.verify({ indexes: true })
  assert.deepEqual([report.size, report.postings_checked, report.indexes_checked], [1, 0, false])
  await raw.close()
})

test('closed: every call on a closed ledger, sync or async', async () => {
  const raw = await ts.Ledger.create(ledgerPath(), { origin: 'o', raw: true })
  await raw.appendRaw('x')
  await raw.close()
  let e = throwsWith('closed', () => raw.size)
  assert.equal(e.status, 17)
  assert.equal(e.message, 'the ledger is closed')
  throwsWith('closed', () => raw.getRaw(0))
  e = await rejectsWith('closed', () => raw.appendRaw('late'))
  assert.equal(e.status, 17)
  await rejectsWith('closed', () => raw.verify())
  await raw.close() // closing twice is harmless
})

test('wrong_kind: an entry call on a raw ledger, and the reverse', async () => {
  const raw = await ts.Ledger.create(ledgerPath(), { origin: 'o', raw: true })
  await raw.appendRaw('x')
  await rejectsWith('wrong_kind', () => raw.append(entry(0)))
  throwsWith('wrong_kind', () => raw.get(0))
  const entries = await ts.Ledger.create(ledgerPath(), { origin: 'o' })
  await rejectsWith('wrong_kind', () => entries.appendRaw('x'))
  await rejectsWith('wrong_kind', () => entries.appendRawBatch(['x']))
  await raw.close()
  await entries.close()
})

test('already_exists: create over an existing file', async () => {
  const file = ledgerPath()
  await (await ts.Ledger.create(file, { origin: 'o' })).close()
  await rejectsWith('already_exists', () => ts.Ledger.create(file, { origin: 'o' }))
  const other = path.join(tmpdir(), 'notes.txt')
  fs.writeFileSync(other, 'keep me')
  await rejectsWith('already_exists', () => ts.Ledger.create(other, { origin: 'o' }))
  assert.equal(fs.readFileSync(other, 'utf8'), 'keep me')
})

test('not_found: open a file that does not exist', async () => {
  await rejectsWith('not_found', () => ts.Ledger.open(path.join(tmpdir(), 'missing.redb')))
})

test('not_a_ledger: open another program\'s file, random bytes, an empty file', async () => {
  const dir = tmpdir()
  for (const [name, bytes] of [
    ['text.redb', Buffer.from('hello, world\n'.repeat(400))],
    ['random.redb', crypto.randomBytes(16384)],
    ['empty.redb', Buffer.alloc(0)],
  ]) {
    fs.writeFileSync(path.join(dir, name), bytes)
    await rejectsWith('not_a_ledger', () => ts.Ledger.open(path.join(dir, name)))
  }
})

test('locked: a second exclusive open of a held ledger, at once or after `wait` ms', async () => {
  const file = ledgerPath()
  const first = await ts.Ledger.create(file, { origin: 'o', share: 'exclusive' })
  await rejectsWith('locked', () => ts.Ledger.open(file, { share: 'exclusive' }))
  const t0 = Date.now()
  await rejectsWith('locked', () => ts.Ledger.open(file, { wait: 200, share: 'exclusive' }))
  assert.ok(Date.now() - t0 >= 190, 'waited')
  // Released by close(): a waiting open gets it.
  const waiting = ts.Ledger.open(file, { wait: 10_000, share: 'exclusive' })
  setTimeout(() => first.close(), 100)
  const second = await waiting
  assert.equal(second.origin, 'o')
  await second.close()
})

test('storage: the storage engine fails a commit (a full disk, simulated by a file size limit)', {
  skip: process.platform === 'win32' ? 'needs ulimit' : false,
}, async () => {
  const file = ledgerPath()
  await (await ts.Ledger.create(file, { origin: 'o', raw: true })).close()
  const child = `
    process.on('SIGXFSZ', () => {}) // the write fails with EFBIG instead of killing us
    const ts = require(${JSON.stringify(path.resolve(__dirname, '..'))})
    ;(async () => {
      const ledger = await ts.Ledger.open(${JSON.stringify(file)})
      try {
        // Random bytes: closed bundles are stored compressed, and these must fill the disk.
        for (let i = 0; i < 100; i++) await ledger.appendRaw(require("node:crypto").randomBytes(100000))
        console.log('no error')
      } catch (e) {
        console.log(JSON.stringify({ code: e.code, status: e.status, message: e.message }))
      }
    })()`
  const r = spawnSync('bash', ['-c', 'ulimit -f 2048 && exec "$0" -e "$1"', process.execPath, child], {
    encoding: 'utf8',
  })
  assert.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim())
  assert.equal(out.code, 'storage', out.message)
  assert.equal(out.status, 14)
})

test('io: an operating-system I/O error', async () => {
  const dir = tmpdir()
  await rejectsWith('io', () => ts.Ledger.create(path.join(dir, 'no', 'such', 'dir.redb'), { origin: 'o' }))
  await rejectsWith('io', () => ts.Ledger.open(dir)) // a directory
})

test('corrupt files: storage-engine panics come back as tampered, never internal or a crash', (t) => {
  // A ledger file whose storage pages are overwritten: the storage engine (redb) panics on
  // some of them. The core contains those panics itself (`tampered`, location "file"); the
  // binding's own guard turns any other panic into `internal`, which therefore must not show
  // here. Run in a child process so any panic message stays out of this output. (`internal`
  // means a bug: no input is known to cause it.)
  const file = ledgerPath()
  const child = `
    const fs = require('node:fs')
    const ts = require(${JSON.stringify(path.resolve(__dirname, '..'))})
    const file = ${JSON.stringify(file)}
    ;(async () => {
      const ledger = await ts.Ledger.create(file, { origin: 'o', raw: true })
      for (let i = 0; i < 20; i++) await ledger.appendRaw(Buffer.alloc(1000, i))
      await ledger.close()
      const good = fs.readFileSync(file)
      const seen = {}
      const messages = []
      for (let off = 4096; off < good.length; off += 4096) {
        const bad = Buffer.from(good)
        bad.fill(0xff, off, off + 4096)
        fs.writeFileSync(file, bad)
        let code = 'ok'
        try {
          const l = await ts.Ledger.open(file)
          try {
            await l.verify()
            for (let i = 0; i < l.size; i++) l.getRaw(i)
          } finally {
            await l.close()
          }
        } catch (e) {
          code = e.code
          if (code === 'tampered') messages.push(e.message)
        }
        seen[code] = (seen[code] || 0) + 1
      }
      console.log(JSON.stringify({ seen, messages }))
    })()`
  const r = spawnSync(process.execPath, ['-e', child], {
    encoding: 'utf8',
    env: { ...process.env, RUST_BACKTRACE: '0' },
  })
  assert.equal(r.status, 0, r.stderr)
  const { seen, messages } = JSON.parse(r.stdout.trim())
  for (const code of Object.keys(seen)) {
    assert.ok(code === 'ok' || CODES.includes(code), `uncoded error: ${code}`)
  }
  assert.equal(seen.internal, undefined, 'a corrupt file is not a bug in trailseal')
  assert.ok(seen.tampered > 0, `no overwritten page was caught: ${JSON.stringify(seen)}`)
  for (const m of messages) assert.match(m, /tamper/i)
  t.diagnostic(`outcomes of overwritten pages: ${JSON.stringify(seen)}`)
})

test('rule_violation: an entry the rules in force refuse, naming class, requirement and version', async () => {
  // Keys in RFC 8785 order and strings only, so JSON.stringify is the canonical form.
  const doc = { classes: [], default: 'refuse', version: 'strict-1' }
  const digest = 'sha256:' + crypto.createHash('sha256').update(JSON.stringify(doc)).digest('hex')
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'errors' })
  await ledger.append({
    actor: { id: 'ciso' },
    action: 'rules.published',
    subject: { type: 'rules', id: 'strict-1' },
    attrs: { digest, version: 'strict-1' },
    payload: doc,
  })
  const e = await rejectsWith('rule_violation', () => ledger.append(entry(0)))
  assert.equal(e.status, 18)
  assert.match(e.message, /\(no class\)/)
  assert.match(e.message, /strict-1 \(leaf 0\)/)
  assert.equal(ledger.size, 1)
})
