"""Container health check: GET /health/live on this container's server, Python standard library only.

Exit status 0 when the server answers 200, else 1. The request carries a Host header the
settings allow (the first of ALLOWED_HOSTS), so production host checking does not reject it.
"""

import os
import sys
import urllib.request


def allowed_host() -> str:
    for host in os.environ.get("ALLOWED_HOSTS", "localhost").split(","):
        host = host.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def main() -> int:
    port = os.environ.get("BIND", "0.0.0.0:8000").rsplit(":", 1)[-1]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/health/live", headers={"Host": allowed_host()}
    )
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
