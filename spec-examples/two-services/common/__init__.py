"""Code shared by both services."""

import os
import socket


def service_info(name: str) -> dict[str, str]:
    return {"service": name, "host": socket.gethostname(), "port": os.environ.get("PORT", "")}
