#!/usr/bin/env bash
# Makes the PKI of the test time-stamp authority in DIR (created): an ECDSA P-256 CA with an
# ECDSA TSA certificate, an RSA CA with an RSA TSA certificate, an unrelated CA, and the
# `openssl ts -reply` configuration (tsa.cnf) with one section per TSA. The ECDSA TSA names
# its certificate by ESSCertID (SHA-1, OpenSSL's default) and writes whole seconds; the RSA one
# uses ESSCertIDv2 and writes genTime with milliseconds, as several public TSAs do.
set -euo pipefail
dir=${1:?usage: make_pki.sh DIR}
mkdir -p "$dir"
cd "$dir"
q() { openssl "$@" 2>/dev/null; }

cat > ext.cnf <<'CNF'
[tsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

ca() { # name key-algorithm-options...
  local name=$1; shift
  q genpkey "$@" -out "$name.key"
  q req -x509 -new -key "$name.key" -subj "/CN=trailseal test $name" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$name.pem"
}
tsa() { # name ca key-algorithm-options...
  local name=$1 issuer=$2; shift 2
  q genpkey "$@" -out "$name.key"
  q req -new -key "$name.key" -subj "/CN=trailseal test $name" -out "$name.csr"
  q x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -CAcreateserial \
    -days 3650 -sha256 -extfile ext.cnf -extensions tsa -out "$name.pem"
}
ec=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256)
rsa=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048)
ca ca-ec "${ec[@]}"
ca ca-rsa "${rsa[@]}"
ca ca-other "${ec[@]}"
tsa tsa-ec ca-ec "${ec[@]}"
tsa tsa-rsa ca-rsa "${rsa[@]}"
echo 01 > serial

section() { # name cert key ess-alg clock-precision-digits
  cat <<CNF
[ $1 ]
dir = $PWD
serial = \$dir/serial
crypto_device = builtin
signer_cert = \$dir/$2
signer_key = \$dir/$3
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = $4
clock_precision_digits = $5
CNF
}
{
  printf '[ tsa ]\ndefault_tsa = tsa_ec\n'
  section tsa_ec tsa-ec.pem tsa-ec.key sha1 0
  section tsa_rsa tsa-rsa.pem tsa-rsa.key sha256 3
} > tsa.cnf
