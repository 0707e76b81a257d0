# Sourced by dev.sh and test.sh: make .venv with Python 3.11+ and install the project into it.
# Usage: install_into_venv '.[test]'
install_into_venv() {
    local py="${PYTHON:-python3}"
    "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
        echo "listing-search needs Python 3.11+, $("$py" --version 2>&1) found (set PYTHON=python3.11)" >&2
        exit 1
    }
    [ -x .venv/bin/python ] || "$py" -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$1"
}
