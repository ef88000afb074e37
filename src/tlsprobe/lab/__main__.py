"""`python -m tlsprobe.lab`: run the lab in the foreground until Ctrl-C."""

from __future__ import annotations

import time

from tlsprobe.lab import Lab


def main() -> None:
    with Lab() as lab:
        endpoints = lab.endpoints
        name_width = max(len(endpoint.name) for endpoint in endpoints)
        url_width = max(len(endpoint.url) for endpoint in endpoints)
        for endpoint in endpoints:
            print(
                f"{endpoint.name:<{name_width}}  {endpoint.url:<{url_width}}  "
                f"{endpoint.description}"
            )
        # Inside the try: a Ctrl-C that comes as soon as the line is out (the tests send one
        # then) may interrupt print() itself, before it returns.
        try:
            print(f"CA file: {lab.ca_file}", flush=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
