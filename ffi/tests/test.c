/*
 * The C API test: every function, every error path, the shared conformance vectors, and the
 * exchange of ledgers with the `trailseal` command. Run by ffi/test.sh under valgrind.
 *
 *   test REPO_ROOT WORKDIR
 *
 * REPO_ROOT holds tests/vectors/. WORKDIR is an empty scratch directory; if test.sh put a
 * ledger made by the command there (cli-made.redb, see test.sh), it is read and extended
 * here; this program leaves c-made.redb (+ .key, .note, entry files) for the command to read.
 * The auditor's questions (query, trace, why, gate, record_gate, bundle, verify_bundle,
 * report) are asked of the example delivery history (examples/history.sh), with the exact
 * answers of core/tests/audit.rs; if test.sh put the command's answers about its own history
 * ledger there (cli-history.*), the C answers must be the same bytes. The C-made bundle is
 * left as c-history.bundle (+ .vkey) for `trailseal verify-bundle`.
 *
 * The vector files, and the shared case table (tests/vectors/cases.json), are read at run
 * time with the small JSON scanner below (just enough to walk arrays and objects and decode
 * strings); every proof is handed to trailseal as the JSON text found in the file.
 */
#define _GNU_SOURCE
#include "trailseal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- harness ----------------------------------------------------------------------- */

static int passed, failed;

static void fail_msg(int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "FAIL test.c:%d: ", line);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  failed++;
}

#define CHECK(cond)                                                                         \
  do {                                                                                      \
    if (cond)                                                                               \
      passed++;                                                                             \
    else                                                                                    \
      fail_msg(__LINE__, "%s (last error: %s)", #cond, trailseal_last_error_message());    \
  } while (0)

/* A call's status, and the last-error message that goes with it: empty after a success,
 * non-empty after a failure. */
static void expect_status(trailseal_status got, trailseal_status want, const char *what,
                          int line) {
  const char *msg = trailseal_last_error_message();
  if (got != want) {
    fail_msg(line, "%s: status %u (%s), want %u (%s); message: %s", what, (unsigned)got,
             trailseal_status_name(got), (unsigned)want, trailseal_status_name(want), msg);
  } else if ((want == TRAILSEAL_STATUS_OK) != (msg[0] == '\0')) {
    fail_msg(line, "%s: status %s but last error message is \"%s\"", what,
             trailseal_status_name(got), msg);
  } else {
    passed++;
  }
}
#define EXPECT(want, call) expect_status((call), (want), #call, __LINE__)
#define OK(call) EXPECT(TRAILSEAL_STATUS_OK, call)

/* The last error message contains `needle`. */
#define MSG_HAS(needle)                                                                     \
  do {                                                                                      \
    const char *m_ = trailseal_last_error_message();                                        \
    if (strstr(m_, (needle)))                                                               \
      passed++;                                                                             \
    else                                                                                    \
      fail_msg(__LINE__, "message \"%s\" lacks \"%s\"", m_, (needle));                      \
  } while (0)

#define STREQ(a, b)                                                                         \
  do {                                                                                      \
    const char *a_ = (a), *b_ = (b);                                                        \
    if (a_ && b_ && strcmp(a_, b_) == 0)                                                    \
      passed++;                                                                             \
    else                                                                                    \
      fail_msg(__LINE__, "%s != %s\n  \"%s\"\n  \"%s\"", #a, #b, a_ ? a_ : "(null)",       \
               b_ ? b_ : "(null)");                                                         \
  } while (0)

/* A pointer value no library call may write: out-parameters are left alone on failure. */
static char sentinel_byte;
#define SENTINEL ((void *)&sentinel_byte)

static char *xstrdup(const char *s) {
  char *d = strdup(s);
  if (!d) abort();
  return d;
}

static char *fmt(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  char *s = NULL;
  if (vasprintf(&s, f, ap) < 0) abort();
  va_end(ap);
  return s;
}

static char *read_file(const char *path, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap + 1);
  size_t n;
  while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) buf = realloc(buf, (cap *= 2) + 1);
  }
  fclose(f);
  buf[len] = '\0';
  if (len_out) *len_out = len;
  return buf;
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
    fail_msg(__LINE__, "cannot write %s", path);
  }
}

/* ---- a small JSON scanner for the vector files and our own outputs ------------------- */

static const char *ws(const char *p) {
  while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
  return p;
}

/* The end of the JSON value starting at p (which is past any white space). */
static const char *skip_value(const char *p) {
  if (*p == '"') {
    for (p++; *p && *p != '"'; p++)
      if (*p == '\\' && p[1]) p++;
    return *p ? p + 1 : p;
  }
  if (*p == '{' || *p == '[') {
    int depth = 0;
    for (; *p; p++) {
      if (*p == '"') {
        p = skip_value(p) - 1;
      } else if (*p == '{' || *p == '[') {
        depth++;
      } else if (*p == '}' || *p == ']') {
        if (--depth == 0) return p + 1;
      }
    }
    return p;
  }
  while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n') p++;
  return p;
}

/* The value of `key` among the members of the object whose '{' is at obj, or NULL. */
static const char *member(const char *obj, const char *key) {
  const char *p = ws(obj);
  if (*p != '{') return NULL;
  p = ws(p + 1);
  size_t klen = strlen(key);
  while (*p == '"') {
    const char *k = p + 1;
    const char *kend = skip_value(p) - 1;
    p = ws(kend + 1);
    if (*p != ':') return NULL;
    p = ws(p + 1);
    if ((size_t)(kend - k) == klen && strncmp(k, key, klen) == 0) return p;
    p = ws(skip_value(p));
    if (*p == ',') p = ws(p + 1);
  }
  return NULL;
}

/* Iterates an array: *it starts at '['; each call yields one element [start, end). */
static int next_elem(const char **it, const char **start, const char **end) {
  const char *p = ws(*it);
  if (*p == '[' || *p == ',') p = ws(p + 1);
  if (*p == ']' || !*p) return 0;
  *start = p;
  *end = skip_value(p);
  *it = *end;
  return 1;
}

static char *copy_span(const char *start, const char *end) {
  char *s = malloc((size_t)(end - start) + 1);
  memcpy(s, start, (size_t)(end - start));
  s[end - start] = '\0';
  return s;
}

static void put_utf8(char **o, unsigned cp) {
  unsigned char *u = (unsigned char *)*o;
  if (cp < 0x80) {
    *u++ = (unsigned char)cp;
  } else if (cp < 0x800) {
    *u++ = (unsigned char)(0xC0 | (cp >> 6));
    *u++ = (unsigned char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *u++ = (unsigned char)(0xE0 | (cp >> 12));
    *u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    *u++ = (unsigned char)(0x80 | (cp & 0x3F));
  } else {
    *u++ = (unsigned char)(0xF0 | (cp >> 18));
    *u++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    *u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    *u++ = (unsigned char)(0x80 | (cp & 0x3F));
  }
  *o = (char *)u;
}

/* Decodes the JSON string at p (its opening quote) into a new NUL-terminated string. */
static char *decode_string(const char *p) {
  if (!p || *p != '"') return NULL;
  const char *end = skip_value(p) - 1;
  char *out = malloc((size_t)(end - p) * 2 + 1), *o = out;
  for (p++; p < end; p++) {
    if (*p != '\\') {
      *o++ = *p;
      continue;
    }
    p++;
    switch (*p) {
    case 'n': *o++ = '\n'; break;
    case 't': *o++ = '\t'; break;
    case 'r': *o++ = '\r'; break;
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'u': {
      unsigned cp = (unsigned)strtoul((char[5]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
      p += 4;
      if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u') {
        unsigned lo = (unsigned)strtoul((char[5]){p[3], p[4], p[5], p[6], 0}, NULL, 16);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
      }
      put_utf8(&o, cp);
      break;
    }
    default: *o++ = *p; /* \" \\ \/ */
    }
  }
  *o = '\0';
  return out;
}

static char *str_member(const char *obj, const char *key) {
  return decode_string(member(obj, key));
}

static unsigned long long u64_member(const char *obj, const char *key) {
  const char *v = member(obj, key);
  return v ? strtoull(v, NULL, 10) : ~0ULL;
}

static unsigned char *unhex(const char *hex, size_t *len) {
  size_t n = strlen(hex) / 2;
  unsigned char *b = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    b[i] = (unsigned char)v;
  }
  *len = n;
  return b;
}

/* A copy of json with the first hex digit of the string value of `key` changed. */
static char *mutate_hex(const char *json, const char *key) {
  char *m = xstrdup(json);
  const char *v = member(m, key);
  if (!v) return m;
  if (*v == '[') v = ws(v + 1);
  if (*v == '"') {
    char *d = (char *)v + 1;
    *d = (*d == '0') ? '1' : '0';
  }
  return m;
}

/* Canonical (RFC 8785) JSON of a JSON text, through the library; NULL if it fails. */
static char *canon(const char *json) {
  char *out = NULL;
  if (trailseal_canonical_json(json, &out) != TRAILSEAL_STATUS_OK) return NULL;
  return out;
}

/* Both JSON texts mean the same: equal canonical forms. */
#define SAME_JSON(a, b)                                                                     \
  do {                                                                                      \
    char *ca_ = canon(a), *cb_ = canon(b);                                                  \
    if (ca_ && cb_ && strcmp(ca_, cb_) == 0)                                                \
      passed++;                                                                             \
    else                                                                                    \
      fail_msg(__LINE__, "JSON differs:\n  %s\n  %s", ca_ ? ca_ : a, cb_ ? cb_ : b);       \
    trailseal_string_free(ca_);                                                             \
    trailseal_string_free(cb_);                                                             \
  } while (0)

/* ---- fixtures ---------------------------------------------------------------------- */

static const char *workdir;
static const char *repo;

static char *wpath(const char *name) { return fmt("%s/%s", workdir, name); }

static char *entry_json(const char *actor, const char *action, const char *subject) {
  return fmt("{\"actor\":{\"id\":\"%s\"},\"action\":\"%s\",\"subject\":{\"type\":\"service\","
             "\"id\":\"%s\"}}",
             actor, action, subject);
}

static trailseal_ledger *make_ledger(const char *name, const char *hash, bool raw, bool durable) {
  char *path = wpath(name);
  trailseal_ledger *l = NULL;
  OK(trailseal_ledger_create(path, "example.com/ffi/test", hash, raw, 0, durable, &l));
  free(path);
  return l;
}

static unsigned long long size_of(const trailseal_ledger *l) {
  uint64_t n = 12345;
  OK(trailseal_ledger_size(l, &n));
  return n;
}

/* ---- library-wide ------------------------------------------------------------------ */

static void test_library(void) {
  CHECK(strlen(trailseal_version()) > 0);
  CHECK(strchr(trailseal_version(), '.') != NULL);
  STREQ(trailseal_status_name(TRAILSEAL_STATUS_OK), "ok");
  STREQ(trailseal_status_name(TRAILSEAL_STATUS_INVALID_ENTRY), "invalid_entry");
  STREQ(trailseal_status_name(TRAILSEAL_STATUS_INTERNAL), "internal");
  STREQ(trailseal_status_name(TRAILSEAL_STATUS_NULL_ARGUMENT), "null_argument");
  STREQ(trailseal_status_name(TRAILSEAL_STATUS_INVALID_UTF8), "invalid_utf8");
  STREQ(trailseal_status_name(TRAILSEAL_STATUS_PANIC), "panic");
  STREQ(trailseal_status_name(19), "unknown");
  STREQ(trailseal_status_name(99), "unknown");
  /* The README's error table, number for number. */
  static const char *names[] = {"invalid_entry", "id_conflict", "malformed",
                                "verification_failed", "tampered", "inconsistent",
                                "out_of_range", "invalid_argument", "wrong_kind",
                                "already_exists", "not_found", "not_a_ledger", "locked",
                                "storage", "io", "internal", "closed",
                                "rule_violation"};
  for (unsigned i = 0; i < 18; i++) STREQ(trailseal_status_name(i + 1), names[i]);
  CHECK(TRAILSEAL_STATUS_LOCKED == 13 && TRAILSEAL_STATUS_IO == 15);
  /* A closed handle (the Go package's Close): the newest code, appended, never renumbered. */
  CHECK(TRAILSEAL_STATUS_CLOSED == 17);
  STREQ(trailseal_status_name(TRAILSEAL_STATUS_CLOSED), "closed");
  /* A rule violation (docs/RULES.md): the newest code. */
  CHECK(TRAILSEAL_STATUS_RULE_VIOLATION == 18);
  STREQ(trailseal_status_name(TRAILSEAL_STATUS_RULE_VIOLATION), "rule_violation");
  CHECK(TRAILSEAL_SIZE_CURRENT == UINT64_MAX);
  /* The free functions accept NULL. */
  trailseal_string_free(NULL);
  trailseal_bytes_free(NULL, 0);
  trailseal_ledger_free(NULL);
  trailseal_signer_free(NULL);
  passed++;
}

/* ---- signers ----------------------------------------------------------------------- */

static void test_signers(void) {
  trailseal_signer *s = SENTINEL, *s2 = NULL;
  char *skey = NULL, *vkey = NULL, *out = SENTINEL;

  OK(trailseal_signer_generate("example.com/ffi/test", &s));
  OK(trailseal_signer_to_string(s, &skey));
  OK(trailseal_signer_verifier_key(s, &vkey));
  CHECK(strncmp(skey, "PRIVATE+KEY+example.com/ffi/test+", 33) == 0);
  CHECK(strncmp(vkey, "example.com/ffi/test+", 21) == 0);
  /* The key string round-trips, with surrounding white space ignored. */
  char *padded = fmt("  %s\n", skey);
  OK(trailseal_signer_from_string(padded, &s2));
  char *skey2 = NULL, *vkey2 = NULL;
  OK(trailseal_signer_to_string(s2, &skey2));
  OK(trailseal_signer_verifier_key(s2, &vkey2));
  STREQ(skey2, skey);
  STREQ(vkey2, vkey);
  trailseal_string_free(skey2);
  trailseal_string_free(vkey2);
  trailseal_signer_free(s2);
  free(padded);

  /* From a seed: deterministic. */
  uint8_t seed[32];
  for (int i = 0; i < 32; i++) seed[i] = (uint8_t)i;
  s2 = NULL;
  OK(trailseal_signer_from_seed("example.com/audit/payments", seed, 32, &s2));
  OK(trailseal_signer_to_string(s2, &skey2));
  STREQ(skey2, "PRIVATE+KEY+example.com/audit/payments+0481367f+"
               "AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f");
  trailseal_string_free(skey2);
  trailseal_signer_free(s2);

  /* Errors. */
  trailseal_signer *untouched = SENTINEL;
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_signer_generate(NULL, &untouched));
  MSG_HAS("name");
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_signer_generate("x", NULL));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_signer_generate("has space", &untouched));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_signer_generate("a+b", &untouched));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_signer_generate("", &untouched));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8, trailseal_signer_generate("bad\xff", &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_signer_from_string(NULL, &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_signer_from_string(skey, NULL));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_signer_from_string("PRIVATE+KEY+x", &untouched));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_signer_from_string(vkey, &untouched));
  /* A wrong key hash: flip one hex digit of it (right after the name). */
  char *badhash = xstrdup(skey);
  char *h = badhash + strlen("PRIVATE+KEY+example.com/ffi/test+");
  *h = (*h == '0') ? '1' : '0';
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_signer_from_string(badhash, &untouched));
  MSG_HAS("key hash");
  CHECK(strstr(trailseal_last_error_message(), badhash + 20) == NULL); /* never quotes it */
  free(badhash);
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8, trailseal_signer_from_string("\xc3\x28", &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_signer_from_seed(NULL, seed, 32, &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_signer_from_seed("n", NULL, 32, &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_signer_from_seed("n", NULL, 0, &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_signer_from_seed("n", seed, 32, NULL));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT, trailseal_signer_from_seed("n", seed, 31, &untouched));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT, trailseal_signer_from_seed("n", seed, 33, &untouched));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_signer_from_seed("a b", seed, 32, &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_signer_to_string(NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_signer_to_string(s, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_signer_verifier_key(NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_signer_verifier_key(s, NULL));
  CHECK(untouched == SENTINEL && out == SENTINEL);

  trailseal_string_free(skey);
  trailseal_string_free(vkey);
  trailseal_signer_free(s);
}

/* ---- create / open ------------------------------------------------------------------ */

static void test_create_open(void) {
  char *path = wpath("open.redb");
  trailseal_ledger *l = SENTINEL, *untouched = SENTINEL;
  char *info = NULL;

  OK(trailseal_ledger_create_with(path, "example.com/ffi/open", "sha256", false, 4096, true,
                                 "exclusive", &l));
  CHECK(l != SENTINEL && l != NULL);
  OK(trailseal_ledger_info(l, &info));
  CHECK(strstr(info, "\"origin\":\"example.com/ffi/open\"") != NULL);
  CHECK(strstr(info, "\"hash\":\"sha256\"") != NULL);
  CHECK(strstr(info, "\"kind\":\"entries\"") != NULL);
  CHECK(strstr(info, "\"max_entry_bytes\":4096") != NULL);
  CHECK(strstr(info, "open.redb") != NULL);
  CHECK(strstr(info, "\"sharing\":\"exclusive\"") != NULL);
  CHECK(strstr(info, "\"read_only\":false") != NULL);
  trailseal_string_free(info);
  CHECK(size_of(l) == 0);

  /* A second exclusive handle on the same file is refused while the first is open. */
  EXPECT(TRAILSEAL_STATUS_LOCKED,
         trailseal_ledger_open_with(path, 0, true, "exclusive", false, &untouched));
  MSG_HAS("already open");
  EXPECT(TRAILSEAL_STATUS_LOCKED,
         trailseal_ledger_open_with(path, 30, true, "exclusive", false, &untouched));
  EXPECT(TRAILSEAL_STATUS_ALREADY_EXISTS,
         trailseal_ledger_create(path, "o", NULL, false, 0, true, &untouched));
  char *e = entry_json("alice", "deploy.succeeded", "payments");
  char *receipt = NULL;
  OK(trailseal_ledger_append(l, e, &receipt));
  trailseal_string_free(receipt);
  trailseal_ledger_free(l);

  /* Reopened: same metadata, same content; not durable through this handle, then synced. */
  l = NULL;
  OK(trailseal_ledger_open(path, 0, false, &l));
  OK(trailseal_ledger_info(l, &info));
  CHECK(strstr(info, "\"hash\":\"sha256\"") != NULL);
  CHECK(strstr(info, "\"max_entry_bytes\":4096") != NULL);
  trailseal_string_free(info);
  CHECK(size_of(l) == 1);
  OK(trailseal_ledger_append(l, e, &receipt));
  trailseal_string_free(receipt);
  OK(trailseal_ledger_sync(l));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_sync(NULL));
  trailseal_ledger_free(l);
  l = NULL;
  OK(trailseal_ledger_open(path, 1000, true, &l));
  CHECK(size_of(l) == 2);
  trailseal_ledger_free(l);

  /* Defaults: sha256 (the core's), entries, 1 MiB. */
  char *p2 = wpath("defaults.redb");
  l = NULL;
  OK(trailseal_ledger_create(p2, "example.com/ffi/defaults", NULL, false, 0, true, &l));
  OK(trailseal_ledger_info(l, &info));
  CHECK(strstr(info, "\"hash\":\"sha256\"") != NULL);
  CHECK(strstr(info, "\"max_entry_bytes\":1048576") != NULL);
  trailseal_string_free(info);
  trailseal_ledger_free(l);
  free(p2);

  /* A path that is not UTF-8 is fine (paths are bytes). */
  char *p3 = wpath("odd-\xff-name.redb");
  l = NULL;
  OK(trailseal_ledger_create(p3, "example.com/ffi/odd", "blake3", true, 0, true, &l));
  trailseal_ledger_free(l);
  l = NULL;
  OK(trailseal_ledger_open(p3, 0, true, &l));
  trailseal_ledger_free(l);
  free(p3);

  /* Errors. */
  char *missing = wpath("missing.redb");
  char *nodir = wpath("no/such/dir/x.redb");
  char *junk = wpath("junk.redb");
  char *empty = wpath("empty.redb");
  char junkbytes[8192];
  for (size_t i = 0; i < sizeof junkbytes; i++) junkbytes[i] = (char)(i * 7 + 3);
  write_file(junk, junkbytes, sizeof junkbytes);
  write_file(empty, "", 0);
  EXPECT(TRAILSEAL_STATUS_NOT_FOUND, trailseal_ledger_open(missing, 0, true, &untouched));
  EXPECT(TRAILSEAL_STATUS_NOT_A_LEDGER, trailseal_ledger_open(junk, 0, true, &untouched));
  EXPECT(TRAILSEAL_STATUS_NOT_A_LEDGER, trailseal_ledger_open(empty, 0, true, &untouched));
  EXPECT(TRAILSEAL_STATUS_IO,
         trailseal_ledger_create(nodir, "o", NULL, false, 0, true, &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_open(NULL, 0, true, &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_open(path, 0, true, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_create(NULL, "o", NULL, false, 0, true, &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_create(missing, NULL, NULL, false, 0, true, &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_create(missing, "o", NULL, false, 0, true, NULL));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_create(missing, "o", "md5", false, 0, true, &untouched));
  MSG_HAS("md5");
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_create(missing, "", NULL, false, 0, true, &untouched));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_create(missing, "two\nlines", NULL, false, 0, true, &untouched));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8,
         trailseal_ledger_create(missing, "bad\xff", NULL, false, 0, true, &untouched));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8,
         trailseal_ledger_create(missing, "o", "\xff", false, 0, true, &untouched));
  CHECK(untouched == SENTINEL);
  /* Refused creates leave no file behind. */
  CHECK(access(missing, F_OK) != 0);

  free(missing);
  free(nodir);
  free(junk);
  free(empty);
  free(e);
  free(path);
}

/* ---- sharing modes and read-only handles ------------------------------------------- */

static void test_sharing(void) {
  char *path = wpath("shared.redb");
  trailseal_ledger *a = NULL, *b = NULL, *r = NULL, *untouched = SENTINEL;
  char *info = NULL, *receipt = NULL, *got = NULL;

  /* Two handles in the default mode both append, and each sees the other's entries. */
  OK(trailseal_ledger_create(path, "example.com/ffi/shared", NULL, false, 0, true, &a));
  OK(trailseal_ledger_open(path, 0, true, &b));
  OK(trailseal_ledger_info(b, &info));
  CHECK(strstr(info, "\"sharing\":\"auto\"") != NULL);
  CHECK(strstr(info, "\"sharing_now\":\"multi-writer\"") != NULL);
  trailseal_string_free(info);
  char *ea = entry_json("alice", "deploy.succeeded", "from-a");
  char *eb = entry_json("bob", "deploy.succeeded", "from-b");
  OK(trailseal_ledger_append(a, ea, &receipt));
  CHECK(strstr(receipt, "\"index\":0,") != NULL);
  trailseal_string_free(receipt);
  OK(trailseal_ledger_append(b, eb, &receipt));
  CHECK(strstr(receipt, "\"index\":1,") != NULL);
  trailseal_string_free(receipt);
  CHECK(size_of(a) == 2 && size_of(b) == 2);
  OK(trailseal_ledger_get(a, 1, &got));
  CHECK(strstr(got, "from-b") != NULL);
  trailseal_string_free(got);
  OK(trailseal_ledger_get(b, 0, &got));
  CHECK(strstr(got, "from-a") != NULL);
  trailseal_string_free(got);

  /* A read-only handle reads beside the writers and refuses every write. */
  OK(trailseal_ledger_open_with(path, 0, true, NULL, true, &r));
  OK(trailseal_ledger_info(r, &info));
  CHECK(strstr(info, "\"read_only\":true") != NULL);
  trailseal_string_free(info);
  CHECK(size_of(r) == 2);
  OK(trailseal_ledger_append(a, ea, &receipt)); /* the same entry again: a new leaf */
  trailseal_string_free(receipt);
  CHECK(size_of(r) == 3);
  receipt = SENTINEL;
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT, trailseal_ledger_append(r, eb, &receipt));
  MSG_HAS("read-only");
  CHECK(receipt == SENTINEL);
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT, trailseal_ledger_sync(r));
  CHECK(size_of(a) == 3);
  trailseal_ledger_free(r);
  trailseal_ledger_free(b);
  trailseal_ledger_free(a);

  /* Modes by name ("_" for "-"); a create in a mode; refused names and combinations. */
  a = NULL;
  OK(trailseal_ledger_open_with(path, 0, true, "single_writer", false, &a));
  OK(trailseal_ledger_info(a, &info));
  CHECK(strstr(info, "\"sharing\":\"single-writer\"") != NULL);
  trailseal_string_free(info);
  trailseal_ledger_free(a);
  char *p2 = wpath("shared-created.redb");
  a = NULL;
  OK(trailseal_ledger_create_with(p2, "example.com/ffi/shared", NULL, true, 0, true,
                                  "single-writer", &a));
  OK(trailseal_ledger_info(a, &info));
  CHECK(strstr(info, "\"sharing\":\"single-writer\"") != NULL);
  trailseal_string_free(info);
  trailseal_ledger_free(a);
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_open_with(path, 0, true, "shared", false, &untouched));
  MSG_HAS("shared");
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8,
         trailseal_ledger_open_with(path, 0, true, "\xff", false, &untouched));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_open_with(path, 0, false, "multi-writer", false, &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_open_with(NULL, 0, true, NULL, true, &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_open_with(path, 0, true, NULL, true, NULL));
  char *p3 = wpath("shared-refused.redb");
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_create_with(p3, "o", NULL, false, 0, true, "shared", &untouched));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_create_with(p3, "o", NULL, false, 0, true, NULL, NULL));
  CHECK(untouched == SENTINEL);
  CHECK(access(p3, F_OK) != 0);

  free(ea);
  free(eb);
  free(p3);
  free(p2);
  free(path);
}

