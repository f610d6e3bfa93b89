'use strict'
// Every shared conformance vector in tests/vectors (see its README), through the Node API.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { ts, VECTORS, ledgerPath, readVector, b64hex, rejectsWith, throwsWith } = require('./helpers')

for (const alg of ['sha256', 'blake3']) {
  const v = readVector(`merkle-${alg}.json`)
  const leaves = v.leaves_hex.map((h) => Buffer.from(h, 'hex'))

  test(`merkle-${alg}: every inclusion proof verifies, with and without its leaf`, () => {
    assert.equal(v.inclusion.length, 210)
    for (const p of v.inclusion) {
      ts.verifyInclusion(p)
      ts.verifyInclusion(p, leaves[p.index])
      ts.verifyInclusion(JSON.stringify(p), leaves[p.index])
      throwsWith('verification_failed', () => ts.verifyInclusion(p, Buffer.from('not the leaf')))
    }
  })

  test(`merkle-${alg}: every consistency proof verifies`, () => {
    assert.equal(v.consistency.length, 210)
    for (const p of v.consistency) {
      ts.verifyConsistency(p)
      ts.verifyConsistency(JSON.stringify(p))
    }
  })

  test(`merkle-${alg}: a raw ledger of leaves_hex has every root, and the vectors' proofs`, async () => {
    const ledger = await ts.Ledger.create(ledgerPath(alg), { origin: 'vectors', hash: alg, raw: true })
    assert.equal(ledger.root(), v.empty_root)
    assert.equal(ledger.root(0), v.empty_root)
    for (let i = 0; i < leaves.length; i++) {
      const r = await ledger.appendRaw(leaves[i])
      assert.deepEqual(
        { index: r.index, tree_size: r.tree_size, root: r.root, time: r.time },
        { index: i, tree_size: i + 1, root: v.roots[i], time: undefined },
      )
    }
    assert.equal(ledger.size, leaves.length)
    for (let n = 1; n <= leaves.length; n++) {
      assert.equal(ledger.root(n), v.roots[n - 1], `root of size ${n}`)
      assert.equal(ledger.root(BigInt(n)), v.roots[n - 1])
    }
    for (const p of v.inclusion) {
      assert.deepEqual(ledger.proveInclusion(p.index, p.tree_size), p)
    }
    for (const p of v.consistency) {
      assert.deepEqual(ledger.proveConsistency(p.old_size, p.new_size), p)
    }
    for (let i = 0; i < leaves.length; i++) {
      assert.deepEqual(ledger.getRaw(i), leaves[i])
    }
    await ledger.close()
  })
}

test('rfc6962-classic: roots of every prefix, from a sha256 raw ledger', async () => {
  const v = readVector('rfc6962-classic.json')
  const ledger = await ts.Ledger.create(ledgerPath('rfc6962'), { origin: 'rfc6962', hash: 'sha256', raw: true })
  await ledger.appendRawBatch(v.leaves_hex.map((h) => Buffer.from(h, 'hex')))
  const sizes = Object.keys(v.roots_by_size)
  assert.equal(sizes.length, v.leaves_hex.length + 1)
  for (const n of sizes) {
    assert.equal(ledger.root(Number(n)), v.roots_by_size[n], `size ${n}`)
  }
  await ledger.close()
})

// transparency-dev/merkle cases: hashes in base64, `proof` may be null, and one leafIdx is
// 2^64 - 1, which a JS number cannot hold: integers past 2^53 are read as bigints.
function readTransparencyDev(file) {
  const text = fs.readFileSync(file, 'utf8')
  const marked = text.replace(/("(?:leafIdx|treeSize|size1|size2)"\s*:\s*)(\d{16,})/g, '$1"#big:$2"')
  return {
    exactText: text,
    v: JSON.parse(marked, (k, x) => (typeof x === 'string' && x.startsWith('#big:') ? BigInt(x.slice(5)) : x)),
  }
}

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name)
    return d.isDirectory() ? walk(p) : d.name.endsWith('.json') ? [p] : []
  })
}

// tests/vectors/README.md, deviation 1: the one case whose outcome trailseal changes.
const TD_MALFORMED_DEVIATION = 'consistency/additional/sizes-are-equal-one-and-proof-is-empty.json'

