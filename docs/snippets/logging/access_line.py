"""The combined access-log line of a request, as docs/reference/logging.rst shows it.

The log writes local time; this program sets the time zone to UTC first, so that it prints
the same line on every machine.
"""

import os
import time

from relays_logging import AccessRecord, format_combined

os.environ["TZ"] = "UTC"
time.tzset()

record = AccessRecord(
    remote="127.0.0.1",
    time=1795379367.25,  # 22 November 2026, 20:29:27.25 UTC
    method="GET",
    target="/a?b=1",
    protocol="HTTP/1.1",
    status=200,
    size=5,
    referer=None,
    user_agent=b"curl/8.5.0",
    duration_us=412,
)
print(format_combined(record))
