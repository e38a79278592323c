"""The server's limits: the protocol core's, plus those of forms and bodies.

One frozen value configures a whole server; see the limits table in
``docs/howto/http-server.rst``. Give your own with
``Server(bind, limits=Limits(max_body_size=100 * MiB))`` or change single fields
with :func:`attrs.evolve`.
"""

from __future__ import annotations

import attrs

from ._protocol import Limits as ProtocolLimits
from ._protocol._limits import KiB, MiB, _positive

__all__ = ["KiB", "Limits", "MiB"]


@attrs.frozen
class Limits(ProtocolLimits):
    """Every size and time limit of an HTTP server, with safe defaults.

    The request-line, header, body and timeout limits are enforced as the bytes
    arrive (status in brackets); the form limits when a handler reads a form.
    """

    #: Request bodies larger than this are spooled to a temporary file instead of
    #: being kept in memory; uploaded files likewise.
    spool_threshold: int = attrs.field(default=1 * MiB, validator=_positive)
    #: Most fields (and files) in one form [413].
    max_form_fields: int = attrs.field(default=1000, validator=_positive)
    #: Largest value of one non-file form field [413].
    max_form_field_size: int = attrs.field(default=1 * MiB, validator=_positive)
    #: Largest header section of one multipart part [400].
    max_part_head_size: int = attrs.field(default=16 * KiB, validator=_positive)
