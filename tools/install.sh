#!/usr/bin/env bash
# Set up a virtual environment with mmseg-dpc and everything it needs.
#
#   bash tools/install.sh            # creates ./.venv unless VENV is set
#
# mmcv 2.1.0 (what mmseg 1.2.x needs) has no wheel on PyPI. A wheel that pip
# can find (PIP_FIND_LINKS, or this script's cache) installs in seconds;
# otherwise the sdist is built with the two fixes torch 2.14 needs
# (setuptools<81 without build isolation, since its setup.py imports
# pkg_resources; C++20 instead of the C++17 it hard-codes) - about 40 minutes
# on 2 cores - and the wheel is cached in $MMSEG_DPC_WHEEL_CACHE so that the
# next set-up installs it in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
MMCV_VERSION=${MMCV_VERSION:-2.1.0}
WHEEL_CACHE=${MMSEG_DPC_WHEEL_CACHE:-$HOME/.cache/mmseg-dpc/wheels}

mkdir -p "$WHEEL_CACHE"
export PIP_FIND_LINKS="${PIP_FIND_LINKS:-} $WHEEL_CACHE"
export PIP_DISABLE_PIP_VERSION_CHECK=1

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip="$VENV/bin/python -m pip"

echo "[install] build tools and torch ($TORCH_SPEC)"
$pip install -q "setuptools<81" wheel
# shellcheck disable=SC2086
$pip install -q "setuptools<81" $TORCH_SPEC

if $pip install -q --only-binary=mmcv "mmcv==$MMCV_VERSION" "setuptools<81"; then
    echo "[install] mmcv $MMCV_VERSION from a wheel"
else
    echo "[install] no mmcv $MMCV_VERSION wheel found: building it from the" \
         "sdist (about 40 minutes on 2 cores); the wheel goes to $WHEEL_CACHE"
    src=$(mktemp -d)
    trap 'rm -rf "$src"' EXIT
    $pip download -q --no-deps --no-binary :all: --no-build-isolation \
        "mmcv==$MMCV_VERSION" -d "$src"
    tar xzf "$src/mmcv-$MMCV_VERSION.tar.gz" -C "$src"
    sed -i 's/-std=c++17/-std=c++20/g' "$src/mmcv-$MMCV_VERSION/setup.py"
    $pip install -q "setuptools<81" ninja
    (cd "$src/mmcv-$MMCV_VERSION" &&
        MMCV_WITH_OPS=1 "$OLDPWD/$VENV/bin/python" -m pip wheel \
            --no-build-isolation --no-deps . -w "$WHEEL_CACHE")
    $pip install -q --only-binary=mmcv "mmcv==$MMCV_VERSION"
fi

# The tests start a real PostgreSQL server (shared search studies).
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "[install] PostgreSQL server (Debian package postgresql)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq postgresql >/dev/null
    else
        echo "[install] note: no PostgreSQL server found; install the" \
             "postgresql package to run the shared-study test"
    fi
fi

echo "[install] mmseg-dpc and its dependencies"
$pip install -q --no-build-isolation -e ".[search,ray,postgres,tests,convert]" \
    "setuptools<81"
"$VENV/bin/python" -c "import mmseg_dpc, mmcv.ops; print('[install] ok: mmseg_dpc', mmseg_dpc.__version__)"
