"""A local S3 stand-in: moto's server on 127.0.0.1 and a free port."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalS3:
    endpoint: str
    server: object

    def stop(self) -> None:
        self.server.stop()


def start_local_s3(port: int | None = None, bucket: str = "mrm-demo") -> LocalS3:
    """Start moto's S3 server and point boto3 at it through AWS_ENDPOINT_URL (dummy credentials)."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one INFO line per request otherwise

    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="mrm-demo",
        AWS_SECRET_ACCESS_KEY="mrm-demo",
        AWS_DEFAULT_REGION="us-east-1",
    )
    import boto3

    boto3.client("s3").create_bucket(Bucket=bucket)
    return LocalS3(endpoint, server)
