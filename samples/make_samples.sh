#!/bin/sh
# Regenerate the committed sample captures with the in-memory reference endpoint.
# Run from anywhere; needs the dissector package importable (pip install -e . in the repository root).
# Keys, randoms and timestamps are new on every run, so the files change; what they show does not.
set -eu
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m dissector generate --force -o . \
    tls12-rsa-aes128-cbc \
    tls12-ecdhe-rsa-aes128-gcm \
    tls13-aes128-gcm \
    tls10-rsa-aes128-cbc \
    tls12-resume-id \
    tls12-mtls \
    tls12-rsa-cbc-no-etm \
    tls12-dhe-rsa-aes256-cbc-sha256 \
    tls12-ecdhe-ecdsa-chacha20 \
    tls11-ecdhe-rsa-aes256-cbc \
    tls13-hrr \
    tls13-resume \
    tls13-keyupdate \
    tls13-0rtt \
    oauth2
