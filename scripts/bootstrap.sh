#!/usr/bin/env bash
# Creates the virtualenv and installs smsctl with its test extras; installs Debian packages it needs.
set -euo pipefail
venv=${1:-.venv}

apt_install() {
  # Debian packages are installed only when missing; `apt-get update` once first.
  if [ "$(id -u)" != 0 ]; then echo "bootstrap: need root to apt-get install $*" >&2; return 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

python=""
for candidate in python3.11 python3.12 python3.13 python3; do
  if command -v "$candidate" >/dev/null &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=$candidate; break
  fi
done
if [ -z "$python" ]; then
  apt_install python3 python3-venv python3-dev
  python=python3
fi
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  apt_install python3-venv
fi

# The PromQL, promtool and amtool tests run against the real Prometheus 2.42 and Alertmanager 0.25.
if ! command -v promtool >/dev/null || ! command -v amtool >/dev/null || [ ! -x /usr/bin/prometheus ]; then
  echo "bootstrap: installing Prometheus and Alertmanager from Debian"
  apt_install prometheus prometheus-alertmanager
fi

echo "bootstrap: creating $venv with $("$python" --version)"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
echo "bootstrap: installing smsctl and its test extras"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
"$venv/bin/python" -c 'import controlplane, fastapi, sqlalchemy, nats, msgspec' # fail loudly if the install did not take
