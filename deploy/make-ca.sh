#!/bin/sh
# SPDX-License-Identifier: AGPL-3.0-only
# A throwaway CA with a server and a client certificate for NATS over TLS (tests, trials; use your
# own PKI in production). Usage: deploy/make-ca.sh DIR [SERVER-NAME...]
# Writes DIR/ca.pem, DIR/server-cert.pem, DIR/server-key.pem, DIR/client-cert.pem, DIR/client-key.pem.
# The server certificate is valid for localhost, 127.0.0.1 and the names given (e.g. "nats" in compose).
set -eu
dir=${1:?usage: make-ca.sh DIR [SERVER-NAME...]}
shift
mkdir -p "$dir"
cd "$dir"
umask 077
san="DNS:localhost,IP:127.0.0.1"
for n in "$@"; do san="$san,DNS:$n"; done
days=825

openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=intelmq-nats test CA" \
  -keyout ca-key.pem -out ca.pem >/dev/null 2>&1

cert() { # name, subject, extensions
  openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1-key.pem" -out "$1.csr" >/dev/null 2>&1
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days "$days" \
    -extfile "$1.ext" -out "$1-cert.pem" >/dev/null 2>&1
  rm -f "$1.csr" "$1.ext"
}
cert server "/CN=nats-server" "subjectAltName=$san
extendedKeyUsage=serverAuth,clientAuth"
cert client "/CN=intelmq-client" "extendedKeyUsage=clientAuth"
rm -f ca.srl
chmod 644 ca.pem server-cert.pem client-cert.pem
echo "CA and certificates in $(pwd)"
