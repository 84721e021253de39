# Sourced by the scripts: create .venv and install the pinned requirements
# when they changed since the last install.
VENV="${STUDYNAUT_VENV:-.venv}"
REQUIREMENTS="${1:-requirements.txt}"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "Studynaut needs Python 3.10 or newer (found: $("$PYTHON" --version 2>&1))." >&2
    exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating the virtualenv in $VENV ..."
    "$PYTHON" -m venv "$VENV"
fi
STAMP="$VENV/.installed-$(cat requirements.txt "$REQUIREMENTS" | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
    echo "Installing $REQUIREMENTS ..."
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    touch "$STAMP"
fi
