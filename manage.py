#!/bin/sh
# Run as ./manage.py: the shell part below re-runs this file with the project's virtualenv (.venv)
# when there is one, else with python3 from PATH. Python reads the same lines as a string.
""":"
here=$(dirname "$0")
if [ -x "$here/.venv/bin/python" ]; then exec "$here/.venv/bin/python" "$0" "$@"; fi
exec python3 "$0" "$@"
":"""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
