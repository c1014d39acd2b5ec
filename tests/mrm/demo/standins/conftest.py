"""The ``tls`` fixture: a self-signed certificate for 127.0.0.1 (tests/tls_support.py) for the SMTP
stand-in's STARTTLS, trusted by clients through its CA file."""

from __future__ import annotations

import pytest
from tls_support import Tls, self_signed


@pytest.fixture(scope="session")
def tls(tmp_path_factory) -> Tls:
    return self_signed(tmp_path_factory.mktemp("tls"))
