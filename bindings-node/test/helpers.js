'use strict'
// Shared by the test files (not itself a test file: `npm test` runs test/*.test.js).
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const assert = require('node:assert/strict')

const ts = require('..')

const REPO = path.resolve(__dirname, '..', '..')
const VECTORS = path.join(REPO, 'tests', 'vectors')

/** A fresh temporary directory, removed when the process exits. */
function tmpdir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trailseal-node-'))
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

let counter = 0
/** A path for a new ledger file in a fresh temporary directory. */
function ledgerPath(name = 'audit') {
  counter += 1
  return path.join(tmpdir(), `${name}-${counter}.redb`)
}

function readVector(rel) {
  return JSON.parse(fs.readFileSync(path.join(VECTORS, rel), 'utf8'))
}

/** A valid audit entry; `over` replaces or adds fields. */
function entry(i = 0, over = {}) {
  return {
    actor: { id: `user-${i}` },
    action: 'deploy.succeeded',
    subject: { type: 'service', id: `svc-${i}` },
    ...over,
  }
}

/** Asserts that `fn()` throws (or the promise rejects) an Error with this `code`. */
async function rejectsWith(code, fn) {
  let err
  try {
    await fn()
  } catch (e) {
    err = e
  }
  assert.ok(err, `expected an error with code ${code}, got none`)
  assert.ok(err instanceof Error, `not an Error: ${err}`)
  assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`)
  assert.equal(typeof err.message, 'string')
  assert.equal(ts.errorCodes()[err.status - 1], code, 'status is the numeric code')
  return err
}

function throwsWith(code, fn) {
  let err
  try {
    fn()
  } catch (e) {
    err = e
  }
  assert.ok(err, `expected an error with code ${code}, got none`)
  assert.ok(err instanceof Error, `not an Error: ${err}`)
  assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`)
  return err
}

const hex = (b) => Buffer.from(b).toString('hex')
const b64hex = (s) => Buffer.from(s, 'base64').toString('hex')

/** The `trailseal` command built by cargo (CARGO_TARGET_DIR honoured), or TRAILSEAL_CLI. */
function cliPath() {
  if (process.env.TRAILSEAL_CLI) return process.env.TRAILSEAL_CLI
  const target = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO, process.env.CARGO_TARGET_DIR)
    : path.join(REPO, 'target')
  return path.join(target, 'debug', process.platform === 'win32' ? 'trailseal.exe' : 'trailseal')
}

module.exports = {
  ts,
  REPO,
  VECTORS,
  tmpdir,
  ledgerPath,
  readVector,
  entry,
  rejectsWith,
  throwsWith,
  hex,
  b64hex,
  cliPath,
}
