"""`python -m tlsprobe.lab`: run the lab in the foreground until Ctrl-C."""

from __future__ import annotations

import time

from tlsprobe.lab import Lab


def main() -> None:
    # Ctrl-C may come at any moment, even while the lab starts or prints: the lab is stopped
    # and removed on the way out all the same, and the exit is quiet.
    try:
        with Lab() as lab:
            endpoints = lab.endpoints
            name_width = max(len(endpoint.name) for endpoint in endpoints)
            url_width = max(len(endpoint.url) for endpoint in endpoints)
            for endpoint in endpoints:
                print(
                    f"{endpoint.name:<{name_width}}  {endpoint.url:<{url_width}}  "
                    f"{endpoint.description}"
                )
            print(f"CA file: {lab.ca_file}", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
