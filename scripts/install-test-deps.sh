#!/usr/bin/env bash
# Installs the Debian packages the tests drive (real OCI clients, the reference registry).
# Idempotent: does nothing when everything is present. Needs root (or sudo) for apt-get.
set -euo pipefail
need=()
command -v skopeo >/dev/null || need+=(skopeo)
command -v umoci >/dev/null || need+=(umoci)
command -v podman >/dev/null || need+=(podman)
command -v buildah >/dev/null || need+=(buildah)
command -v ctr >/dev/null || need+=(containerd)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v flatc >/dev/null || need+=(flatbuffers-compiler) # the zTOC tests decode with code flatc generates from SOCI's schema
# PyPI repositories (test/pypi): twine uploads, Debian's python3 with pip, setuptools and wheel builds and installs
command -v twine >/dev/null || need+=(twine)
/usr/bin/python3 -c 'import setuptools, wheel, pip' 2>/dev/null || need+=(python3-setuptools python3-wheel python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# PostgreSQL for the scale-out tests (metadata conformance on postgres, replicas e2e): a local
# cluster on 127.0.0.1:5432 that user postgres reaches without a password. In CI (CI set) those
# tests fail rather than skip when it is unreachable, so make sure it is installed and running.
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
if ! command -v pg_lsclusters >/dev/null; then
  echo "installing: postgresql"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql
fi
for cluster in $(pg_lsclusters -h 2>/dev/null | awk '$4 != "online" { print $1 "/" $2 }'); do
  echo "starting PostgreSQL cluster ${cluster}"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "${cluster%/*}" "${cluster#*/}" start || true
done
if ! pg_isready -q -h 127.0.0.1 -p 5432 -t 10; then
  echo "warning: PostgreSQL does not answer on 127.0.0.1:5432" >&2
elif ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  # a fresh Debian cluster asks for a password over TCP: let local test connections in
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf 2>/dev/null | head -n 1)
  if [ -n "$hba" ]; then
    echo "pg_hba: trusting 127.0.0.1 for the tests (${hba})"
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    for cluster in $(pg_lsclusters -h | awk '{ print $1 "/" $2 }'); do
      $SUDO pg_ctlcluster --skip-systemctl-redirect "${cluster%/*}" "${cluster#*/}" reload || true
    done
  fi
fi
