"""Fixtures shared by hub-core's tests: S3 and GCS servers on 127.0.0.1, a dataset path in memory or on disk."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

# No test may reach a cloud metadata service or a real cloud: pin the SDKs to local, explicit config.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ["NO_GCE_CHECK"] = "true"  # google-auth honours only the lowercase value
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_var, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing-key"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing-secret"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_CONFIG_FILE"] = os.devnull

from tests.core.servers_gcs import gcs_bucket_url, gcs_server  # noqa: E402,F401
from tests.core.servers_s3 import s3_bucket_url, s3_server  # noqa: E402,F401


@pytest.fixture(params=["mem", "local"])
def path(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test makes its dataset: once in memory, once on local disk."""
    return f"mem://{uuid.uuid4().hex}" if request.param == "mem" else str(tmp_path / "ds")
