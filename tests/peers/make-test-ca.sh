#!/bin/sh
# make-test-ca.sh DIR - a throw-away CA and a server certificate for the
# SMTP tests, all in DIR:
#   ca.crt ca.key          the test CA
#   server.crt server.key  a server cert for DNS:localhost (SAN), signed by
#                          the CA (libesmtp matches DNS names only, no IP SANs)
# EC P-256 keys keep it fast; valid for 30 days; quiet unless it fails.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir"
cd "$dir"
log=make-test-ca.log
{
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout ca.key -out ca.crt -days 30 \
        -subj "/CN=segalert test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
    printf '%s\n' "subjectAltName=DNS:localhost" "basicConstraints=CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" > server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
        -CAcreateserial -out server.crt -days 30 -extfile server.ext
} >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
rm -f "$log" server.csr server.ext ca.srl