/* ---- appending and reading entries ---------------------------------------------------- */

static void test_entries(void) {
  trailseal_ledger *l = make_ledger("entries.redb", "sha256", false, true);
  char *receipt = NULL, *out = SENTINEL;

  char *e0 = entry_json("alice", "deploy.succeeded", "payments-api");
  OK(trailseal_ledger_append(l, e0, &receipt));
  CHECK(u64_member(receipt, "index") == 0);
  CHECK(u64_member(receipt, "tree_size") == 1);
  char *time0 = str_member(receipt, "time");
  CHECK(time0 && strlen(time0) == 30 && time0[29] == 'Z'); /* nine fractional digits */
  char *leaf_hash0 = str_member(receipt, "leaf_hash");
  char *root1 = str_member(receipt, "root");
  CHECK(leaf_hash0 && strlen(leaf_hash0) == 64);
  trailseal_string_free(receipt);

  /* A full entry, with unicode and every optional field. */
  const char *full =
      "{\"id\":\"evt-1\",\"actor\":{\"id\":\"ci-bot\",\"role\":\"deployer\",\"tenant\":\"acme\","
      "\"via\":[\"alice\"]},\"action\":\"approval.granted\",\"subject\":{\"type\":\"change\","
      "\"id\":\"CR-7 \xc3\xa9\xe2\x9c\x93\"},\"authz\":{\"decision\":\"break_glass\",\"policy\":"
      "\"two-person\",\"reason\":\"outage\"},\"change\":{\"before\":1,\"after\":{\"x\":[1.5,"
      "null,true]}},\"links\":[{\"rel\":\"follows\",\"index\":0},{\"rel\":\"built_from\","
      "\"ref\":\"git:4f2a9c1\"}],\"occurred_at\":\"2026-01-02T03:04:05Z\",\"attrs\":{\"env\":"
      "\"prod\"},\"payload\":{\"z\":1,\"a\":[\"\\u0000\"]}}";
  OK(trailseal_ledger_append(l, full, &receipt));
  CHECK(u64_member(receipt, "index") == 1);
  trailseal_string_free(receipt);

  /* get: exactly the leaf bytes, canonical JSON with v and time added. */
  char *got = NULL;
  OK(trailseal_ledger_get(l, 0, &got));
  CHECK(strncmp(got, "{\"action\":\"deploy.succeeded\",\"actor\":{\"id\":\"alice\"}", 50) == 0);
  CHECK(strstr(got, "\"v\":1") != NULL);
  char *t = fmt("\"time\":\"%s\"", time0);
  CHECK(strstr(got, t) != NULL);
  free(t);
  char *canonical = canon(got);
  STREQ(canonical, got);
  trailseal_string_free(canonical);
  char *lh = NULL;
  OK(trailseal_leaf_hash("sha256", (const uint8_t *)got, strlen(got), &lh));
  STREQ(lh, leaf_hash0);
  trailseal_string_free(lh);
  OK(trailseal_ledger_leaf_hash(l, 0, &lh));
  STREQ(lh, leaf_hash0);
  trailseal_string_free(lh);
  uint8_t *raw = NULL;
  size_t raw_len = 0;
  OK(trailseal_ledger_get_raw(l, 0, &raw, &raw_len));
  CHECK(raw_len == strlen(got) && memcmp(raw, got, raw_len) == 0);
  trailseal_bytes_free(raw, raw_len);
  trailseal_string_free(got);
  OK(trailseal_ledger_get(l, 1, &got));
  CHECK(strstr(got, "\"payload\":{\"a\":[\"\\u0000\"],\"z\":1}") != NULL);
  CHECK(strstr(got, "CR-7 \xc3\xa9\xe2\x9c\x93") != NULL);
  trailseal_string_free(got);

  /* Idempotent id: the same content gives the recorded receipt, other content a conflict. */
  OK(trailseal_ledger_append(l, full, &receipt));
  CHECK(u64_member(receipt, "index") == 1);
  trailseal_string_free(receipt);
  CHECK(size_of(l) == 2);
  const char *conflict =
      "{\"id\":\"evt-1\",\"actor\":{\"id\":\"mallory\"},\"action\":\"approval.granted\","
      "\"subject\":{\"type\":\"change\",\"id\":\"CR-7\"}}";
  EXPECT(TRAILSEAL_STATUS_ID_CONFLICT, trailseal_ledger_append(l, conflict, &out));
  MSG_HAS("evt-1");

  /* Batch: atomic, receipts in order. */
  char *e_a = entry_json("bob", "build.succeeded", "a");
  char *e_b = entry_json("bob", "build.succeeded", "b");
  char *batch = fmt("[%s, %s, {\"actor\":{\"id\":\"x\"},\"action\":\"link.made\",\"subject\":"
                    "{\"type\":\"t\",\"id\":\"i\"},\"links\":[{\"rel\":\"r\",\"index\":3}]}]",
                    e_a, e_b);
  OK(trailseal_ledger_append_batch(l, batch, &receipt));
  CHECK(receipt[0] == '[');
  {
    const char *it = receipt, *s, *en;
    unsigned long long want = 2;
    int n = 0;
    while (next_elem(&it, &s, &en)) {
      char *r = copy_span(s, en);
      CHECK(u64_member(r, "index") == want++);
      free(r);
      n++;
    }
    CHECK(n == 3);
  }
  trailseal_string_free(receipt);
  CHECK(size_of(l) == 5);
  OK(trailseal_ledger_append_batch(l, "[]", &receipt));
  STREQ(receipt, "[]");
  trailseal_string_free(receipt);

  /* Refused input writes nothing. */
  char *bad_second = fmt("[%s, {\"actor\":{\"id\":\"x\"},\"action\":\"Not Valid\",\"subject\":"
                         "{\"type\":\"t\",\"id\":\"i\"}}]",
                         e_a);
  EXPECT(TRAILSEAL_STATUS_INVALID_ENTRY, trailseal_ledger_append_batch(l, bad_second, &out));
  MSG_HAS("[1].action");
  EXPECT(TRAILSEAL_STATUS_INVALID_ENTRY,
         trailseal_ledger_append(l, "{\"actor\":{\"id\":\"x\"},\"action\":\"Not Valid\","
                                    "\"subject\":{\"type\":\"t\",\"id\":\"i\"}}",
                                 &out));
  MSG_HAS("action");
  EXPECT(TRAILSEAL_STATUS_INVALID_ENTRY,
         trailseal_ledger_append(l, "{\"actor\":{\"id\":\"x\"},\"action\":\"a\",\"subject\":"
                                    "{\"type\":\"t\",\"id\":\"i\"},\"extra\":1}",
                                 &out));
  MSG_HAS("extra");
  EXPECT(TRAILSEAL_STATUS_INVALID_ENTRY,
         trailseal_ledger_append(l, "{\"actor\":{\"id\":\"x\"},\"action\":\"a\",\"subject\":"
                                    "{\"type\":\"t\",\"id\":\"i\"},\"links\":[{\"rel\":\"r\","
                                    "\"index\":99}]}",
                                 &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_ENTRY, trailseal_ledger_append(l, "[1,2]", &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_ENTRY, trailseal_ledger_append(l, "\"text\"", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_append(l, "{not json", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_append(l, "", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_append(l, "{\"actor\":{\"id\":\"x\"},\"actor\":{\"id\":\"y\"},"
                                    "\"action\":\"a\",\"subject\":{\"type\":\"t\",\"id\":\"i\"}}",
                                 &out));
  MSG_HAS("duplicate");
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_append(l, "{} trailing", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_append_batch(l, e_a, &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_append_batch(l, "[", &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8, trailseal_ledger_append(l, "{\"a\":\"\xff\"}", &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8, trailseal_ledger_append_batch(l, "[\xfe]", &out));
  /* A NULL out-parameter is refused before anything is written. */
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_append(l, e_a, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_append_batch(l, batch, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_append(NULL, e_a, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_append(l, NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_append_batch(NULL, batch, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_append_batch(l, NULL, &out));
  CHECK(size_of(l) == 5);
  CHECK(out == SENTINEL);

  /* Entry calls vs raw calls. */
  const uint8_t bytes[] = {1, 2, 3};
  const uint8_t *leaves[] = {bytes};
  size_t lens[] = {3};
  EXPECT(TRAILSEAL_STATUS_WRONG_KIND, trailseal_ledger_append_raw(l, bytes, 3, &out));
  MSG_HAS("raw");
  EXPECT(TRAILSEAL_STATUS_WRONG_KIND,
         trailseal_ledger_append_raw_batch(l, leaves, lens, 1, &out));

  /* Reads out of range. */
  uint8_t *rb = SENTINEL;
  size_t rl = 777;
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_get(l, 5, &out));
  MSG_HAS("5");
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_get(l, UINT64_MAX, &out));
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_get_raw(l, 5, &rb, &rl));
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_leaf_hash(l, 5, &out));
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_root(l, 6, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_get(NULL, 0, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_get(l, 0, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_get_raw(NULL, 0, &rb, &rl));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_get_raw(l, 0, NULL, &rl));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_get_raw(l, 0, &rb, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_leaf_hash(NULL, 0, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_leaf_hash(l, 0, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_size(NULL, (uint64_t *)SENTINEL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_size(l, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_root(NULL, 0, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_root(l, 0, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_info(NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_info(l, NULL));
  CHECK(out == SENTINEL && rb == SENTINEL && rl == 777);

  /* Roots: current, and of an earlier size. */
  char *root = NULL;
  OK(trailseal_ledger_root(l, 1, &root));
  STREQ(root, root1);
  trailseal_string_free(root);
  OK(trailseal_ledger_root(l, 0, &root));
  STREQ(root, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  trailseal_string_free(root);
  char *cur = NULL, *at5 = NULL;
  OK(trailseal_ledger_root(l, TRAILSEAL_SIZE_CURRENT, &cur));
  OK(trailseal_ledger_root(l, 5, &at5));
  STREQ(cur, at5);
  trailseal_string_free(cur);
  trailseal_string_free(at5);

  free(e0);
  free(e_a);
  free(e_b);
  free(batch);
  free(bad_second);
  free(time0);
  free(leaf_hash0);
  free(root1);
  trailseal_ledger_free(l);
}

/* ---- raw ledgers ---------------------------------------------------------------------- */

static void test_raw(void) {
  char *path = wpath("raw.redb");
  trailseal_ledger *l = NULL;
  char *out = SENTINEL, *receipt = NULL;
  OK(trailseal_ledger_create(path, "example.com/ffi/raw", "blake3", true, 16, true, &l));

  const uint8_t zeros[5] = {0, 0, 0, 0, 0};
  OK(trailseal_ledger_append_raw(l, zeros, 5, &receipt));
  CHECK(u64_member(receipt, "index") == 0);
  CHECK(member(receipt, "time") == NULL); /* raw leaves have no time */
  trailseal_string_free(receipt);
  OK(trailseal_ledger_append_raw(l, NULL, 0, &receipt)); /* the empty leaf */
  CHECK(u64_member(receipt, "index") == 1);
  trailseal_string_free(receipt);

  const uint8_t a[] = "alpha", b[] = "be";
  const uint8_t *leaves[] = {a, NULL, b};
  size_t lens[] = {5, 0, 2};
  OK(trailseal_ledger_append_raw_batch(l, leaves, lens, 3, &receipt));
  {
    const char *it = receipt, *s, *en;
    int n = 0;
    while (next_elem(&it, &s, &en)) n++;
    CHECK(n == 3);
  }
  trailseal_string_free(receipt);
  OK(trailseal_ledger_append_raw_batch(l, NULL, NULL, 0, &receipt));
  STREQ(receipt, "[]");
  trailseal_string_free(receipt);
  CHECK(size_of(l) == 5);

  uint8_t *got = NULL;
  size_t got_len = 99;
  OK(trailseal_ledger_get_raw(l, 0, &got, &got_len));
  CHECK(got_len == 5 && memcmp(got, zeros, 5) == 0);
  trailseal_bytes_free(got, got_len);
  got = NULL;
  OK(trailseal_ledger_get_raw(l, 1, &got, &got_len));
  CHECK(got_len == 0 && got != NULL);
  trailseal_bytes_free(got, got_len);
  OK(trailseal_ledger_get_raw(l, 2, &got, &got_len));
  CHECK(got_len == 5 && memcmp(got, "alpha", 5) == 0);
  trailseal_bytes_free(got, got_len);

  /* The leaf hash of the empty leaf is H(0x00). */
  char *lh = NULL, *lh2 = NULL;
  OK(trailseal_ledger_leaf_hash(l, 1, &lh));
  OK(trailseal_leaf_hash("blake3", NULL, 0, &lh2));
  STREQ(lh, lh2);
  trailseal_string_free(lh);
  trailseal_string_free(lh2);

  /* Errors. */
  uint8_t big[17] = {0};
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT, trailseal_ledger_append_raw(l, big, 17, &out));
  MSG_HAS("17");
  const uint8_t *big_leaves[] = {a, big};
  size_t big_lens[] = {5, 17};
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_append_raw_batch(l, big_leaves, big_lens, 2, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_append_raw(l, NULL, 3, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_append_raw(NULL, a, 3, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_append_raw(l, a, 3, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_append_raw_batch(l, NULL, lens, 3, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_append_raw_batch(l, leaves, NULL, 3, &out));
  const uint8_t *holes[] = {a, NULL};
  size_t hole_lens[] = {5, 4};
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_append_raw_batch(l, holes, hole_lens, 2, &out));
  MSG_HAS("leaves[1]");
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_append_raw_batch(NULL, leaves, lens, 3, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_append_raw_batch(l, leaves, lens, 3, NULL));
  EXPECT(TRAILSEAL_STATUS_WRONG_KIND, trailseal_ledger_get(l, 0, &out));
  EXPECT(TRAILSEAL_STATUS_WRONG_KIND,
         trailseal_ledger_append(l, "{\"actor\":{\"id\":\"a\"},\"action\":\"a\",\"subject\":"
                                    "{\"type\":\"t\",\"id\":\"i\"}}",
                                 &out));
  EXPECT(TRAILSEAL_STATUS_WRONG_KIND, trailseal_ledger_append_batch(l, "[]", &out));
  /* A NULL hash names the core's default, sha256. */
  char *by_default = NULL, *by_name = NULL;
  OK(trailseal_leaf_hash(NULL, a, 1, &by_default));
  OK(trailseal_leaf_hash("sha256", a, 1, &by_name));
  STREQ(by_default, by_name);
  trailseal_string_free(by_default);
  trailseal_string_free(by_name);
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_leaf_hash("sha256", NULL, 1, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_leaf_hash("sha256", a, 1, NULL));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT, trailseal_leaf_hash("sha1", a, 1, &out));
  CHECK(out == SENTINEL);
  CHECK(size_of(l) == 5);

  trailseal_ledger_free(l);
  free(path);
}

/* ---- proofs, checkpoints, verify ------------------------------------------------------ */

struct progress {
  int calls;
  uint64_t done, total;
};

static void on_progress(void *userdata, uint64_t done, uint64_t total) {
  struct progress *p = userdata;
  p->calls++;
  p->done = done;
  p->total = total;
}

static void test_proofs_and_checkpoints(void) {
  trailseal_ledger *l = make_ledger("proofs.redb", "blake3", false, false);
  char *out = SENTINEL;
  for (int i = 0; i < 13; i++) {
    char *id = fmt("svc-%d", i);
    char *e = entry_json("deployer", "deploy.succeeded", id);
    char *r = NULL;
    OK(trailseal_ledger_append(l, e, &r));
    trailseal_string_free(r);
    free(e);
    free(id);
  }
  OK(trailseal_ledger_sync(l));

  trailseal_signer *signer = NULL, *other = NULL;
  OK(trailseal_signer_generate("example.com/ffi/test", &signer));
  OK(trailseal_signer_generate("example.com/ffi/other", &other));
  char *vkey = NULL, *other_vkey = NULL;
  OK(trailseal_signer_verifier_key(signer, &vkey));
  OK(trailseal_signer_verifier_key(other, &other_vkey));

  /* Inclusion proofs of every leaf at a few sizes, checked offline, with and without the
   * leaf bytes. */
  for (uint64_t size = 1; size <= 13; size += 4) {
    for (uint64_t i = 0; i < size; i++) {
      char *proof = NULL, *entry = NULL;
      OK(trailseal_ledger_prove_inclusion(l, i, size, &proof));
      CHECK(u64_member(proof, "index") == i && u64_member(proof, "tree_size") == size);
      OK(trailseal_verify_inclusion(proof, NULL, NULL));
      OK(trailseal_ledger_get(l, i, &entry));
      OK(trailseal_verify_inclusion_leaf(proof, (const uint8_t *)entry, strlen(entry), NULL,
                                         NULL));
      EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED,
             trailseal_verify_inclusion_leaf(proof, (const uint8_t *)entry, strlen(entry) - 1,
                                             NULL, NULL));
      char *bad = mutate_hex(proof, "root");
      EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_verify_inclusion(bad, NULL, NULL));
      free(bad);
      trailseal_string_free(proof);
      trailseal_string_free(entry);
    }
  }
  char *proof = NULL;
  OK(trailseal_ledger_prove_inclusion(l, 12, TRAILSEAL_SIZE_CURRENT, &proof));
  CHECK(u64_member(proof, "tree_size") == 13);
  char *path_bad = mutate_hex(proof, "path");
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_verify_inclusion(path_bad, NULL, NULL));
  free(path_bad);

  /* Consistency proofs. */
  for (uint64_t old = 0; old <= 13; old += 3) {
    char *cp = NULL;
    OK(trailseal_ledger_prove_consistency(l, old, TRAILSEAL_SIZE_CURRENT, &cp));
    CHECK(u64_member(cp, "old_size") == old && u64_member(cp, "new_size") == 13);
    OK(trailseal_verify_consistency(cp, NULL, NULL));
    if (old > 0) {
      char *bad = mutate_hex(cp, "old_root");
      EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_verify_consistency(bad, NULL, NULL));
      free(bad);
    }
    trailseal_string_free(cp);
  }

  /* Checkpoints: signed, kept, verifiable offline. */
  char *note8 = NULL, *note = NULL;
  OK(trailseal_ledger_checkpoint(l, signer, 8, &note8));
  OK(trailseal_ledger_checkpoint(l, signer, TRAILSEAL_SIZE_CURRENT, &note));
  CHECK(strncmp(note, "example.com/ffi/test\n13\n", 24) == 0);
  CHECK(strstr(note, "\n\n\xe2\x80\x94 example.com/ffi/test ") != NULL);
  char *info = NULL;
  OK(trailseal_verify_checkpoint(note, vkey, &info));
  CHECK(strstr(info, "\"origin\":\"example.com/ffi/test\"") != NULL);
  CHECK(u64_member(info, "size") == 13);
  CHECK(strstr(info, "\"extensions\":[]") != NULL);
  char *root = NULL, *cp_root = str_member(info, "root");
  OK(trailseal_ledger_root(l, TRAILSEAL_SIZE_CURRENT, &root));
  STREQ(cp_root, root);
  free(cp_root);
  trailseal_string_free(root);
  trailseal_string_free(info);

  char *list = NULL;
  OK(trailseal_ledger_checkpoints(l, &list));
  {
    const char *it = list, *s, *en;
    int n = 0;
    while (next_elem(&it, &s, &en)) {
      char *c = copy_span(s, en);
      char *n_note = str_member(c, "note"), *n_vkey = str_member(c, "verifier_key");
      STREQ(n_note, n == 0 ? note8 : note);
      STREQ(n_vkey, vkey);
      CHECK(u64_member(c, "size") == (n == 0 ? 8 : 13));
      free(n_note);
      free(n_vkey);
      free(c);
      n++;
    }
    CHECK(n == 2);
  }
  trailseal_string_free(list);

  /* Proofs against the signed checkpoint. */
  OK(trailseal_verify_inclusion(proof, note, vkey));
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_verify_inclusion(proof, note8, vkey));
  MSG_HAS("checkpoint");
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_verify_inclusion(proof, note, other_vkey));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT, trailseal_verify_inclusion(proof, note, NULL));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT, trailseal_verify_inclusion(proof, NULL, vkey));
  char *entry12 = NULL;
  OK(trailseal_ledger_get(l, 12, &entry12));
  OK(trailseal_verify_inclusion_leaf(proof, (const uint8_t *)entry12, strlen(entry12), note,
                                     vkey));
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED,
         trailseal_verify_inclusion_leaf(proof, (const uint8_t *)entry12, strlen(entry12), note8,
                                         vkey));
  char *cons = NULL;
  OK(trailseal_ledger_prove_consistency(l, 8, 13, &cons));
  OK(trailseal_verify_consistency(cons, note, vkey));
  OK(trailseal_verify_consistency(cons, note8, vkey)); /* either end */
  char *cons_3_5 = NULL;
  OK(trailseal_ledger_prove_consistency(l, 3, 5, &cons_3_5));
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_verify_consistency(cons_3_5, note, vkey));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT, trailseal_verify_consistency(cons, NULL, vkey));

  /* Whole-ledger verification. */
  char *report = NULL;
  OK(trailseal_ledger_verify(l, NULL, NULL, &report));
  CHECK(strstr(report, "\"ok\":true") != NULL);
  CHECK(u64_member(report, "size") == 13);
  CHECK(u64_member(report, "checkpoints_checked") == 2);
  CHECK(strstr(report, "\"consistent_with_checkpoint\":null") != NULL);
  /* Under 64 entries, every entry is in the query indexes' unindexed tail (queries read those
   * entries directly): no stored postings to check yet. By default only the indexes'
   * structure is checked. */
  unsigned long long postings = u64_member(report, "postings_checked");
  CHECK(postings == 0);
  CHECK(strstr(report, "\"indexes_checked\":false") != NULL);
  /* With no flags and no progress, verify_with_options is verify. */
  char *same = NULL;
  OK(trailseal_ledger_verify_with_options(l, NULL, NULL, 0, NULL, NULL, &same));
  STREQ(same, report);
  trailseal_string_free(same);
  trailseal_string_free(report);
  /* TRAILSEAL_VERIFY_INDEXES: every posting checked against its entry too. */
  OK(trailseal_ledger_verify_with_options(l, NULL, NULL, TRAILSEAL_VERIFY_INDEXES, NULL, NULL,
                                          &report));
  CHECK(strstr(report, "\"indexes_checked\":true") != NULL);
  CHECK(u64_member(report, "postings_checked") == postings);
  trailseal_string_free(report);
  OK(trailseal_ledger_verify(l, note8, vkey, &report));
  CHECK(u64_member(report, "consistent_with_checkpoint") == 8);
  trailseal_string_free(report);
  struct progress prog = {0, 0, 0};
  OK(trailseal_ledger_verify_with_progress(l, note, vkey, on_progress, &prog, &report));
  CHECK(prog.calls >= 1 && prog.done == 13 && prog.total == 13);
  CHECK(u64_member(report, "consistent_with_checkpoint") == 13);
  trailseal_string_free(report);
  prog = (struct progress){0, 0, 0};
  OK(trailseal_ledger_verify_with_options(l, note8, vkey, TRAILSEAL_VERIFY_INDEXES, on_progress,
                                          &prog, &report));
  CHECK(prog.calls >= 1 && prog.done == 13 && prog.total == 13);
  CHECK(u64_member(report, "consistent_with_checkpoint") == 8);
  CHECK(strstr(report, "\"indexes_checked\":true") != NULL);
  trailseal_string_free(report);

  /* Checkpoint and verify errors. */
  char *forged = xstrdup(note);
  forged[strlen("example.com/ffi/test\n1")] = '2'; /* size 13 -> 23 in the signed body */
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_verify_checkpoint(forged, vkey, &out));
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_ledger_verify(l, forged, vkey, &out));
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_verify_inclusion(proof, forged, vkey));
  free(forged);
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED,
         trailseal_verify_checkpoint(note, other_vkey, &out));
  MSG_HAS("no signature from a known key");
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_verify_checkpoint(note, "not a key", &out));
  /* Cosigned checkpoints (the vectors are replayed by the Go tests): with no witness asked
   * for, the log's own signature is all that counts. */
  char *cosigned = NULL;
  OK(trailseal_verify_cosigned(note, vkey, "[]", 0, &cosigned));
  CHECK(strstr(cosigned, "\"cosignatures\":[]") != NULL);
  trailseal_string_free(cosigned);
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_verify_cosigned(note, other_vkey, "[]", 0, &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_verify_cosigned(note, vkey, "{}", 0, &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_verify_cosigned(note, vkey, "[1]", 0, &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_verify_cosigned(note, vkey, "[\"not a key\"]", 1, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_verify_cosigned(note, vkey, "[]", 0, NULL));
  /* Time-stamp tokens (the OpenSSL-made vectors are replayed by the Go tests). */
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_verify_timestamp_token((const uint8_t *)"\x30\x03", 2, (const uint8_t *)note,
                                          strlen(note), "not a certificate", &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_verify_timestamp_token(NULL, 5, (const uint8_t *)note, strlen(note), "x", &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_verify_timestamp_token(NULL, 0, NULL, 0, "x", NULL));
  /* Key rotation (Go rotates twice and verifies): refusals, and a ledger created without a
   * key has none in force. */
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_rotate_key(l, NULL, signer, "x", &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_rotate_key(l, signer, other, NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_rotate_key(l, signer, other, "x", NULL));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT, trailseal_ledger_rotate_key(l, signer, signer, "x", &out));
  char *in_force = SENTINEL;
  OK(trailseal_ledger_verifier_key(l, &in_force));
  CHECK(in_force == NULL);
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_verifier_key(l, NULL));
  /* Witnesses and trusted time (Go runs them against a real witness and TSA): refusals made
   * before any request. The witness key is the first of tests/vectors/cosignature.json. */
  const char *wkey = "w1.example+89d3dde6+BIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c";
  char witnesses[256];
  snprintf(witnesses, sizeof witnesses, "[[\"http://127.0.0.1:9\", \"%s\"]]", wkey);
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_witness(l, signer, witnesses, -1, 1.0, &out));
  MSG_HAS("SHA-256");
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_witness(l, signer, witnesses, -1, 0.0, &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_witness(l, signer, witnesses, 2, 1.0, &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_witness(l, signer, "[[\"http://x\"]]", -1, 1.0, &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_witness(l, signer, "{}", -1, 1.0, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_witness(l, NULL, witnesses, -1, 1.0, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_witness(l, signer, witnesses, -1, 1.0, NULL));
  char wkeys[128];
  snprintf(wkeys, sizeof wkeys, "[\"%s\"]", wkey);
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED,
         trailseal_ledger_verify_witnessed(l, NULL, NULL, 0, wkeys, -1, NULL, NULL, &out));
  MSG_HAS("cosignatures from 1 of the given witnesses");
  OK(trailseal_ledger_verify_witnessed(l, NULL, NULL, 0, NULL, -1, NULL, NULL, &report));
  CHECK(strstr(report, "\"witnessed_size\":null") != NULL);
  trailseal_string_free(report);
  OK(trailseal_ledger_verify_witnessed(l, NULL, NULL, 0, wkeys, 0, NULL, NULL, &report));
  trailseal_string_free(report);
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_verify_witnessed(l, NULL, NULL, 0, "[1]", -1, NULL, NULL, &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_timestamp_checkpoint(l, "http://127.0.0.1:9", "x", 0, NULL, -1.0, &out));
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE,
         trailseal_ledger_timestamp_checkpoint(l, "http://127.0.0.1:9", "x", 999, NULL, 1.0, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_timestamp_checkpoint(l, NULL, "x", 0, NULL, 1.0, &out));
  uint8_t *token = (uint8_t *)"untouched";
  size_t token_len = 42;
  OK(trailseal_ledger_checkpoint_timestamp(l, 0, &token, &token_len));
  CHECK(token == NULL && token_len == 0);
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_checkpoint_timestamp(l, 0, NULL, &token_len));
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_verify_bundle_with_tsa((const uint8_t *)"{}", 2, vkey, "x", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_verify_checkpoint("no signature\n", vkey, &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_verify(l, note, "not a key", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_verify(l, "junk", vkey, &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT, trailseal_ledger_verify(l, note, NULL, &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT, trailseal_ledger_verify(l, NULL, vkey, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_verify(NULL, NULL, NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_verify(l, NULL, NULL, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_verify_with_progress(l, NULL, NULL, NULL, NULL, &out));
  MSG_HAS("progress");
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_verify_with_progress(NULL, NULL, NULL, on_progress, NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_verify_with_progress(l, NULL, NULL, on_progress, NULL, NULL));
  /* An unknown flag bit is refused, not ignored. */
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_verify_with_options(l, NULL, NULL, 2, NULL, NULL, &out));
  MSG_HAS("flags");
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_verify_with_options(l, NULL, NULL, TRAILSEAL_VERIFY_INDEXES | 0x80000000u,
                                              NULL, NULL, &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_verify_with_options(l, note, NULL, TRAILSEAL_VERIFY_INDEXES, NULL, NULL,
                                              &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_verify_with_options(l, note, "not a key", 0, NULL, NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_verify_with_options(NULL, NULL, NULL, 0, NULL, NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_verify_with_options(l, NULL, NULL, TRAILSEAL_VERIFY_INDEXES, NULL, NULL,
                                              NULL));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8, trailseal_ledger_verify(l, "\xff", vkey, &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8, trailseal_verify_checkpoint(note, "\xff", &out));
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_checkpoint(l, signer, 14, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_checkpoint(l, NULL, 1, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_checkpoint(NULL, signer, 1, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_checkpoint(l, signer, 1, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_checkpoints(NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_checkpoints(l, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_verify_checkpoint(NULL, vkey, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_verify_checkpoint(note, NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_verify_checkpoint(note, vkey, NULL));
  /* A refused checkpoint is not kept. */
  OK(trailseal_ledger_checkpoints(l, &list));
  {
    const char *it = list, *s, *en;
    int n = 0;
    while (next_elem(&it, &s, &en)) n++;
    CHECK(n == 2);
  }
  trailseal_string_free(list);

  /* Proof errors. */
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_prove_inclusion(l, 13, 13, &out));
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_prove_inclusion(l, 0, 14, &out));
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_prove_inclusion(l, 0, 0, &out));
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_prove_consistency(l, 6, 5, &out));
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_prove_consistency(l, 1, 14, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_prove_inclusion(NULL, 0, 1, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_prove_inclusion(l, 0, 1, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_prove_consistency(NULL, 0, 1, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_prove_consistency(l, 0, 1, NULL));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_verify_inclusion("{}", NULL, NULL));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_verify_inclusion("not json", NULL, NULL));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_verify_consistency(proof, NULL, NULL));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_verify_inclusion(cons, NULL, NULL));
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_verify_inclusion("{\"hash\":\"md5\",\"index\":0,\"tree_size\":1,\"leaf_hash\":"
                                    "\"00\",\"root\":\"00\",\"path\":[]}",
                                    NULL, NULL));
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE,
         trailseal_verify_inclusion(
             "{\"hash\":\"sha256\",\"index\":5,\"tree_size\":2,\"leaf_hash\":"
             "\"0000000000000000000000000000000000000000000000000000000000000000\",\"root\":"
             "\"0000000000000000000000000000000000000000000000000000000000000000\",\"path\":[]}",
             NULL, NULL));
  /* A path of the wrong length: well formed, it just does not verify. */
  char *short_proof = NULL;
  OK(trailseal_ledger_prove_inclusion(l, 0, 1, &short_proof));
  {
    char *p = strstr(short_proof, "\"tree_size\":1");
    CHECK(p != NULL);
    if (p) p[12] = '2'; /* tree size 2 needs a path of one hash */
    EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED,
           trailseal_verify_inclusion(short_proof, NULL, NULL));
  }
  trailseal_string_free(short_proof);
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_verify_inclusion(NULL, NULL, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_verify_inclusion_leaf(NULL, NULL, 0, NULL, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_verify_inclusion_leaf(proof, NULL, 3, NULL, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_verify_consistency(NULL, NULL, NULL));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8, trailseal_verify_inclusion("\xff", NULL, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_canonical_json(NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_canonical_json("{}", NULL));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_canonical_json("[", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_canonical_json("{\"a\":1,\"a\":1}", &out));
  CHECK(out == SENTINEL);
  char *c = NULL;
  OK(trailseal_canonical_json("{ \"b\" : [1.0, 2e3, \"\\u00e9\"], \"a\" : null }", &c));
  STREQ(c, "{\"a\":null,\"b\":[1,2000,\"\xc3\xa9\"]}");
  trailseal_string_free(c);

  trailseal_string_free(entry12);
  trailseal_string_free(cons);
  trailseal_string_free(cons_3_5);
  trailseal_string_free(proof);
  trailseal_string_free(note8);
  trailseal_string_free(note);
  trailseal_string_free(vkey);
  trailseal_string_free(other_vkey);
  trailseal_signer_free(signer);
  trailseal_signer_free(other);
  trailseal_ledger_free(l);
}

/* ---- tampering, rollback, forks ---------------------------------------------------------- */

/* Replaces every occurrence of `from` in the file by `to` (same length); returns the count. */
static int edit_file(const char *path, const char *from, const char *to) {
  size_t len = 0;
  char *data = read_file(path, &len);
  int n = 0;
  if (!data) return 0;
  size_t flen = strlen(from);
  for (char *p = data; (p = memmem(p, len - (size_t)(p - data), from, flen)) != NULL; p += flen) {
    memcpy(p, to, flen);
    n++;
  }
  write_file(path, data, len);
  free(data);
  return n;
}

static void test_tampering(void) {
  char *path = wpath("tamper.redb");
  trailseal_ledger *l = NULL, *fork = NULL;
  trailseal_signer *signer = NULL;
  char *vkey = NULL, *note = NULL, *r = NULL, *out = SENTINEL;
  OK(trailseal_signer_generate("example.com/ffi/tamper", &signer));
  OK(trailseal_signer_verifier_key(signer, &vkey));
  OK(trailseal_ledger_create(path, "example.com/ffi/tamper", "sha256", false, 0, true, &l));
  for (int i = 0; i < 4; i++) {
    char *id = fmt("tamper-me-%d", i);
    char *e = entry_json("alice", "deploy.succeeded", id);
    OK(trailseal_ledger_append(l, e, &r));
    trailseal_string_free(r);
    free(e);
    free(id);
  }
  OK(trailseal_ledger_checkpoint(l, signer, TRAILSEAL_SIZE_CURRENT, &note));

  /* A fork: another ledger with the same origin and other content. */
  char *fork_path = wpath("fork.redb");
  OK(trailseal_ledger_create(fork_path, "example.com/ffi/tamper", "sha256", false, 0, true,
                             &fork));
  for (int i = 0; i < 5; i++) {
    char *e = entry_json("mallory", "deploy.succeeded", "other");
    OK(trailseal_ledger_append(fork, e, &r));
    trailseal_string_free(r);
    free(e);
  }
  EXPECT(TRAILSEAL_STATUS_INCONSISTENT, trailseal_ledger_verify(fork, note, vkey, &out));
  MSG_HAS("forked");
  trailseal_ledger_free(fork);
  /* A rollback: the checkpoint commits to more than the ledger holds. */
  char *short_path = wpath("short.redb");
  OK(trailseal_ledger_create(short_path, "example.com/ffi/tamper", "sha256", false, 0, true,
                             &fork));
  EXPECT(TRAILSEAL_STATUS_INCONSISTENT, trailseal_ledger_verify(fork, note, vkey, &out));
  MSG_HAS("rolled back");
  trailseal_ledger_free(fork);
  /* Another log's checkpoint. */
  char *other_path = wpath("other-origin.redb");
  OK(trailseal_ledger_create(other_path, "example.com/ffi/elsewhere", "sha256", false, 0, true,
                             &fork));
  EXPECT(TRAILSEAL_STATUS_INCONSISTENT, trailseal_ledger_verify(fork, note, vkey, &out));
  trailseal_ledger_free(fork);

  /* Flip a byte of a stored entry behind the library's back. */
  trailseal_ledger_free(l);
  CHECK(edit_file(path, "tamper-me-2", "tamper-mE-2") >= 1);
  l = NULL;
  OK(trailseal_ledger_open(path, 0, true, &l));
  EXPECT(TRAILSEAL_STATUS_TAMPERED, trailseal_ledger_verify(l, NULL, NULL, &out));
  /* Under 64 leaves no leaf hash is stored (tiles are stored complete): the leaves hash to
   * another root, and the message names the range. */
  MSG_HAS("one of leaves 0..");
  EXPECT(TRAILSEAL_STATUS_TAMPERED, trailseal_ledger_verify(l, note, vkey, &out));
  /* Reading is not verifying: the edited entry is still readable. */
  char *e2 = NULL;
  OK(trailseal_ledger_get(l, 2, &e2));
  CHECK(strstr(e2, "tamper-mE-2") != NULL);
  /* Its old inclusion proof does not accept the edited bytes. */
  char *proof = NULL;
  OK(trailseal_ledger_prove_inclusion(l, 2, TRAILSEAL_SIZE_CURRENT, &proof));
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED,
         trailseal_verify_inclusion_leaf(proof, (const uint8_t *)e2, strlen(e2), note, vkey));
  trailseal_string_free(proof);
  trailseal_string_free(e2);
  CHECK(out == SENTINEL);

  trailseal_ledger_free(l);
  trailseal_signer_free(signer);
  trailseal_string_free(vkey);
  trailseal_string_free(note);
  free(path);
  free(fork_path);
  free(short_path);
  free(other_path);
}

/* ---- threads ------------------------------------------------------------------------ */

struct worker {
  trailseal_ledger *l;
  int id;
  int ok;
  char message_seen[64];
};

static void *append_worker(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < 8; i++) {
    char *subject = fmt("w%d-%d", w->id, i);
    char *e = entry_json("worker", "job.finished", subject);
    char *r = NULL;
    if (trailseal_ledger_append(w->l, e, &r) == TRAILSEAL_STATUS_OK) w->ok++;
    trailseal_string_free(r);
    free(e);
    free(subject);
  }
  /* This thread's failure does not touch the main thread's last error message. */
  char *out = NULL;
  trailseal_ledger_get(w->l, 1u << 30, &out);
  snprintf(w->message_seen, sizeof w->message_seen, "%s", trailseal_last_error_message());
  return NULL;
}

static void test_threads(void) {
  trailseal_ledger *l = make_ledger("threads.redb", NULL, false, false);
  char *out = NULL;
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_append(l, "nope", &out));
  char *main_msg = xstrdup(trailseal_last_error_message());
  enum { N = 4 };
  pthread_t t[N];
  struct worker w[N];
  for (int i = 0; i < N; i++) {
    w[i] = (struct worker){l, i, 0, ""};
    CHECK(pthread_create(&t[i], NULL, append_worker, &w[i]) == 0);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(t[i], NULL);
    CHECK(w[i].ok == 8);
    CHECK(strstr(w[i].message_seen, "out of range") != NULL);
  }
  STREQ(trailseal_last_error_message(), main_msg);
  free(main_msg);
  CHECK(size_of(l) == N * 8);
  char *report = NULL;
  OK(trailseal_ledger_verify(l, NULL, NULL, &report));
  trailseal_string_free(report);
  trailseal_ledger_free(l);
}

/* ---- conformance vectors --------------------------------------------------------------- */

static char *vector_file(const char *name) {
  char *path = fmt("%s/tests/vectors/%s", repo, name);
  char *text = read_file(path, NULL);
  if (!text) fail_msg(__LINE__, "cannot read %s", path);
  free(path);
  return text;
}

static int vector_checks;

static void test_merkle_vectors(const char *file) {
  char *text = vector_file(file);
  if (!text) return;
  char *hash = str_member(text, "hash");
  char *empty_root = str_member(text, "empty_root");
  /* The leaves, into a raw ledger of that hash: first one by one, then as a batch. */
  enum { MAXL = 64 };
  unsigned char *leaves[MAXL];
  size_t lens[MAXL];
  int n = 0;
  const char *it = member(text, "leaves_hex"), *s, *e;
  while (n < MAXL && next_elem(&it, &s, &e)) {
    char *hex = decode_string(s);
    leaves[n] = unhex(hex, &lens[n]);
    free(hex);
    n++;
  }
  CHECK(n == 20);
  char *name = fmt("vectors-%s.redb", hash);
  trailseal_ledger *l = make_ledger(name, hash, true, false);
  free(name);
  char *r = NULL;
  for (int i = 0; i < n / 2; i++) {
    OK(trailseal_ledger_append_raw(l, leaves[i], lens[i], &r));
    trailseal_string_free(r);
  }
  OK(trailseal_ledger_append_raw_batch(l, (const uint8_t *const *)(leaves + n / 2), lens + n / 2,
                                       (size_t)(n - n / 2), &r));
  trailseal_string_free(r);

  /* Roots of every size. */
  char *root = NULL;
  OK(trailseal_ledger_root(l, 0, &root));
  STREQ(root, empty_root);
  trailseal_string_free(root);
  it = member(text, "roots");
  uint64_t size = 1;
  while (next_elem(&it, &s, &e)) {
    char *want = decode_string(s);
    OK(trailseal_ledger_root(l, size, &root));
    STREQ(root, want);
    trailseal_string_free(root);
    free(want);
    size++;
    vector_checks++;
  }
  CHECK(size == 21);

  /* Every inclusion proof: verifies offline as given, with its leaf; the ledger makes the same
   * proof; a changed root or path, or another leaf, is refused. */
  int count = 0;
  it = member(text, "inclusion");
  while (next_elem(&it, &s, &e)) {
    char *p = copy_span(s, e);
    uint64_t index = u64_member(p, "index"), tree_size = u64_member(p, "tree_size");
    OK(trailseal_verify_inclusion(p, NULL, NULL));
    OK(trailseal_verify_inclusion_leaf(p, leaves[index], lens[index], NULL, NULL));
    EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED,
           trailseal_verify_inclusion_leaf(p, leaves[(index + 1) % 20], lens[(index + 1) % 20],
                                           NULL, NULL));
    char *mine = NULL;
    OK(trailseal_ledger_prove_inclusion(l, index, tree_size, &mine));
    SAME_JSON(mine, p);
    trailseal_string_free(mine);
    char *bad = mutate_hex(p, "root");
    EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_verify_inclusion(bad, NULL, NULL));
    free(bad);
    if (tree_size > 1) {
      bad = mutate_hex(p, "path");
      EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_verify_inclusion(bad, NULL, NULL));
      free(bad);
    }
    free(p);
    count++;
    vector_checks++;
  }
  CHECK(count == 210);

  count = 0;
  it = member(text, "consistency");
  while (next_elem(&it, &s, &e)) {
    char *p = copy_span(s, e);
    uint64_t old = u64_member(p, "old_size"), new_size = u64_member(p, "new_size");
    OK(trailseal_verify_consistency(p, NULL, NULL));
    char *mine = NULL;
    OK(trailseal_ledger_prove_consistency(l, old, new_size, &mine));
    SAME_JSON(mine, p);
    trailseal_string_free(mine);
    char *bad = mutate_hex(p, "new_root");
    EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_verify_consistency(bad, NULL, NULL));
    free(bad);
    free(p);
    count++;
    vector_checks++;
  }
  CHECK(count == 210);

  for (int i = 0; i < n; i++) free(leaves[i]);
  free(hash);
  free(empty_root);
  free(text);
  trailseal_ledger_free(l);
}

/* The RFC 6962 test leaves into a raw SHA-256 ledger (origin given); checks the published
 * roots when `check` is set. */
static trailseal_ledger *rfc6962_ledger(const char *file_name, const char *origin, int check) {
  char *text = vector_file("rfc6962-classic.json");
  if (!text) return NULL;
  char *path = wpath(file_name);
  trailseal_ledger *l = NULL;
  OK(trailseal_ledger_create(path, origin, "sha256", true, 0, false, &l));
  free(path);
  const char *it = member(text, "leaves_hex"), *s, *e;
  char *r = NULL;
  int n = 0;
  while (next_elem(&it, &s, &e)) {
    char *hex = decode_string(s);
    size_t len;
    unsigned char *leaf = unhex(hex, &len);
    /* The first leaf is empty: passed as NULL with length 0. */
    OK(trailseal_ledger_append_raw(l, len ? leaf : NULL, len, &r));
    trailseal_string_free(r);
    free(leaf);
    free(hex);
    n++;
  }
  if (check) {
    CHECK(n == 8);
    const char *roots = member(text, "roots_by_size");
    for (int size = 0; size <= 8; size++) {
      char key[4];
      snprintf(key, sizeof key, "%d", size);
      char *want = str_member(roots, key), *root = NULL;
      OK(trailseal_ledger_root(l, (uint64_t)size, &root));
      STREQ(root, want);
      trailseal_string_free(root);
      free(want);
      vector_checks++;
    }
  }
  free(text);
  return l;
}

static void test_note_vectors(void) {
  trailseal_ledger *rfc = rfc6962_ledger("rfc6962.redb", "example.com/ffi/rfc6962", 1);
  trailseal_ledger_free(rfc);

  char *text = vector_file("signed-note.json");
  if (!text) return;
  const char *it = member(text, "vectors"), *s, *e;
  int n = 0, reproduced = 0;
  while (next_elem(&it, &s, &e)) {
    char *v = copy_span(s, e);
    char *skey = str_member(v, "signer_key"), *vkey = str_member(v, "verifier_key");
    char *body = str_member(v, "body"), *note = str_member(v, "signed_note");

    /* Keys: parse, print back byte for byte. */
    trailseal_signer *signer = NULL;
    OK(trailseal_signer_from_string(skey, &signer));
    char *skey2 = NULL, *vkey2 = NULL;
    OK(trailseal_signer_to_string(signer, &skey2));
    OK(trailseal_signer_verifier_key(signer, &vkey2));
    STREQ(skey2, skey);
    STREQ(vkey2, vkey);
    trailseal_string_free(skey2);
    trailseal_string_free(vkey2);

    /* Go's signed note verifies, and commits to what its body says. */
    char *info = NULL;
    OK(trailseal_verify_checkpoint(note, vkey, &info));
    char *origin = NULL;
    {
      const char *nl = strchr(body, '\n');
      origin = copy_span(body, nl);
      char *want_origin = str_member(info, "origin");
      STREQ(want_origin, origin);
      free(want_origin);
      CHECK(u64_member(info, "size") == strtoull(nl + 1, NULL, 10));
    }
    int lines = 0;
    for (const char *p = body; *p; p++) lines += *p == '\n';
    const char *ext = member(info, "extensions");
    CHECK(ext && (lines > 3) == (ext[1] != ']'));
    trailseal_string_free(info);

    /* A changed body, or another key, is refused. */
    char *forged = xstrdup(note);
    forged[0] = forged[0] == 'x' ? 'y' : 'x';
    EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED, trailseal_verify_checkpoint(forged, vkey, &info));
    free(forged);

    /* Where trailseal can make the same tree (the empty SHA-256 tree, or the RFC 6962 tree of
     * 8 leaves), a checkpoint it signs is Go's note byte for byte. */
    trailseal_ledger *l = NULL;
    uint64_t size = strtoull(strchr(body, '\n') + 1, NULL, 10);
    char *file = fmt("note-vector-%d.redb", n);
    if (lines == 3 && size == 0 &&
        strstr(body, "\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")) {
      char *path = wpath(file);
      OK(trailseal_ledger_create(path, origin, "sha256", false, 0, false, &l));
      free(path);
    } else if (lines == 3 && size == 8 &&
               strstr(body, "\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n")) {
      l = rfc6962_ledger(file, origin, 0);
    }
    if (l) {
      char *mine = NULL;
      OK(trailseal_ledger_checkpoint(l, signer, TRAILSEAL_SIZE_CURRENT, &mine));
      STREQ(mine, note);
      trailseal_string_free(mine);
      trailseal_ledger_free(l);
      reproduced++;
    }
    free(file);
    free(origin);
    trailseal_signer_free(signer);
    free(skey);
    free(vkey);
    free(body);
    free(note);
    free(v);
    n++;
    vector_checks++;
  }
  CHECK(n == 6);
  CHECK(reproduced == 4);
  free(text);
}

/* ---- exchange with the trailseal command ---------------------------------------------- */

/* ---- the auditor's questions, on the example delivery history ------------------------- */

#define HISTORY_ORIGIN "example.com/payments/audit"

/* The entries examples/history.sh records (every line of it starting with '{'), as the JSON
 * text of an array; core/tests/audit.rs reads the same lines. */
static char *history_batch(void) {
  char *path = fmt("%s/examples/history.sh", repo);
  char *text = read_file(path, NULL);
  free(path);
  if (!text) return NULL;
  char *out = malloc(strlen(text) + 3), *o = out, *save = NULL;
  *o++ = '[';
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (line[0] != '{') continue;
    if (o > out + 1) *o++ = ',';
    size_t n = strlen(line);
    memcpy(o, line, n);
    o += n;
  }
  *o++ = ']';
  *o = '\0';
  free(text);
  return out;
}

static trailseal_ledger *history_ledger(const char *name) {
  trailseal_ledger *l = NULL;
  char *path = wpath(name), *batch = history_batch(), *receipts = NULL;
  CHECK(batch != NULL);
  OK(trailseal_ledger_create(path, HISTORY_ORIGIN, "sha256", false, 0, false, &l));
  OK(trailseal_ledger_append_batch(l, batch ? batch : "[]", &receipts));
  trailseal_string_free(receipts);
  free(batch);
  free(path);
  CHECK(size_of(l) == 27);
  return l;
}

/* The `index` of each element of the array `key` of obj, joined by commas ("" if none). */
static char *index_list(const char *obj, const char *key) {
  char *out = xstrdup("");
  const char *arr = member(obj, key);
  if (!arr || *arr != '[') return out;
  const char *it = arr, *s, *e;
  while (next_elem(&it, &s, &e)) {
    char *el = copy_span(s, e);
    char *n = fmt("%s%s%llu", out, *out ? "," : "", u64_member(el, "index"));
    free(el);
    free(out);
    out = n;
  }
  return out;
}

/* A trace's nodes as "index:[links],...". */
static char *trace_shape(const char *trace) {
  char *out = xstrdup("");
  const char *arr = member(trace, "nodes"), *s, *e;
  if (!arr) return out;
  while (next_elem(&arr, &s, &e)) {
    char *el = copy_span(s, e);
    const char *links = member(el, "links");
    char *lt = links ? copy_span(links, skip_value(links)) : xstrdup("?");
    char *n = fmt("%s%s%llu:%s", out, *out ? "," : "", u64_member(el, "index"), lt);
    free(lt);
    free(el);
    free(out);
    out = n;
  }
  return out;
}

/* The raw JSON text of member `key` of obj (a new string), or NULL. */
static char *member_text(const char *obj, const char *key) {
  const char *v = member(obj, key);
  return v ? copy_span(v, skip_value(v)) : NULL;
}

static void expect_query(const trailseal_ledger *l, const char *q, const char *want, int line) {
  char *page = NULL;
  trailseal_status st = trailseal_ledger_query(l, q, &page);
  if (st != TRAILSEAL_STATUS_OK) {
    fail_msg(line, "query %s: status %s: %s", q, trailseal_status_name(st),
             trailseal_last_error_message());
    return;
  }
  char *got = index_list(page, "entries");
  if (strcmp(got, want) != 0 || !strstr(page, "\"next_cursor\":null"))
    fail_msg(line, "query %s: [%s], want [%s] (%s)", q, got, want, page);
  else
    passed++;
  free(got);
  trailseal_string_free(page);
}
#define QUERY(l, q, want) expect_query((l), (q), (want), __LINE__)

/* The bundle's entries, as verify_bundle proves them ("" and a failure if it does not). */
static char *bundle_entries(const char *bundle, const char *vkey, int line) {
  char *report = NULL;
  trailseal_status st =
      trailseal_verify_bundle((const uint8_t *)bundle, strlen(bundle), vkey, &report);
  if (st != TRAILSEAL_STATUS_OK) {
    fail_msg(line, "verify_bundle: status %s: %s", trailseal_status_name(st),
             trailseal_last_error_message());
    return xstrdup("");
  }
  passed++;
  char *got = index_list(report, "entries");
  trailseal_string_free(report);
  return got;
}

/* Bundles sel with signer and checks it holds exactly `want`. */
static void expect_bundle(const trailseal_ledger *l, const char *sel,
                          const trailseal_signer *signer, const char *vkey, const char *want,
                          int line) {
  char *bundle = NULL;
  trailseal_status st = trailseal_ledger_bundle(l, sel, signer, &bundle);
  if (st != TRAILSEAL_STATUS_OK) {
    fail_msg(line, "bundle %s: status %s: %s", sel, trailseal_status_name(st),
             trailseal_last_error_message());
    return;
  }
  char *got = bundle_entries(bundle, vkey, line);
  if (strcmp(got, want) != 0)
    fail_msg(line, "bundle %s holds [%s], want [%s]", sel, got, want);
  else
    passed++;
  free(got);
  trailseal_string_free(bundle);
}
#define BUNDLE(sel, want) expect_bundle(l, (sel), signer, vkey, (want), __LINE__)

static const char *GATE_2 =
    "{\"passed\":true,\"requirements\":["
    "{\"name\":\"min_approvals\",\"met\":true,\"evidence\":[7,8]},"
    "{\"name\":\"forbid_self_approval\",\"met\":true,\"evidence\":[2,3,6]},"
    "{\"name\":\"test.passed\",\"met\":true,\"evidence\":[4]},"
    "{\"name\":\"scan.passed\",\"met\":true,\"evidence\":[5]}]}";
static const char *GATE_3 =
    "{\"passed\":true,\"requirements\":["
    "{\"name\":\"min_approvals\",\"met\":true,\"evidence\":[16,17]},"
    "{\"name\":\"forbid_self_approval\",\"met\":true,\"evidence\":[10,11,14]},"
    "{\"name\":\"test.passed\",\"met\":true,\"evidence\":[12]},"
    "{\"name\":\"scan.passed\",\"met\":true,\"evidence\":[13]}]}";
static const char *GATE_4 =
    "{\"passed\":false,\"requirements\":["
    "{\"name\":\"min_approvals\",\"met\":false,\"evidence\":[26]},"
    "{\"name\":\"forbid_self_approval\",\"met\":false,\"evidence\":[20,21,24,25]},"
    "{\"name\":\"test.passed\",\"met\":true,\"evidence\":[23]},"
    "{\"name\":\"scan.passed\",\"met\":false,\"evidence\":[]}]}";
static const char *REPORT_ALL =
    "{\"since\":null,"
    "\"approval_latency\":{\"waits\":7,\"median_seconds\":5400,\"p90_seconds\":86400},"
    "\"waits\":["
    "{\"subject\":\"release:2026.11.2\",\"request\":6,\"approval\":7,\"approver\":\"bob\","
    "\"seconds\":3600},"
    "{\"subject\":\"release:2026.11.2\",\"request\":6,\"approval\":8,\"approver\":\"carol\","
    "\"seconds\":10800},"
    "{\"subject\":\"release:2026.11.3\",\"request\":14,\"approval\":15,\"approver\":\"dave\","
    "\"seconds\":1200},"
    "{\"subject\":\"release:2026.11.3\",\"request\":14,\"approval\":16,\"approver\":\"bob\","
    "\"seconds\":5400},"
    "{\"subject\":\"release:2026.11.3\",\"request\":14,\"approval\":17,\"approver\":\"carol\","
    "\"seconds\":86400},"
    "{\"subject\":\"release:2026.11.4\",\"request\":24,\"approval\":25,\"approver\":\"alice\","
    "\"seconds\":1800},"
    "{\"subject\":\"release:2026.11.4\",\"request\":24,\"approval\":26,\"approver\":\"bob\","
    "\"seconds\":14400}],"
    "\"approvals_by_approver\":[{\"approver\":\"bob\",\"approvals\":3},"
    "{\"approver\":\"carol\",\"approvals\":2},{\"approver\":\"alice\",\"approvals\":1},"
    "{\"approver\":\"dana\",\"approvals\":1},{\"approver\":\"dave\",\"approvals\":1}],"
    "\"weeks\":[{\"week\":\"2026-W44\",\"changes\":0,\"break_glass\":0,\"approvals\":1},"
    "{\"week\":\"2026-W45\",\"changes\":1,\"break_glass\":0,\"approvals\":2},"
    "{\"week\":\"2026-W46\",\"changes\":2,\"break_glass\":1,\"approvals\":3},"
    "{\"week\":\"2026-W47\",\"changes\":0,\"break_glass\":0,\"approvals\":2}]}";

static void test_audit_queries(const trailseal_ledger *l, const trailseal_ledger *raw) {
  char *out = SENTINEL;
  /* "Every change to X / everything alice did / every break-glass action in Q3." */
  QUERY(l, "{\"subject\":\"service:payments-api\"}", "22,19,18,9");
  QUERY(l, "{\"actor\":\"alice\"}", "25,24,20,14,10");
  QUERY(l, "{\"via\":\"alice\"}", "21,11");
  QUERY(l, "{\"decision\":\"break_glass\"}", "22");
  QUERY(l, "{\"refs\":[\"git:4f2a9c1\"],\"order\":\"oldest\"}", "11,14");
  QUERY(l, "{\"refs\":\"git:4f2a9c1\"}", "14,11");
  QUERY(l, "{\"action\":\"deploy.succeeded\",\"attrs\":{\"env\":\"prod\"},\"order\":\"oldest\"}",
        "9,18,22");
  QUERY(l, "{\"action\":\"approval.granted\",\"subject\":\"release:2026.11.3\",\"order\":"
           "\"oldest\"}",
        "15,16,17");
  QUERY(l, "{\"links_to\":14}", "18,17,16,15");
  QUERY(l, "{\"policy\":\"release-two-person\",\"actor\":\"deploy-bot\"}", "18,9");
  QUERY(l, "{\"decision\":\"break_glass\",\"until\":\"2026-10-01T00:00:00Z\"}", "");
  QUERY(l, "{\"decision\":\"break_glass\",\"since\":\"2000-01-01T00:00:00+02:00\"}", "22");
  QUERY(l, "{\"actor\":\"nobody\"}", "");
  QUERY(l, "{\"actor\":null,\"decision\":\"break_glass\",\"limit\":null}", "22");

  /* Pages of three approvals, newest first, continued with next_cursor. */
  char *page = NULL, *cursor = NULL, *got = NULL;
  OK(trailseal_ledger_query(l, "{\"action\":\"approval.granted\",\"limit\":3}", &page));
  got = index_list(page, "entries");
  STREQ(got, "26,25,17");
  cursor = str_member(page, "next_cursor");
  STREQ(cursor, "17");
  free(got);
  trailseal_string_free(page);
  char *q = fmt("{\"action\":\"approval.granted\",\"limit\":3,\"cursor\":\"%s\"}", cursor);
  OK(trailseal_ledger_query(l, q, &page));
  got = index_list(page, "entries");
  STREQ(got, "16,15,8");
  free(cursor);
  cursor = str_member(page, "next_cursor");
  STREQ(cursor, "8");
  free(got);
  free(q);
  trailseal_string_free(page);
  q = fmt("{\"action\":\"approval.granted\",\"limit\":3,\"cursor\":\"%s\"}", cursor);
  OK(trailseal_ledger_query(l, q, &page));
  got = index_list(page, "entries");
  STREQ(got, "7,1");
  CHECK(strstr(page, "\"next_cursor\":null") != NULL);
  free(got);
  free(q);
  free(cursor);
  trailseal_string_free(page);

  /* Entries as recorded: the page holds {"index", "entry"} with the entry's JSON. */
  OK(trailseal_ledger_query(l, "{\"decision\":\"break_glass\"}", &page));
  {
    const char *it = member(page, "entries"), *s, *e;
    CHECK(it && next_elem(&it, &s, &e));
    char *el = copy_span(s, e), *entry = member_text(el, "entry"), *recorded = NULL;
    OK(trailseal_ledger_get(l, 22, &recorded));
    SAME_JSON(entry, recorded);
    const char *head = "{\"index\":22,\"entry\":{\"action\":";
    CHECK(strncmp(el, head, strlen(head)) == 0);
    free(el);
    free(entry);
    trailseal_string_free(recorded);
  }
  trailseal_string_free(page);

  /* Refused queries: a misspelt filter never widens a query to every entry. */
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_query(l, "{\"actr\":\"alice\"}", &out));
  MSG_HAS("actr");
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_query(l, "{\"attr\":[\"env=prod\"]}", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_query(l, "{\"subject\":\"nocolon\"}", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_query(l, "{\"since\":\"yesterday\"}", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_query(l, "{\"order\":\"sideways\"}", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_query(l, "{\"limit\":-1}", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_query(l, "{\"cursor\":\"x\"}", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_query(l, "{\"actor\":1}", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_query(l, "{\"attrs\":{\"env\":1}}", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_query(l, "{\"actor\":\"a\",\"actor\":\"b\"}", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_query(l, "[]", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_query(l, "not json", &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8, trailseal_ledger_query(l, "{\"actor\":\"\xff\"}", &out));
  EXPECT(TRAILSEAL_STATUS_WRONG_KIND, trailseal_ledger_query(raw, "{}", &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_query(NULL, "{}", &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_query(l, NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_query(l, "{}", NULL));
  CHECK(out == SENTINEL);
}

static void test_audit_trace_why(const trailseal_ledger *l, const trailseal_ledger *raw) {
  char *out = SENTINEL, *t = NULL, *shape = NULL;
  /* "Trace this deployment back to its commit and every checkpoint it passed." */
  OK(trailseal_ledger_trace(l, 18, false, &t));
  CHECK(u64_member(t, "root") == 18);
  shape = trace_shape(t);
  STREQ(shape, "0:[],10:[],11:[10],14:[10,11],16:[0,14],17:[0,14],18:[0,11,14,16,17]");
  free(shape);
  CHECK(strstr(t, "\"unresolved\":[\"ci:https://ci.example.com/runs/981\"]") != NULL);
  CHECK(strstr(t, "\"id\":\"git:4f2a9c1\"") != NULL); /* the commit, with its entry */
  trailseal_string_free(t);
  OK(trailseal_ledger_trace(l, 10, true, &t));
  char *reached = index_list(t, "nodes");
  STREQ(reached, "10,11,12,13,14,15,16,17,18,19,22,24,25,26");
  CHECK(strstr(t, "\"unresolved\":[]") != NULL);
  free(reached);
  trailseal_string_free(t);
  OK(trailseal_ledger_trace(l, 0, false, &t));
  shape = trace_shape(t);
  STREQ(shape, "0:[]");
  free(shape);
  trailseal_string_free(t);
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_trace(l, 27, false, &out));
  MSG_HAS("27");
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_trace(l, UINT64_MAX, true, &out));
  EXPECT(TRAILSEAL_STATUS_WRONG_KIND, trailseal_ledger_trace(raw, 0, false, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_trace(NULL, 0, false, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_trace(l, 0, false, NULL));

  /* "Which rule allowed this, what did it say then, and who approved that version?" */
  char *w = NULL;
  OK(trailseal_ledger_why(l, 18, &w));
  CHECK(u64_member(w, "index") == 18);
  char *policy = member_text(w, "policy"), *approvals = index_list(w, "approvals");
  CHECK(policy && u64_member(policy, "index") == 0);
  CHECK(policy && strstr(policy, "\"gate\":{\"approver_roles\":[\"release-manager\",\"sre\"],"
                                 "\"forbid_self_approval\":true,\"min_approvals\":2,") != NULL);
  STREQ(approvals, "1");
  CHECK(strstr(w, "\"authz\":{\"decision\":\"allow\",\"policy\":\"release-two-person\","
                  "\"policy_version\":\"7\"}") != NULL);
  free(policy);
  free(approvals);
  trailseal_string_free(w);
  OK(trailseal_ledger_why(l, 22, &w));
  CHECK(strstr(w, "\"decision\":\"break_glass\"") != NULL);
  CHECK(strstr(w, "\"policy\":null") != NULL); /* prod-freeze has no published version */
  CHECK(strstr(w, "\"approvals\":[]") != NULL);
  trailseal_string_free(w);
  OK(trailseal_ledger_why(l, 3, &w));
  CHECK(strstr(w, "\"authz\":null,") != NULL);
  trailseal_string_free(w);
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_why(l, 27, &out));
  EXPECT(TRAILSEAL_STATUS_WRONG_KIND, trailseal_ledger_why(raw, 0, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_why(NULL, 0, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_why(l, 0, NULL));
  CHECK(out == SENTINEL);
}

static void test_audit_gates(const trailseal_ledger *l, const char *policy_file) {
  char *out = SENTINEL, *r = NULL;
  /* "Was this release allowed to ship?" */
  OK(trailseal_ledger_gate(l, "release:2026.11.2", policy_file, &r));
  SAME_JSON(r, GATE_2);
  trailseal_string_free(r);
  OK(trailseal_ledger_gate(l, "release:2026.11.3", policy_file, &r));
  SAME_JSON(r, GATE_3);
  trailseal_string_free(r);
  OK(trailseal_ledger_gate(l, "release:2026.11.4", policy_file, &r)); /* fails: still OK */
  SAME_JSON(r, GATE_4);
  trailseal_string_free(r);
  /* Each missing requirement. */
  OK(trailseal_ledger_gate(l, "release:2026.11.2",
                           "{\"min_approvals\":3,\"approver_roles\":[\"release-manager\",\"sre\"]}",
                           &r));
  SAME_JSON(r, "{\"passed\":false,\"requirements\":[{\"name\":\"min_approvals\",\"met\":false,"
               "\"evidence\":[7,8]},{\"name\":\"forbid_self_approval\",\"met\":true,"
               "\"evidence\":[2,3,6]}]}");
  trailseal_string_free(r);
  OK(trailseal_ledger_gate(l, "release:2026.11.4",
                           "{\"min_approvals\":2,\"approver_roles\":[\"release-manager\"],"
                           "\"forbid_self_approval\":false,\"require\":[\"test.passed\"]}",
                           &r));
  SAME_JSON(r, "{\"passed\":true,\"requirements\":[{\"name\":\"min_approvals\",\"met\":true,"
               "\"evidence\":[25,26]},{\"name\":\"test.passed\",\"met\":true,\"evidence\":[23]}]}");
  trailseal_string_free(r);
  OK(trailseal_ledger_gate(l, "release:1999.1.1", "{\"require\":[\"scan.passed\"]}", &r));
  SAME_JSON(r, "{\"passed\":false,\"requirements\":[{\"name\":\"forbid_self_approval\","
               "\"met\":true,\"evidence\":[]},{\"name\":\"scan.passed\",\"met\":false,"
               "\"evidence\":[]}]}");
  trailseal_string_free(r);
  /* Refused: a typo must not weaken a gate. */
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_gate(l, "release:2026.11.2", "{\"min_approval\":2}", &out));
  MSG_HAS("min_approval");
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_gate(l, "release:2026.11.2", "{\"forbid_self_approval\":false}", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_gate(l, "release:2026.11.2",
                               "{\"min_approvals\":1,\"min_approvals\":2}", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_gate(l, "release:2026.11.2", "[]", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_gate(l, "no-colon", policy_file, &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8, trailseal_ledger_gate(l, "a:\xff", policy_file, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_gate(NULL, "a:b", policy_file, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_gate(l, NULL, policy_file, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_gate(l, "a:b", NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_gate(l, "a:b", policy_file, NULL));
  CHECK(out == SENTINEL);
}

static void test_audit_report(const trailseal_ledger *l) {
  char *out = SENTINEL, *r = NULL;
  /* "Where do approvals wait?" */
  OK(trailseal_ledger_report(l, NULL, &r));
  SAME_JSON(r, REPORT_ALL);
  trailseal_string_free(r);
  OK(trailseal_ledger_report(l, "{}", &r));
  SAME_JSON(r, REPORT_ALL);
  trailseal_string_free(r);
  OK(trailseal_ledger_report(l, "{\"since\":\"2026-11-10T00:00:00Z\"}", &r));
  CHECK(strstr(r, "\"since\":\"2026-11-10T00:00:00.000000000Z\"") != NULL);
  CHECK(strstr(r, "\"approval_latency\":{\"waits\":3,\"median_seconds\":14400,"
                  "\"p90_seconds\":86400}") != NULL);
  {
    char *by = member_text(r, "approvals_by_approver"), *weeks = member_text(r, "weeks");
    SAME_JSON(by, "[{\"approver\":\"alice\",\"approvals\":1},{\"approver\":\"bob\",\"approvals\":"
                  "1},{\"approver\":\"carol\",\"approvals\":1}]");
    SAME_JSON(weeks, "[{\"week\":\"2026-W46\",\"changes\":2,\"break_glass\":1,\"approvals\":1},"
                     "{\"week\":\"2026-W47\",\"changes\":0,\"break_glass\":0,\"approvals\":2}]");
    free(by);
    free(weeks);
  }
  trailseal_string_free(r);
  OK(trailseal_ledger_report(
      l, "{\"change_actions\":[\"deploy.succeeded\",\"deploy.rolled_back\"],\"since\":null}", &r));
  CHECK(strstr(r, "{\"week\":\"2026-W46\",\"changes\":3,\"break_glass\":1,\"approvals\":3}") !=
        NULL);
  trailseal_string_free(r);
  OK(trailseal_ledger_report(l, "{\"since\":\"2026-11-09T11:00:00Z\"}", &r)); /* 4 waits */
  CHECK(strstr(r, "{\"waits\":4,\"median_seconds\":9900,\"p90_seconds\":86400}") != NULL);
  trailseal_string_free(r);
  OK(trailseal_ledger_report(l, "{\"since\":\"2030-01-01T00:00:00Z\"}", &r));
  CHECK(strstr(r, "{\"waits\":0,\"median_seconds\":null,\"p90_seconds\":null}") != NULL);
  CHECK(strstr(r, "\"weeks\":[]") != NULL);
  trailseal_string_free(r);
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_report(l, "{\"sinse\":\"2026\"}", &out));
  MSG_HAS("sinse");
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_report(l, "{\"since\":\"last week\"}", &out));
  /* counting nothing as a change is refused, not silently empty */
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_report(l, "{\"change_actions\":[]}", &out));
  MSG_HAS("change_actions");
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_report(l, "{\"change_actions\":\"deploy.succeeded\"}", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_report(l, "", &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8, trailseal_ledger_report(l, "\xfe", &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_report(NULL, NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_report(l, NULL, NULL));
  CHECK(out == SENTINEL);
}

static int checkpoint_count(const trailseal_ledger *l) {
  char *list = NULL;
  int n = 0;
  OK(trailseal_ledger_checkpoints(l, &list));
  const char *it = list, *s, *e;
  while (list && next_elem(&it, &s, &e)) n++;
  trailseal_string_free(list);
  return n;
}

static void test_audit_bundles(const trailseal_ledger *l, const trailseal_ledger *raw) {
  const uint8_t seed[32] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
                            7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
  trailseal_signer *signer = NULL, *stranger = NULL;
  char *vkey = NULL, *stranger_vkey = NULL, *out = SENTINEL, *b = NULL, *report = NULL;
  OK(trailseal_signer_from_seed(HISTORY_ORIGIN, seed, 32, &signer));
  OK(trailseal_signer_generate(HISTORY_ORIGIN, &stranger));
  OK(trailseal_signer_verifier_key(signer, &vkey));
  OK(trailseal_signer_verifier_key(stranger, &stranger_vkey));

  /* "Give me the evidence, so I can check it without your system." */
  int kept = checkpoint_count(l);
  OK(trailseal_ledger_bundle(l, "{\"subject\":\"release:2026.11.3\"}", signer, &b));
  CHECK(checkpoint_count(l) == kept + 1); /* the fresh checkpoint is kept */
  {
    const char *head = "{\n  \"format\": \"trailseal-bundle/1\",\n  \"origin\": "
                       "\"example.com/payments/audit\",\n  \"hash\": \"sha256\",\n  \"tree_size\": "
                       "27,\n  \"root\": \"";
    CHECK(strncmp(b, head, strlen(head)) == 0);
  }
  CHECK(b[strlen(b) - 1] == '\n');
  OK(trailseal_verify_bundle((const uint8_t *)b, strlen(b), vkey, &report));
  {
    char *got = index_list(report, "entries"), *root = NULL, *rroot = str_member(report, "root");
    STREQ(got, "12,13,14,15,16,17");
    const char *head = "{\"ok\":true,\"origin\":\"example.com/payments/audit\",\"hash\":"
                       "\"sha256\",\"tree_size\":27,\"root\":\"";
    CHECK(strncmp(report, head, strlen(head)) == 0);
    CHECK(strstr(report, "\",\"key_name\":\"example.com/payments/audit\",\"entries\":[{\"index\":"
                         "12,\"entry\":{") != NULL);
    CHECK(u64_member(report, "tree_size") == 27);
    OK(trailseal_ledger_root(l, 27, &root));
    STREQ(rroot, root);
    free(got);
    free(rroot);
    trailseal_string_free(root);
  }
  trailseal_string_free(report);
  /* Each entry is in the file as its exact leaf bytes. */
  for (uint64_t i = 12; i <= 17; i++) {
    char *e = NULL;
    OK(trailseal_ledger_get(l, i, &e));
    char *line = fmt("      \"entry\": %s\n", e);
    CHECK(strstr(b, line) != NULL);
    free(line);
    trailseal_string_free(e);
  }
  /* The file is written for the command to check (ffi/test.sh). */
  char *bf = wpath("c-history.bundle"), *vf = wpath("c-history.vkey");
  write_file(bf, b, strlen(b));
  write_file(vf, vkey, strlen(vkey));
  free(bf);
  free(vf);

  /* Checked with the key alone: another key, a bad key, refused. */
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED,
         trailseal_verify_bundle((const uint8_t *)b, strlen(b), stranger_vkey, &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_verify_bundle((const uint8_t *)b, strlen(b), "not a key", &out));
  /* One changed character: an entry's actor. */
  {
    char *m = xstrdup(b), *at = strstr(m, "\"actor\":{\"id\":\"alice\"");
    CHECK(at != NULL);
    if (at) at[15] = 'A';
    EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED,
           trailseal_verify_bundle((const uint8_t *)m, strlen(m), vkey, &out));
    free(m);
  }
  /* Bytes after a NUL are checked too (the bundle is bytes, not a C string). */
  {
    size_t n = strlen(b);
    char *m = malloc(n + 3);
    memcpy(m, b, n);
    memcpy(m + n, "\0{}", 3);
    EXPECT(TRAILSEAL_STATUS_MALFORMED,
           trailseal_verify_bundle((const uint8_t *)m, n + 3, vkey, &out));
    MSG_HAS("trailing characters");
    EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED,
           trailseal_verify_bundle((const uint8_t *)m, n - 1, vkey, &out)); /* no final \n */
    m[n / 2] = (char)0xff;
    EXPECT(TRAILSEAL_STATUS_MALFORMED,
           trailseal_verify_bundle((const uint8_t *)m, n, vkey, &out)); /* not UTF-8 */
    free(m);
  }
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_verify_bundle(NULL, 0, vkey, &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_verify_bundle((const uint8_t *)"{}", 2, vkey, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_verify_bundle(NULL, 5, vkey, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_verify_bundle((const uint8_t *)b, strlen(b), NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_verify_bundle((const uint8_t *)b, strlen(b), vkey, NULL));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8,
         trailseal_verify_bundle((const uint8_t *)b, strlen(b), "\xff", &out));
  trailseal_string_free(b);

  /* A changed byte in any field is refused: the first and the middle character of every line
   * (format, origin, hash, size, root, key name, checkpoint, each index, leaf hash, path hash
   * and entry). The core's and the Go tests change every byte; under valgrind that is slow. */
  OK(trailseal_ledger_bundle(l, "{\"indexes\":[26,23]}", signer, &b));
  {
    size_t n = strlen(b);
    int tried = 0, refused = 0;
    char *m = xstrdup(b);
    for (size_t start = 0; start < n;) {
      size_t end = start;
      while (end < n && b[end] != '\n') end++;
      size_t first = start;
      while (first < end && b[first] == ' ') first++;
      size_t at[2] = {first, first + (end - first) / 2};
      for (int k = 0; k < 2; k++) {
        size_t i = at[k];
        m[i] ^= 0x01;
        trailseal_status st = trailseal_verify_bundle((const uint8_t *)m, n, vkey, &out);
        tried++;
        if (st == TRAILSEAL_STATUS_VERIFICATION_FAILED || st == TRAILSEAL_STATUS_MALFORMED)
          refused++;
        else
          fail_msg(__LINE__, "byte %zu changed: status %s", i, trailseal_status_name(st));
        m[i] = b[i];
      }
      start = end + 1;
    }
    CHECK(tried == refused && tried > 40);
    OK(trailseal_verify_bundle((const uint8_t *)m, n, vkey, &report));
    trailseal_string_free(report);
    free(m);
  }
  trailseal_string_free(b);

  /* The other selections. */
  BUNDLE("{\"index\":18}", "0,10,11,14,16,17,18");
  BUNDLE("{\"index\":19,\"forward\":true}", "19,22,24,25,26");
  BUNDLE("{\"query\":{\"action\":\"deploy.succeeded\"}}", "9,18,22");
  BUNDLE("{\"query\":{\"action\":\"deploy.succeeded\",\"limit\":1}}", "22");
  BUNDLE("{\"indexes\":[26,3,3]}", "3,26");

  /* Against a checkpoint signed earlier, at size 20; nothing is kept. */
  char *note20 = NULL;
  OK(trailseal_ledger_checkpoint(l, signer, 20, &note20));
  kept = checkpoint_count(l);
  OK(trailseal_ledger_bundle_with_checkpoint(l, "{\"indexes\":[3,19]}", note20, vkey, &b));
  CHECK(checkpoint_count(l) == kept);
  OK(trailseal_verify_bundle((const uint8_t *)b, strlen(b), vkey, &report));
  {
    char *got = index_list(report, "entries");
    STREQ(got, "3,19");
    CHECK(u64_member(report, "tree_size") == 20);
    free(got);
  }
  trailseal_string_free(report);
  trailseal_string_free(b);
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE,
         trailseal_ledger_bundle_with_checkpoint(l, "{\"indexes\":[22]}", note20, vkey, &out));
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED,
         trailseal_ledger_bundle_with_checkpoint(l, "{\"indexes\":[3]}", note20, stranger_vkey,
                                                 &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_bundle_with_checkpoint(l, "{\"indexes\":[3]}", note20, "nope", &out));
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_bundle_with_checkpoint(l, "{\"indexes\":[3]}", "junk", vkey, &out));
  {
    /* A checkpoint of another tree under the same origin: not this ledger's. */
    trailseal_ledger *other = NULL;
    char *p = wpath("history-fork.redb"), *r = NULL, *e = entry_json("mallory", "x.y", "z"),
         *note = NULL;
    OK(trailseal_ledger_create(p, HISTORY_ORIGIN, "sha256", false, 0, false, &other));
    OK(trailseal_ledger_append(other, e, &r));
    OK(trailseal_ledger_checkpoint(other, signer, TRAILSEAL_SIZE_CURRENT, &note));
    EXPECT(TRAILSEAL_STATUS_INCONSISTENT,
           trailseal_ledger_bundle_with_checkpoint(l, "{\"indexes\":[0]}", note, vkey, &out));
    trailseal_string_free(note);
    trailseal_string_free(r);
    free(e);
    free(p);
    trailseal_ledger_free(other);
  }
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_bundle_with_checkpoint(NULL, "{\"indexes\":[3]}", note20, vkey, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_bundle_with_checkpoint(l, NULL, note20, vkey, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_bundle_with_checkpoint(l, "{\"indexes\":[3]}", NULL, vkey, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_bundle_with_checkpoint(l, "{\"indexes\":[3]}", note20, NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_bundle_with_checkpoint(l, "{\"indexes\":[3]}", note20, vkey, NULL));
  trailseal_string_free(note20);

  /* Refused selections sign nothing. */
  kept = checkpoint_count(l);
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_bundle(l, "{\"subject\":\"release:none\"}", signer, &out));
  MSG_HAS("nothing to bundle");
  EXPECT(TRAILSEAL_STATUS_INVALID_ARGUMENT,
         trailseal_ledger_bundle(l, "{\"indexes\":[]}", signer, &out));
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE,
         trailseal_ledger_bundle(l, "{\"indexes\":[99]}", signer, &out));
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE,
         trailseal_ledger_bundle(l, "{\"index\":99}", signer, &out));
  const char *bad_selections[] = {
      "{}",
      "[]",
      "{\"subject\":\"release:2026.11.3\",\"indexes\":[1]}",
      "{\"subject\":\"nocolon\"}",
      "{\"subject\":\"release:2026.11.3\",\"index\":1}",
      "{\"index\":\"1\"}",
      "{\"index\":18,\"forwards\":true}",
      "{\"trace\":{\"index\":18}}",
      "{\"indexes\":[1,\"2\"]}",
      "{\"query\":{\"actr\":\"alice\"}}",
      "{\"subject\":\"a:b\",\"subject\":\"a:c\"}",
  };
  for (size_t i = 0; i < sizeof bad_selections / sizeof *bad_selections; i++) {
    EXPECT(TRAILSEAL_STATUS_MALFORMED, trailseal_ledger_bundle(l, bad_selections[i], signer, &out));
  }
  EXPECT(TRAILSEAL_STATUS_WRONG_KIND,
         trailseal_ledger_bundle(raw, "{\"indexes\":[0]}", signer, &out));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8, trailseal_ledger_bundle(l, "{\"subject\":\"a:\xff\"}",
                                                                 signer, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_bundle(NULL, "{\"indexes\":[0]}", signer, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_ledger_bundle(l, NULL, signer, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_bundle(l, "{\"indexes\":[0]}", NULL, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_bundle(l, "{\"indexes\":[0]}", signer, NULL));
  CHECK(checkpoint_count(l) == kept);
  CHECK(out == SENTINEL);

  trailseal_string_free(vkey);
  trailseal_string_free(stranger_vkey);
  trailseal_signer_free(signer);
  trailseal_signer_free(stranger);
}

static void test_audit_record_gate(const trailseal_ledger *l, const char *policy_file) {
  char *out = SENTINEL, *out2 = SENTINEL, *result = NULL, *receipt = NULL, *e = NULL;
  char *digest = NULL;
  /* Recorded as gate.failed / gate.passed entries, the gate evaluated inside the call. */
  OK(trailseal_ledger_record_gate(l, "release:2026.11.4", policy_file, "release-gate-bot",
                                  &result, &receipt));
  SAME_JSON(result, GATE_4);
  CHECK(u64_member(receipt, "index") == 27 && u64_member(receipt, "tree_size") == 28);
  OK(trailseal_ledger_get(l, 27, &e));
  CHECK(strstr(e, "\"action\":\"gate.failed\"") != NULL);
  CHECK(strstr(e, "\"actor\":{\"id\":\"release-gate-bot\"}") != NULL);
  CHECK(strstr(e, "\"subject\":{\"id\":\"2026.11.4\",\"type\":\"release\"}") != NULL);
  CHECK(strstr(e, "\"links\":[{\"index\":26,\"rel\":\"min_approvals\"},{\"index\":20,\"rel\":"
                  "\"forbid_self_approval\"},{\"index\":21,\"rel\":\"forbid_self_approval\"},"
                  "{\"index\":24,\"rel\":\"forbid_self_approval\"},{\"index\":25,\"rel\":"
                  "\"forbid_self_approval\"},{\"index\":23,\"rel\":\"test.passed\"}]") != NULL);
  {
    char *attrs = member_text(e, "attrs"), *payload = member_text(e, "payload");
    digest = str_member(attrs, "policy_digest");
    CHECK(digest && strncmp(digest, "sha256:", 7) == 0 && strlen(digest) == 7 + 64);
    char *recorded = member_text(payload, "result"), *policy = member_text(payload, "policy");
    SAME_JSON(recorded, GATE_4);
    SAME_JSON(policy, "{\"min_approvals\":2,\"approver_roles\":[\"release-manager\",\"sre\"],"
                      "\"forbid_self_approval\":true,\"require\":[\"test.passed\","
                      "\"scan.passed\"]}");
    free(recorded);
    free(policy);
    free(attrs);
    free(payload);
  }
  trailseal_string_free(e);
  trailseal_string_free(result);
  trailseal_string_free(receipt);
  OK(trailseal_ledger_record_gate(l, "release:2026.11.3", policy_file, "release-gate-bot",
                                  &result, &receipt));
  SAME_JSON(result, GATE_3);
  CHECK(u64_member(receipt, "index") == 28);
  OK(trailseal_ledger_get(l, 28, &e));
  CHECK(strstr(e, "\"action\":\"gate.passed\"") != NULL);
  trailseal_string_free(e);
  trailseal_string_free(result);
  trailseal_string_free(receipt);
  /* The recorded verdict judges the change, it is not part of it: same answer again. */
  OK(trailseal_ledger_gate(l, "release:2026.11.3", policy_file, &result));
  SAME_JSON(result, GATE_3);
  trailseal_string_free(result);
  char *q = fmt("{\"attrs\":{\"policy_digest\":\"%s\"},\"order\":\"oldest\"}",
                digest ? digest : "");
  QUERY(l, q, "27,28");
  free(q);
  free(digest);

  /* Refused: nothing is recorded, no out-parameter written. */
  EXPECT(TRAILSEAL_STATUS_INVALID_ENTRY,
         trailseal_ledger_record_gate(l, "release:2026.11.3", policy_file, "", &out, &out2));
  MSG_HAS("actor.id");
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_record_gate(l, "release:2026.11.3", "{\"require\":[\"a\",\"a\"]}", "x",
                                      &out, &out2));
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_record_gate(l, "nocolon", policy_file, "x", &out, &out2));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_record_gate(l, "release:2026.11.3", policy_file, "x", NULL, &out2));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_record_gate(l, "release:2026.11.3", policy_file, "x", &out, NULL));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_record_gate(l, "release:2026.11.3", policy_file, NULL, &out, &out2));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_record_gate(l, "release:2026.11.3", NULL, "x", &out, &out2));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_record_gate(l, NULL, policy_file, "x", &out, &out2));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_record_gate(NULL, "release:2026.11.3", policy_file, "x", &out, &out2));
  EXPECT(TRAILSEAL_STATUS_INVALID_UTF8,
         trailseal_ledger_record_gate(l, "release:2026.11.3", policy_file, "\xff", &out, &out2));
  CHECK(size_of(l) == 29);
  CHECK(out == SENTINEL && out2 == SENTINEL);
}

static void test_audit(void) {
  trailseal_ledger *l = history_ledger("history.redb");
  trailseal_ledger *raw = NULL;
  char *raw_path = wpath("audit-raw.redb"), *r = NULL;
  OK(trailseal_ledger_create(raw_path, "example.com/ffi/raw", NULL, true, 0, false, &raw));
  OK(trailseal_ledger_append_raw(raw, (const uint8_t *)"opaque", 6, &r));
  trailseal_string_free(r);
  char *policy_path = fmt("%s/examples/release-gate.json", repo);
  char *policy_file = read_file(policy_path, NULL);
  CHECK(policy_file != NULL);

  test_audit_queries(l, raw);
  test_audit_trace_why(l, raw);
  if (policy_file) test_audit_gates(l, policy_file);
  test_audit_report(l);
  test_audit_bundles(l, raw);
  if (policy_file) test_audit_record_gate(l, policy_file); /* last: it appends */

  free(policy_file);
  free(policy_path);
  free(raw_path);
  trailseal_ledger_free(raw);
  trailseal_ledger_free(l);
}

/* The command's answers about its own history ledger (made by ffi/test.sh with
 * examples/history.sh): the C answers are the same JSON, byte for byte, and its bundle
 * verifies here. */
static void expect_same_as_file(const char *got, const char *file, int line) {
  char *path = wpath(file), *want = read_file(path, NULL), *with_nl = fmt("%s\n", got);
  if (want && strcmp(want, with_nl) == 0)
    passed++;
  else
    fail_msg(line, "%s differs:\n  command %s  C       %s", file, want ? want : "(missing)\n",
             with_nl);
  free(with_nl);
  free(want);
  free(path);
}
#define SAME_AS_FILE(got, file) expect_same_as_file((got), (file), __LINE__)

static void test_cli_history(void) {
  char *path = wpath("cli-history.redb");
  if (access(path, F_OK) != 0) {
    printf("# no cli-history.redb in the work directory: skipping the command's history\n");
    free(path);
    return;
  }
  char *vkey_path = wpath("cli-history.vkey"), *bundle_path = wpath("cli-history.bundle");
  char *vkey = read_file(vkey_path, NULL);
  char *policy_path = fmt("%s/examples/release-gate.json", repo);
  size_t bundle_len = 0;
  char *bundle = read_file(bundle_path, &bundle_len), *policy = read_file(policy_path, NULL);
  CHECK(vkey && bundle && policy);
  if (!vkey || !bundle || !policy) goto done;
  vkey[strcspn(vkey, "\n")] = '\0';

  /* The command's bundle, checked here; one character changed, refused. */
  char *report = NULL, *out = SENTINEL;
  OK(trailseal_verify_bundle((const uint8_t *)bundle, bundle_len, vkey, &report));
  char *got = index_list(report, "entries");
  STREQ(got, "12,13,14,15,16,17");
  free(got);
  trailseal_string_free(report);
  char *at = strstr(bundle, "\"id\":\"bob\"");
  CHECK(at != NULL);
  if (at) at[6] = 'B';
  EXPECT(TRAILSEAL_STATUS_VERIFICATION_FAILED,
         trailseal_verify_bundle((const uint8_t *)bundle, bundle_len, vkey, &out));

  trailseal_ledger *l = NULL;
  char *j = NULL;
  OK(trailseal_ledger_open(path, 0, true, &l));
  OK(trailseal_ledger_gate(l, "release:2026.11.3", policy, &j));
  SAME_AS_FILE(j, "cli-gate-3.json");
  trailseal_string_free(j);
  OK(trailseal_ledger_gate(l, "release:2026.11.4", policy, &j));
  SAME_AS_FILE(j, "cli-gate-4.json");
  trailseal_string_free(j);
  OK(trailseal_ledger_trace(l, 18, false, &j));
  SAME_AS_FILE(j, "cli-trace-18.json");
  trailseal_string_free(j);
  OK(trailseal_ledger_trace(l, 10, true, &j));
  SAME_AS_FILE(j, "cli-trace-10-forward.json");
  trailseal_string_free(j);
  OK(trailseal_ledger_why(l, 18, &j));
  SAME_AS_FILE(j, "cli-why-18.json");
  trailseal_string_free(j);
  OK(trailseal_ledger_report(l, "{\"since\":\"2026-11-09T00:00:00Z\"}", &j));
  SAME_AS_FILE(j, "cli-report.json");
  trailseal_string_free(j);
  /* query --json prints one {"index", "entry"} line per element of the page's entries. */
  OK(trailseal_ledger_query(l, "{\"actor\":\"alice\"}", &j));
  {
    char *lines = xstrdup(""), *n;
    const char *it = member(j, "entries"), *s, *e;
    while (it && next_elem(&it, &s, &e)) {
      char *el = copy_span(s, e);
      n = fmt("%s%s\n", lines, el);
      free(el);
      free(lines);
      lines = n;
    }
    char *qpath = wpath("cli-query-alice.jsonl"), *want = read_file(qpath, NULL);
    STREQ(lines, want);
    free(want);
    free(qpath);
    free(lines);
  }
  trailseal_string_free(j);
  trailseal_ledger_free(l);
  CHECK(out == SENTINEL);
done:
  free(vkey);
  free(bundle);
  free(policy);
  free(policy_path);
  free(vkey_path);
  free(bundle_path);
  free(path);
}

static void test_cli_made_ledger(void) {
  char *path = wpath("cli-made.redb");
  if (access(path, F_OK) != 0) {
    printf("# no cli-made.redb in the work directory: skipping the command's ledger\n");
    free(path);
    return;
  }
  char *keyfile = wpath("cli-made.redb.key");
  char *skey = read_file(keyfile, NULL);
  char *cli_note_path = wpath("cli.note"), *cli_proof_path = wpath("cli-inclusion-1.json");
  char *cli_note = read_file(cli_note_path, NULL), *cli_proof = read_file(cli_proof_path, NULL);
  CHECK(skey && cli_note && cli_proof);
  if (!skey || !cli_note || !cli_proof) goto done;

  trailseal_ledger *l = NULL;
  trailseal_signer *signer = NULL;
  char *vkey = NULL, *report = NULL, *info = NULL;
  OK(trailseal_ledger_open(path, 0, true, &l));
  OK(trailseal_signer_from_string(skey, &signer)); /* the key file ends in a newline */
  OK(trailseal_signer_verifier_key(signer, &vkey));
  OK(trailseal_ledger_info(l, &info));
  CHECK(strstr(info, "\"origin\":\"example.com/cli/made\"") != NULL);
  CHECK(strstr(info, "\"hash\":\"sha256\"") != NULL);
  trailseal_string_free(info);
  uint64_t size = size_of(l);
  CHECK(size == 3);
  OK(trailseal_ledger_verify(l, cli_note, vkey, &report));
  CHECK(u64_member(report, "consistent_with_checkpoint") == 3);
  CHECK(u64_member(report, "checkpoints_checked") == 1);
  trailseal_string_free(report);

  /* Entries as `trailseal show` printed them (show adds a newline). */
  for (uint64_t i = 0; i < size; i++) {
    char *shown_path = fmt("%s/cli-show-%llu.json", workdir, (unsigned long long)i);
    char *shown = read_file(shown_path, NULL);
    char *got = NULL;
    OK(trailseal_ledger_get(l, i, &got));
    CHECK(shown != NULL);
    if (shown) {
      char *with_nl = fmt("%s\n", got);
      STREQ(with_nl, shown);
      free(with_nl);
    }
    if (i == 1) {
      OK(trailseal_verify_inclusion_leaf(cli_proof, (const uint8_t *)got, strlen(got), cli_note,
                                         vkey));
    }
    trailseal_string_free(got);
    free(shown);
    free(shown_path);
  }
  char *mine = NULL;
  OK(trailseal_ledger_prove_inclusion(l, 1, 3, &mine));
  SAME_JSON(mine, cli_proof);
  trailseal_string_free(mine);

  /* Extend it through C, and sign with the command's key: the command reads it back. */
  char *e = entry_json("c-program", "ledger.extended", "cli-made");
  char *r = NULL;
  OK(trailseal_ledger_append(l, e, &r));
  trailseal_string_free(r);
  free(e);
  char *note = NULL;
  OK(trailseal_ledger_checkpoint(l, signer, TRAILSEAL_SIZE_CURRENT, &note));
  char *note_path = wpath("cli-made.c.note");
  write_file(note_path, note, strlen(note));
  free(note_path);
  trailseal_string_free(note);
  trailseal_string_free(vkey);
  trailseal_signer_free(signer);
  trailseal_ledger_free(l);
done:
  free(skey);
  free(cli_note);
  free(cli_proof);
  free(cli_note_path);
  free(cli_proof_path);
  free(keyfile);
  free(path);
}

static void make_ledger_for_cli(void) {
  char *path = wpath("c-made.redb");
  trailseal_ledger *l = NULL;
  trailseal_signer *signer = NULL;
  OK(trailseal_ledger_create(path, "example.com/c/made", "sha256", false, 0, true, &l));
  OK(trailseal_signer_generate("example.com/c/made", &signer));
  const char *batch =
      "[{\"id\":\"c-1\",\"actor\":{\"id\":\"alice\",\"role\":\"sre\"},\"action\":"
      "\"deploy.succeeded\",\"subject\":{\"type\":\"service\",\"id\":\"payments-api\"},"
      "\"authz\":{\"decision\":\"allow\",\"policy\":\"two-person\"},\"attrs\":{\"env\":\"prod\"}},"
      "{\"actor\":{\"id\":\"bob\"},\"action\":\"approval.granted\",\"subject\":{\"type\":"
      "\"change\",\"id\":\"CR-1\"},\"links\":[{\"rel\":\"approves\",\"index\":0}]}]";
  char *r = NULL;
  OK(trailseal_ledger_append_batch(l, batch, &r));
  trailseal_string_free(r);
  char *e = entry_json("carol", "rollback.started", "payments-api");
  OK(trailseal_ledger_append(l, e, &r));
  trailseal_string_free(r);
  free(e);

  /* What the command needs: the key file, a checkpoint, and the entries to compare. */
  char *skey = NULL, *vkey = NULL, *note = NULL;
  OK(trailseal_signer_to_string(signer, &skey));
  OK(trailseal_signer_verifier_key(signer, &vkey));
  OK(trailseal_ledger_checkpoint(l, signer, TRAILSEAL_SIZE_CURRENT, &note));
  char *keyfile = wpath("c-made.redb.key"), *vkeyfile = wpath("c-made.vkey"),
       *notefile = wpath("c-made.note");
  char *skey_nl = fmt("%s\n", skey);
  write_file(keyfile, skey_nl, strlen(skey_nl));
  chmod(keyfile, 0600);
  write_file(vkeyfile, vkey, strlen(vkey));
  write_file(notefile, note, strlen(note));
  for (uint64_t i = 0; i < 3; i++) {
    char *got = NULL, *f = fmt("%s/c-entry-%llu.json", workdir, (unsigned long long)i);
    OK(trailseal_ledger_get(l, i, &got));
    char *with_nl = fmt("%s\n", got);
    write_file(f, with_nl, strlen(with_nl));
    free(with_nl);
    trailseal_string_free(got);
    free(f);
  }
  char *proof = NULL, *pf = wpath("c-inclusion-2.json");
  OK(trailseal_ledger_prove_inclusion(l, 2, TRAILSEAL_SIZE_CURRENT, &proof));
  write_file(pf, proof, strlen(proof));
  trailseal_string_free(proof);
  free(pf);
  free(skey_nl);
  free(keyfile);
  free(vkeyfile);
  free(notefile);
  trailseal_string_free(skey);
  trailseal_string_free(vkey);
  trailseal_string_free(note);
  trailseal_signer_free(signer);
  trailseal_ledger_free(l);
  free(path);
}

/* ---- the shared case table ------------------------------------------------------------- */

/* tests/vectors/cases.json (format in tests/vectors/README.md): every front end answers each
 * row the same. The C API takes every argument of the table as JSON text or a string (NULL
 * for one a row leaves out), so only rows of options it does not have are skipped, each with
 * the reason (case_skip). */

static const char *const case_skip[][2] = {
    {"prune: a ledger with committed indexes is refused",
     "trailseal_ledger_create has no committed indexes option"},
};

struct case_fixture {
  trailseal_ledger *entries, *raw;
  trailseal_signer *signer;
  /* What an `open` row's new ledger is created with, and the fixture's first entry. */
  const char *origin, *hash;
  char *first;
};

/* `{"indexes":[...]}` of the array `key` of obj. */
static char *indexes_shape(const char *obj, const char *key) {
  char *ix = index_list(obj, key);
  char *out = fmt("{\"indexes\":[%s]}", ix);
  free(ix);
  return out;
}

/* `{"passed":...,"missed":[names of the requirements not met]}` of a gate result. */
static char *gate_shape(const char *result) {
  char *passed_text = member_text(result, "passed");
  char *missed = xstrdup("");
  const char *it = member(result, "requirements"), *s, *e;
  while (it && next_elem(&it, &s, &e)) {
    char *req = copy_span(s, e);
    char *met = member_text(req, "met");
    if (met && strcmp(met, "false") == 0) {
      char *name = member_text(req, "name");
      char *n = fmt("%s%s%s", missed, *missed ? "," : "", name);
      free(name);
      free(missed);
      missed = n;
    }
    free(met);
    free(req);
  }
  char *out = fmt("{\"passed\":%s,\"missed\":[%s]}", passed_text, missed);
  free(passed_text);
  free(missed);
  return out;
}

/* `{"size":...,"consistent_with_checkpoint":...}` of a verify report. */
static char *verify_shape(const char *report) {
  char *size = member_text(report, "size");
  char *against = member_text(report, "consistent_with_checkpoint");
  char *out = fmt("{\"size\":%s,\"consistent_with_checkpoint\":%s}", size, against);
  free(size);
  free(against);
  return out;
}

/* A `verify_cosigned` row's shape: the checkpoint's size and the witnesses whose
 * cosignatures verified, in order. */
static char *cosigned_shape(const char *out) {
  char *size = member_text(member(out, "checkpoint"), "size");
  char *names = xstrdup("");
  const char *it = member(out, "cosignatures"), *s, *e;
  while (next_elem(&it, &s, &e)) {
    char *w = copy_span(s, e);
    char *name = member_text(w, "witness");
    char *joined = fmt("%s%s%s", names, *names ? "," : "", name);
    free(names);
    free(name);
    free(w);
    names = joined;
  }
  char *shape = fmt("{\"size\":%s,\"witnesses\":[%s]}", size, names);
  free(size);
  free(names);
  return shape;
}

/* An `open` row: a new ledger holding the fixture's first entry, opened as the row says, then
 * the first entry appended again or every entry queried through the new handle. */
static trailseal_status open_case(const struct case_fixture *fx, const char *args,
                                  char **shape) {
  static int opened = 0;
  char *path = fmt("%s/cases-open-%d.redb", workdir, ++opened);
  trailseal_ledger *made = NULL, *l = NULL;
  char *out = NULL;
  OK(trailseal_ledger_create(path, fx->origin, fx->hash, false, 0, true, &made));
  OK(trailseal_ledger_append(made, fx->first, &out));
  trailseal_string_free(out);
  out = NULL;
  trailseal_ledger_free(made);
  char *share = str_member(args, "share"), *then = str_member(args, "then");
  char *read_only = member_text(args, "read_only"), *durable = member_text(args, "durable");
  trailseal_status st =
      trailseal_ledger_open_with(path, 0, !(durable && strcmp(durable, "false") == 0), share,
                                 read_only && strcmp(read_only, "true") == 0, &l);
  if (st == TRAILSEAL_STATUS_OK) {
    char *indexes = NULL;
    if (then && strcmp(then, "append") == 0) {
      st = trailseal_ledger_append(l, fx->first, &out);
      if (st == TRAILSEAL_STATUS_OK)
        indexes = fmt("%llu", (unsigned long long)u64_member(out, "index"));
    } else {
      st = trailseal_ledger_query(l, "{}", &out);
      if (st == TRAILSEAL_STATUS_OK) indexes = index_list(out, "entries");
    }
    char *info = NULL;
    if (st == TRAILSEAL_STATUS_OK) OK(trailseal_ledger_info(l, &info));
    if (info) {
      char *sharing = member_text(info, "sharing"), *ro = member_text(info, "read_only");
      *shape = fmt("{\"sharing\":%s,\"read_only\":%s,\"indexes\":[%s]}", sharing, ro, indexes);
      free(sharing);
      free(ro);
    }
    trailseal_string_free(info);
    free(indexes);
    trailseal_ledger_free(l);
  }
  trailseal_string_free(out);
  free(share);
  free(then);
  free(read_only);
  free(durable);
  free(path);
  return st;
}

/* A `rules` row: a new ledger, the document published, then each entry appended alone; each
 * entry's index or status name, the size after and the version in force. */
static trailseal_status rules_case(const struct case_fixture *fx, const char *args,
                                   char **shape) {
  static int made = 0;
  char *path = fmt("%s/cases-rules-%d.redb", workdir, ++made);
  trailseal_ledger *l = NULL;
  char *out = NULL;
  OK(trailseal_ledger_create(path, fx->origin, fx->hash, false, 0, true, &l));
  char *record = member_text(args, "record_refusals");
  OK(trailseal_ledger_set_record_refusals(l, record && strcmp(record, "true") == 0));
  char *document = member_text(args, "document"), *publisher = str_member(args, "publisher");
  trailseal_status st = trailseal_ledger_publish_rules(l, document, publisher, NULL, NULL, &out);
  if (st == TRAILSEAL_STATUS_OK) {
    trailseal_string_free(out);
    out = NULL;
    char *results = xstrdup("");
    const char *it = member(args, "entries"), *s, *e;
    while (it && next_elem(&it, &s, &e)) {
      char *entry = copy_span(s, e), *receipt = NULL, *one;
      trailseal_status a = trailseal_ledger_append(l, entry, &receipt);
      if (a == TRAILSEAL_STATUS_OK)
        one = fmt("%llu", (unsigned long long)u64_member(receipt, "index"));
      else
        one = fmt("\"%s\"", trailseal_status_name(a));
      char *joined = fmt("%s%s%s", results, *results ? "," : "", one);
      free(results);
      results = joined;
      free(one);
      trailseal_string_free(receipt);
      free(entry);
    }
    uint64_t size = 0;
    OK(trailseal_ledger_size(l, &size));
    OK(trailseal_ledger_rules_at(l, TRAILSEAL_SIZE_CURRENT, &out));
    char *version = member_text(out, "version");
    *shape = fmt("{\"results\":[%s],\"size\":%llu,\"version\":%s}", results,
                 (unsigned long long)size, version ? version : "null");
    free(version);
    free(results);
  }
  trailseal_string_free(out);
  trailseal_ledger_free(l);
  free(document);
  free(publisher);
  free(record);
  free(path);
  return st;
}

/* What an `erase` row reads of entry `i`: {"actor", "erased", "sealed"} (an erased entry's
 * actor is null: its commitment is salted afresh in every run). */
static char *erase_read(trailseal_ledger *l, unsigned long long i) {
  char *e = NULL;
  OK(trailseal_ledger_get(l, i, &e));
  char *erased = member_text(e, "erased");
  char *by = erased ? member_text(erased, "by") : NULL;
  char *actor = member_text(e, "actor");
  char *id = by ? NULL : member_text(actor, "id");
  char *sealed = member_text(e, "sealed");
  char *r = fmt("{\"actor\":%s,\"erased\":%s,\"sealed\":%s}", id ? id : "null",
                by ? by : "null", sealed ? sealed : "null");
  free(erased);
  free(by);
  free(actor);
  free(id);
  free(sealed);
  trailseal_string_free(e);
  return r;
}

static trailseal_status apply_holds(trailseal_ledger *l, const char *args, const char *actor,
                                    const char *authz);

/* An `erase` row: a new ledger with the row's personal fields holding its entries (and holds),
 * erased as the row selects; the report, what each index in `read` reads as, the size after. */
static trailseal_status erase_case(const struct case_fixture *fx, const char *args,
                                   char **shape) {
  static int made = 0;
  char *path = fmt("%s/cases-erase-%d.redb", workdir, ++made);
  trailseal_ledger *l = NULL;
  char *out = NULL, *report = NULL;
  char *personal = member_text(args, "personal");
  trailseal_status st = trailseal_ledger_create_personal(path, fx->origin, fx->hash, false, 0, true,
                                                         NULL, personal, &l);
  char *actor = str_member(args, "actor"), *authz = member_text(args, "authz");
  char *entries = member_text(args, "entries"), *select = member_text(args, "select");
  char *reason = str_member(args, "reason"), *basis = str_member(args, "legal_basis");
  char *dry = member_text(args, "dry_run");
  if (st == TRAILSEAL_STATUS_OK) st = trailseal_ledger_append_batch(l, entries, &out);
  trailseal_string_free(out);
  out = NULL;
  if (st == TRAILSEAL_STATUS_OK) st = apply_holds(l, args, actor, authz);
  if (st == TRAILSEAL_STATUS_OK)
    st = trailseal_ledger_erase(l, select, reason, actor, authz, basis, NULL,
                                dry && strcmp(dry, "true") == 0, &report);
  if (st == TRAILSEAL_STATUS_OK) {
    char *reads = xstrdup("");
    const char *it = member(args, "read"), *s, *e;
    while (next_elem(&it, &s, &e)) {
      char *r = erase_read(l, strtoull(s, NULL, 10));
      char *joined = fmt("%s%s%s", reads, *reads ? "," : "", r);
      free(reads);
      free(r);
      reads = joined;
    }
    uint64_t size = 0;
    OK(trailseal_ledger_size(l, &size));
    *shape = fmt("{\"report\":%s,\"reads\":[%s],\"size\":%llu}", report, reads,
                 (unsigned long long)size);
    free(reads);
  }
  trailseal_string_free(report);
  trailseal_ledger_free(l);
  free(personal);
  free(actor);
  free(authz);
  free(entries);
  free(select);
  free(reason);
  free(basis);
  free(dry);
  free(path);
  return st;
}

/* Each hold step of a row's `holds` placed or released in turn by `actor` with `authz`; the
 * first failing status, or OK. */
static trailseal_status apply_holds(trailseal_ledger *l, const char *args, const char *actor,
                                    const char *authz) {
  trailseal_status st = TRAILSEAL_STATUS_OK;
  char *out = NULL;
  const char *it = member(args, "holds"), *s, *e;
  while (st == TRAILSEAL_STATUS_OK && it && next_elem(&it, &s, &e)) {
    char *step = copy_span(s, e);
    char *place = str_member(step, "place"), *release = str_member(step, "release");
    if (place) {
      char *covers = member_text(step, "covers");
      st = trailseal_ledger_place_hold(l, place, covers, actor, authz, &out);
      free(covers);
    } else {
      st = trailseal_ledger_release_hold(l, release, actor, authz, &out);
    }
    trailseal_string_free(out);
    out = NULL;
    free(place);
    free(release);
    free(step);
  }
  return st;
}

/* A `retention` row: a new ledger, the retention rules published (if given), the entries
 * appended, each hold placed or released in turn, then the plan at `at`. */
static trailseal_status retention_case(const struct case_fixture *fx, const char *args,
                                       char **shape) {
  static int made = 0;
  char *path = fmt("%s/cases-retention-%d.redb", workdir, ++made);
  trailseal_ledger *l = NULL;
  char *out = NULL;
  OK(trailseal_ledger_create(path, fx->origin, fx->hash, false, 0, true, &l));
  char *actor = str_member(args, "actor"), *authz = member_text(args, "authz");
  char *document = member_text(args, "document"), *entries = member_text(args, "entries");
  char *at = str_member(args, "at");
  trailseal_status st = TRAILSEAL_STATUS_OK;
  if (document) st = trailseal_ledger_publish_retention_rules(l, document, actor, authz, &out);
  trailseal_string_free(out);
  out = NULL;
  if (st == TRAILSEAL_STATUS_OK) st = trailseal_ledger_append_batch(l, entries, &out);
  trailseal_string_free(out);
  out = NULL;
  if (st == TRAILSEAL_STATUS_OK) st = apply_holds(l, args, actor, authz);
  char *version_json = NULL, *holds = NULL, *plan = NULL;
  if (st == TRAILSEAL_STATUS_OK)
    st = trailseal_ledger_retention_plan(l, at, &plan);
  if (st == TRAILSEAL_STATUS_OK) {
    OK(trailseal_ledger_retention_rules_at(l, TRAILSEAL_SIZE_CURRENT, &version_json));
    OK(trailseal_ledger_legal_holds(l, &holds));
    char *version = member_text(version_json, "version");
    *shape = fmt("{\"version\":%s,\"holds\":%s,\"plan\":%s}", version ? version : "null", holds,
                 plan);
    free(version);
  }
  trailseal_string_free(version_json);
  trailseal_string_free(holds);
  trailseal_string_free(plan);
  trailseal_ledger_free(l);
  free(actor);
  free(authz);
  free(document);
  free(entries);
  free(at);
  free(path);
  return st;
}

/* A read error's message as a `prune` row gives it: from its first "entry ", the time after
 * "pruned on " and the 64 hex digits after "leaf hash " replaced by TIME and HASH, as a JSON
 * string. */
static char *pruned_message(const char *m) {
  const char *from = strstr(m, "entry ");
  char *s = xstrdup(from ? from : m);
  char *at = strstr(s, "pruned on ");
  if (at) {
    at += strlen("pruned on ");
    char *end = strchr(at, ' ');
    char *t = fmt("%.*sTIME%s", (int)(at - s), s, end ? end : "");
    free(s);
    s = t;
  }
  at = strstr(s, "leaf hash ");
  if (at) {
    at += strlen("leaf hash ");
    const char *end = strlen(at) > 64 ? at + 64 : at + strlen(at);
    char *t = fmt("%.*sHASH%s", (int)(at - s), s, end);
    free(s);
    s = t;
  }
  size_t n = strlen(s);
  char *q = malloc(2 * n + 3), *w = q;
  *w++ = '"';
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"' || s[i] == '\\') *w++ = '\\';
    *w++ = s[i];
  }
  *w++ = '"';
  *w = 0;
  free(s);
  return q;
}

/* A `prune` row: a new ledger, the retention rules published, the entries appended (`copies`
 * times, then `then`), each hold placed or released, pruned at `at`; then a read of each index
 * of `read`. */
static trailseal_status prune_case(const struct case_fixture *fx, const char *args,
                                   char **shape) {
  static int made = 0;
  char *path = fmt("%s/cases-prune-%d.redb", workdir, ++made);
  trailseal_ledger *l = NULL;
  char *out = NULL;
  OK(trailseal_ledger_create(path, fx->origin, fx->hash, false, 0, true, &l));
  char *actor = str_member(args, "actor"), *authz = member_text(args, "authz");
  char *document = member_text(args, "document"), *entries = member_text(args, "entries");
  char *then = member_text(args, "then"), *dry = member_text(args, "dry_run");
  char *at = str_member(args, "at");
  unsigned long long copies = member(args, "copies") ? u64_member(args, "copies") : 1;
  trailseal_status st = trailseal_ledger_publish_retention_rules(l, document, actor, authz, &out);
  trailseal_string_free(out);
  out = NULL;
  /* The entries' array `copies` times over, as one array. */
  size_t inner = strlen(entries) - 2;
  char *batch = malloc(copies * (inner + 1) + 3), *w = batch;
  *w++ = '[';
  for (unsigned long long c = 0; c < copies; c++) {
    if (c) *w++ = ',';
    memcpy(w, entries + 1, inner);
    w += inner;
  }
  *w++ = ']';
  *w = 0;
  if (st == TRAILSEAL_STATUS_OK) st = trailseal_ledger_append_batch(l, batch, &out);
  trailseal_string_free(out);
  out = NULL;
  if (st == TRAILSEAL_STATUS_OK && then) st = trailseal_ledger_append_batch(l, then, &out);
  trailseal_string_free(out);
  out = NULL;
  if (st == TRAILSEAL_STATUS_OK) st = apply_holds(l, args, actor, authz);
  bool dry_run = dry && strcmp(dry, "true") == 0;
  if (st == TRAILSEAL_STATUS_OK)
    st = trailseal_ledger_prune(l, at, dry_run, actor, authz, &out);
  if (st == TRAILSEAL_STATUS_OK) {
    char *count = member_text(out, "count"), *pruned = member_text(out, "pruned");
    char *kept = member_text(out, "kept");
    int records = 0;
    const char *rit = member(out, "records"), *rs, *re;
    while (rit && next_elem(&rit, &rs, &re)) records++;
    char *reads = xstrdup("");
    const char *iit = member(args, "read"), *is, *ie;
    while (iit && next_elem(&iit, &is, &ie)) {
      unsigned long long index = strtoull(is, NULL, 10);
      char *entry = NULL, *one;
      trailseal_status got = trailseal_ledger_get(l, index, &entry);
      if (got == TRAILSEAL_STATUS_OK) {
        char *action = member_text(entry, "action");
        one = fmt("{\"index\":%llu,\"action\":%s}", index, action);
        free(action);
        trailseal_string_free(entry);
      } else {
        char *message = pruned_message(trailseal_last_error_message());
        one = fmt("{\"index\":%llu,\"error\":\"%s\",\"message\":%s}", index,
                  trailseal_status_name(got), message);
        free(message);
      }
      char *joined = fmt("%s%s%s", reads, reads[0] ? "," : "", one);
      free(reads);
      free(one);
      reads = joined;
    }
    *shape = fmt("{\"count\":%s,\"pruned\":%s,\"records\":%d,\"kept\":%s,\"reads\":[%s]}",
                 count, pruned, records, kept, reads);
    free(reads);
    free(count);
    free(pruned);
    free(kept);
  }
  trailseal_string_free(out);
  trailseal_ledger_free(l);
  free(batch);
  free(actor);
  free(authz);
  free(document);
  free(entries);
  free(then);
  free(dry);
  free(at);
  free(path);
  return st;
}

/* Runs one row's call: its status, and on success its result shape in *shape. */
static trailseal_status run_case(const struct case_fixture *fx, const char *call,
                                 const char *args, char **shape) {
  char *out = NULL;
  trailseal_status st;
  char *note = str_member(args, "checkpoint");
  char *vkey = str_member(args, "verifier_key");
  if (strcmp(call, "query") == 0) {
    char *filter = member_text(args, "filter");
    st = trailseal_ledger_query(fx->entries, filter, &out);
    if (st == TRAILSEAL_STATUS_OK) *shape = indexes_shape(out, "entries");
    free(filter);
  } else if (strcmp(call, "bundle") == 0) {
    char *selection = member_text(args, "selection");
    st = trailseal_ledger_bundle(fx->entries, selection, fx->signer, &out);
    if (st == TRAILSEAL_STATUS_OK) *shape = indexes_shape(out, "entries");
    free(selection);
  } else if (strcmp(call, "gate") == 0) {
    char *subject = str_member(args, "subject");
    char *policy = member_text(args, "policy");
    st = trailseal_ledger_gate(fx->entries, subject, policy, &out);
    if (st == TRAILSEAL_STATUS_OK) *shape = gate_shape(out);
    free(subject);
    free(policy);
  } else if (strcmp(call, "report") == 0) {
    st = trailseal_ledger_report(fx->entries, args, &out);
    if (st == TRAILSEAL_STATUS_OK) *shape = xstrdup(out);
  } else if (strcmp(call, "verify") == 0) {
    st = trailseal_ledger_verify_with_options(fx->raw, note, vkey, 0, NULL, NULL, &out);
    if (st == TRAILSEAL_STATUS_OK) *shape = verify_shape(out);
  } else if (strcmp(call, "verify_inclusion") == 0) {
    char *proof = member_text(args, "proof");
    char *leaf = str_member(args, "leaf");
    st = leaf ? trailseal_verify_inclusion_leaf(proof, (const uint8_t *)leaf, strlen(leaf), note,
                                                vkey)
              : trailseal_verify_inclusion(proof, note, vkey);
    if (st == TRAILSEAL_STATUS_OK) *shape = xstrdup("{}");
    free(proof);
    free(leaf);
  } else if (strcmp(call, "verify_consistency") == 0) {
    char *proof = member_text(args, "proof");
    st = trailseal_verify_consistency(proof, note, vkey);
    if (st == TRAILSEAL_STATUS_OK) *shape = xstrdup("{}");
    free(proof);
  } else if (strcmp(call, "verify_cosigned") == 0) {
    char *cnote = str_member(args, "note"), *ckey = str_member(args, "verifier_key");
    char *keys = member_text(args, "witness_keys"), *quorum = member_text(args, "quorum");
    st = trailseal_verify_cosigned(cnote, ckey, keys, quorum ? atoll(quorum) : -1, &out);
    if (st == TRAILSEAL_STATUS_OK) *shape = cosigned_shape(out);
    free(cnote);
    free(ckey);
    free(keys);
    free(quorum);
  } else if (strcmp(call, "verify_timestamp_token") == 0) {
    char *hex = str_member(args, "token_hex"), *tnote = str_member(args, "note");
    char *ca = str_member(args, "ca_pem");
    size_t len = 0;
    unsigned char *token = unhex(hex, &len);
    st = trailseal_verify_timestamp_token(token, len, (const uint8_t *)tnote, strlen(tnote), ca,
                                          &out);
    if (st == TRAILSEAL_STATUS_OK) *shape = xstrdup(out);
    free(token);
    free(hex);
    free(tnote);
    free(ca);
  } else if (strcmp(call, "open") == 0) {
    st = open_case(fx, args, shape);
  } else if (strcmp(call, "rules") == 0) {
    st = rules_case(fx, args, shape);
  } else if (strcmp(call, "retention") == 0) {
    st = retention_case(fx, args, shape);
  } else if (strcmp(call, "erase") == 0) {
    st = erase_case(fx, args, shape);
  } else if (strcmp(call, "check_opening") == 0) {
    char *c = str_member(args, "commitment"), *salt = str_member(args, "salt");
    char *v = member_text(args, "value");
    st = trailseal_check_opening(c, salt, v);
    if (st == TRAILSEAL_STATUS_OK) *shape = xstrdup("null");
    free(c);
    free(salt);
    free(v);
  } else if (strcmp(call, "prune") == 0) {
    st = prune_case(fx, args, shape);
  } else if (strcmp(call, "rules_check") == 0) {
    char *document = member_text(args, "document"), *entry = member_text(args, "entry");
    st = trailseal_rules_check(document, entry, &out);
    if (st == TRAILSEAL_STATUS_OK) *shape = xstrdup(out);
    free(document);
    free(entry);
  } else if (strcmp(call, "delivery_report") == 0) {
    char *t = member_text(args, "threshold");
    double threshold = t ? strtod(t, NULL) : 0;
    st = trailseal_ledger_delivery_report(fx->entries, t ? &threshold : NULL, &out);
    if (st == TRAILSEAL_STATUS_OK) *shape = xstrdup(out);
    free(t);
  } else {
    fail_msg(__LINE__, "unknown call %s in the case table", call);
    st = TRAILSEAL_STATUS_INTERNAL;
  }
  trailseal_string_free(out);
  free(note);
  free(vkey);
  return st;
}

static void test_case_table(void) {
  char *path = fmt("%s/tests/vectors/cases.json", repo);
  char *table = read_file(path, NULL);
  free(path);
  CHECK(table != NULL);
  if (!table) return;
  const char *fixture = member(table, "fixture");
  char *origin = str_member(fixture, "origin");
  char *hash = str_member(fixture, "hash");
  char *skey = str_member(fixture, "signer_key");
  struct case_fixture fx = {NULL, NULL, NULL, origin, hash, NULL};
  char *ep = wpath("cases-entries.redb"), *rp = wpath("cases-raw.redb");
  OK(trailseal_ledger_create(ep, origin, hash, false, 0, true, &fx.entries));
  OK(trailseal_ledger_create(rp, origin, hash, true, 0, true, &fx.raw));
  OK(trailseal_signer_from_string(skey, &fx.signer));
  char *entries = member_text(fixture, "entries"), *receipts = NULL;
  const char *first_it = entries, *first_s, *first_e;
  fx.first = next_elem(&first_it, &first_s, &first_e) ? copy_span(first_s, first_e) : NULL;
  CHECK(fx.first != NULL);
  OK(trailseal_ledger_append_batch(fx.entries, entries, &receipts));
  trailseal_string_free(receipts);
  const uint8_t *leaves[64];
  size_t lens[64], n = 0;
  const char *it = member(fixture, "raw_leaves"), *s, *e;
  while (n < 64 && next_elem(&it, &s, &e)) {
    char *leaf = decode_string(s);
    leaves[n] = (const uint8_t *)leaf;
    lens[n++] = strlen(leaf);
  }
  receipts = NULL;
  OK(trailseal_ledger_append_raw_batch(fx.raw, leaves, lens, n, &receipts));
  trailseal_string_free(receipts);
  for (size_t i = 0; i < n; i++) free((void *)leaves[i]);

  int rows = 0;
  it = member(table, "cases");
  while (next_elem(&it, &s, &e)) {
    char *row = copy_span(s, e);
    char *name = str_member(row, "name");
    char *call = str_member(row, "call");
    char *args = member_text(row, "args");
    char *expect = member_text(row, "expect");
    char *shape = NULL;
    const char *skipped = NULL;
    for (size_t k = 0; k < sizeof case_skip / sizeof case_skip[0]; k++)
      if (strcmp(name, case_skip[k][0]) == 0) skipped = case_skip[k][1];
    if (skipped) {
      printf("# skipped \"%s\": %s\n", name, skipped);
      free(expect);
      free(args);
      free(call);
      free(name);
      free(row);
      continue;
    }
    trailseal_status st = run_case(&fx, call, args, &shape);
    char *got = st == TRAILSEAL_STATUS_OK ? fmt("{\"ok\":%s}", shape)
                                          : fmt("{\"error\":\"%s\"}", trailseal_status_name(st));
    char *cg = canon(got), *ce = canon(expect);
    if (cg && ce && strcmp(cg, ce) == 0)
      passed++;
    else
      fail_msg(__LINE__, "case \"%s\": got %s, want %s (%s)", name, got, expect,
               trailseal_last_error_message());
    trailseal_string_free(cg);
    trailseal_string_free(ce);
    free(got);
    free(shape);
    free(expect);
    free(args);
    free(call);
    free(name);
    free(row);
    rows++;
  }
  CHECK(rows >= 60);
  printf("# %d rows of the case table replayed\n", rows);
  free(entries);
  free(fx.first);
  trailseal_signer_free(fx.signer);
  trailseal_ledger_free(fx.entries);
  trailseal_ledger_free(fx.raw);
  free(ep);
  free(rp);
  free(skey);
  free(hash);
  free(origin);
  free(table);
}

/* Pruning: what retention allows goes, a read of it says where it went, the rest reads as
 * before, and compact gives the space back once no handle is open. */
static void test_prune(void) {
  char *path = wpath("prune.redb");
  trailseal_ledger *l = NULL;
  char *out = NULL;
  OK(trailseal_ledger_create(path, "example.com/ffi/prune", NULL, false, 0, true, &l));
  const char *authz = "{\"decision\":\"allow\",\"policy\":\"records-management\"}";
  OK(trailseal_ledger_publish_retention_rules(
      l, "{\"version\":\"v1\",\"default\":\"P1Y\",\"rules\":[{\"action\":\"deploy.*\",\"keep\":\"P100Y\"}]}",
      "records-officer", authz, &out));
  trailseal_string_free(out);
  size_t cap = 200 * 120 + 2, len = 0;
  char *batch = malloc(cap);
  batch[len++] = '[';
  for (int i = 0; i < 200; i++)
    len += (size_t)snprintf(batch + len, cap - len,
                            "%s{\"actor\":{\"id\":\"ci\"},\"action\":\"%s\",\"subject\":{\"type\":"
                            "\"build\",\"id\":\"%d\"}}",
                            i ? "," : "", i == 10 ? "deploy.succeeded" : "build.finished", i);
  snprintf(batch + len, cap - len, "]");
  OK(trailseal_ledger_append_batch(l, batch, &out));
  trailseal_string_free(out);
  free(batch);

  const char *at = "2100-01-01T00:00:00Z";
  OK(trailseal_ledger_prune(l, at, true, "records-officer", authz, &out));
  CHECK(strstr(out, "\"dry_run\":true") && strstr(out, "\"records\":[]"));
  trailseal_string_free(out);
  OK(trailseal_ledger_get(l, 5, &out));
  trailseal_string_free(out);
  OK(trailseal_ledger_prune(l, at, false, "records-officer", authz, &out));
  CHECK(strstr(out, "\"dry_run\":false") && strstr(out, "\"in_retention\":1"));
  trailseal_string_free(out);
  out = SENTINEL;
  EXPECT(TRAILSEAL_STATUS_OUT_OF_RANGE, trailseal_ledger_get(l, 5, &out));
  MSG_HAS("pruned on");
  CHECK(out == SENTINEL);
  OK(trailseal_ledger_pruned(l, 5, &out));
  CHECK(strstr(out, "\"index\":5") && strstr(out, "\"rules_version\":\"v1\""));
  trailseal_string_free(out);
  OK(trailseal_ledger_pruned(l, 11, &out));
  STREQ(out, "null");
  trailseal_string_free(out);
  OK(trailseal_ledger_get(l, 11, &out));
  CHECK(strstr(out, "deploy.succeeded") != NULL);
  trailseal_string_free(out);
  EXPECT(TRAILSEAL_STATUS_MALFORMED,
         trailseal_ledger_prune(l, "not a time", true, "records-officer", authz, &out));
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT,
         trailseal_ledger_prune(l, at, true, "records-officer", authz, NULL));

  bool moved = false;
  EXPECT(TRAILSEAL_STATUS_LOCKED, trailseal_compact(path, &moved));
  trailseal_ledger_free(l);
  OK(trailseal_compact(path, &moved));
  CHECK(moved);
  EXPECT(TRAILSEAL_STATUS_NULL_ARGUMENT, trailseal_compact(path, NULL));
  free(path);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s REPO_ROOT WORKDIR\n", argv[0]);
    return 2;
  }
  repo = argv[1];
  workdir = argv[2];
  /* Before any call, the message is empty. */
  STREQ(trailseal_last_error_message(), "");

  test_library();
  test_signers();
  test_create_open();
  test_sharing();
  test_entries();
  test_raw();
  test_proofs_and_checkpoints();
  test_tampering();
  test_threads();
  test_merkle_vectors("merkle-sha256.json");
  test_merkle_vectors("merkle-blake3.json");
  test_note_vectors();
  test_case_table();
  test_prune();
  test_audit();
  test_cli_made_ledger();
  test_cli_history();
  make_ledger_for_cli();

  printf("# %d conformance vectors checked\n", vector_checks);
  printf("c: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
