#!/bin/sh
# One-shot MinIO setup, run by the `minio-init` service in the minio/mc image: the buckets of
# the RSEs (WAVEFIER_BUCKETS, space separated; they must match the protocol prefixes in
# ../rucio-init/rses.json) and a non-admin user for wavefier with read-write access, so that
# clients never hold MinIO's root credentials. Safe to run again.
set -eu

: "${MINIO_URL:?set MINIO_URL, e.g. http://minio:9000}"
: "${MINIO_ROOT_USER:?set MINIO_ROOT_USER}"
: "${MINIO_ROOT_PASSWORD:?set MINIO_ROOT_PASSWORD}"
: "${WAVEFIER_S3_ACCESS_KEY:?set WAVEFIER_S3_ACCESS_KEY}"
: "${WAVEFIER_S3_SECRET_KEY:?set WAVEFIER_S3_SECRET_KEY}"
: "${WAVEFIER_BUCKETS:?set WAVEFIER_BUCKETS to the RSE buckets}"

mc alias set stack "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
for bucket in $WAVEFIER_BUCKETS; do
  mc mb --ignore-existing "stack/$bucket"
done
mc admin user add stack "$WAVEFIER_S3_ACCESS_KEY" "$WAVEFIER_S3_SECRET_KEY"
# Attaching a policy that is already attached is an error in mc; it is not one here.
mc admin policy attach stack readwrite --user "$WAVEFIER_S3_ACCESS_KEY" 2>/dev/null ||
  mc admin policy entities stack --user "$WAVEFIER_S3_ACCESS_KEY" | grep -q readwrite
echo "minio-init: buckets ready: $WAVEFIER_BUCKETS; user $WAVEFIER_S3_ACCESS_KEY has readwrite"