test('transparency-dev/merkle: every case accepted or rejected as expected', () => {
  const root = path.join(VECTORS, 'transparency-dev-merkle')
  const files = walk(root).sort()
  assert.ok(files.length >= 190, `only ${files.length} cases`)
  let accepted = 0
  let rejected = 0
  let deviationSeen = false
  for (const file of files) {
    const rel = path.relative(root, file).split(path.sep).join('/')
    const kind = rel.split('/')[0]
    const { v } = readTransparencyDev(file)
    const pathHex = (v.proof ?? []).map(b64hex)
    const proof =
      kind === 'inclusion'
        ? {
            hash: 'sha256',
            index: v.leafIdx,
            tree_size: v.treeSize,
            leaf_hash: b64hex(v.leafHash),
            root: b64hex(v.root),
            path: pathHex,
          }
        : {
            hash: 'sha256',
            old_size: v.size1,
            new_size: v.size2,
            old_root: b64hex(v.root1),
            new_root: b64hex(v.root2),
            path: pathHex,
          }
    const verify = kind === 'inclusion' ? ts.verifyInclusion : ts.verifyConsistency
    let wantErr = v.wantErr
    if (rel === TD_MALFORMED_DEVIATION) {
      assert.equal(v.wantErr, false)
      wantErr = true
      deviationSeen = true
    }
    // The object form (bigints where needed) and the exact JSON text form must agree.
    const asText = JSON.stringify(proof, (k, x) => (typeof x === 'bigint' ? `#big:${x}` : x)).replace(
      /"#big:(\d+)"/g,
      '$1',
    )
    for (const form of [proof, asText]) {
      let err
      try {
        verify(form)
      } catch (e) {
        err = e
      }
      if (wantErr) {
        assert.ok(err, `${rel} (${v.desc}): accepted, want an error`)
        assert.ok(
          ['malformed', 'verification_failed', 'out_of_range'].includes(err.code),
          `${rel}: unexpected code ${err.code}: ${err.message}`,
        )
        if (rel === TD_MALFORMED_DEVIATION) assert.equal(err.code, 'malformed')
      } else {
        assert.equal(err, undefined, `${rel} (${v.desc}): ${err && err.message}`)
      }
    }
    if (wantErr) rejected++
    else accepted++
  }
  assert.ok(deviationSeen, 'the documented deviation case is present')
  assert.ok(accepted > 0 && rejected > 0)
})

const notes = readVector('signed-note.json').vectors

test('signed-note: key strings round trip byte for byte', () => {
  assert.equal(notes.length, 6)
  for (const v of notes) {
    const s = ts.Signer.fromString(v.signer_key)
    assert.equal(s.secretKey(), v.signer_key)
    assert.equal(s.verifierKey, v.verifier_key)
    assert.equal(s.name, v.verifier_key.split('+')[0])
    // Key files end in a newline; surrounding white space is ignored.
    assert.equal(ts.Signer.fromString(`${v.signer_key}\n`).verifierKey, v.verifier_key)
  }
})

test('signed-note: verifyCheckpoint opens every vector note', () => {
  for (const v of notes) {
    const cp = ts.verifyCheckpoint(v.signed_note, v.verifier_key)
    const lines = v.body.slice(0, -1).split('\n')
    assert.deepEqual(cp, {
      origin: lines[0],
      size: Number(lines[1]),
      root: b64hex(lines[2]),
      extensions: lines.slice(3),
    })
    // Any other key fails; a flipped signature byte fails.
    const other = notes.find((o) => o.verifier_key !== v.verifier_key).verifier_key
    throwsWith('verification_failed', () => ts.verifyCheckpoint(v.signed_note, other))
    const sigAt = v.signed_note.lastIndexOf(' ') + 10
    const flipped =
      v.signed_note.slice(0, sigAt) + (v.signed_note[sigAt] === 'A' ? 'B' : 'A') + v.signed_note.slice(sigAt + 1)
    throwsWith('verification_failed', () => ts.verifyCheckpoint(flipped, v.verifier_key))
    throwsWith('malformed', () => ts.verifyCheckpoint(v.body, v.verifier_key))
  }
})

test('signed-note: ledgers reproduce the vector notes byte for byte', async () => {
  const rfc = readVector('rfc6962-classic.json')
  let reproduced = 0
  for (const v of notes) {
    const [origin, size] = v.body.split('\n')
    if (v.body.split('\n').length > 4) continue // extension lines: not a ledger's checkpoint
    const ledger = await ts.Ledger.create(ledgerPath('note'), { origin, hash: 'sha256', raw: true })
    await ledger.appendRawBatch(rfc.leaves_hex.slice(0, Number(size)).map((h) => Buffer.from(h, 'hex')))
    const note = await ledger.checkpoint(ts.Signer.fromString(v.signer_key))
    assert.equal(note, v.signed_note)
    assert.deepEqual(ledger.checkpoints(), [{ size: Number(size), note, verifier_key: v.verifier_key }])
    await ledger.close()
    reproduced++
  }
  assert.equal(reproduced, 4)
})

test('signed-note: malformed keys are refused with malformed', () => {
  const v = notes[0]
  throwsWith('malformed', () => ts.Signer.fromString(v.verifier_key))
  throwsWith('malformed', () => ts.Signer.fromString(v.signer_key.replace('0481367f', '0481367e')))
  throwsWith('malformed', () => ts.verifyCheckpoint(v.signed_note, v.signer_key))
  throwsWith('malformed', () => ts.verifyCheckpoint(v.signed_note, 'name+00000000+AAAA'))
})
