import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from headway.errors import ArtifactError, ChecksumMismatchError
from headway.store.artifacts import ArtifactStore


def _blob_path(store: ArtifactStore, sha: str) -> Path:
    return Path(store._key(sha))


def test_identical_content_is_stored_once(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    (tmp_path / "x.bin").write_bytes(b"same bytes")
    (tmp_path / "y.bin").write_bytes(b"same bytes")
    first, second = store.put_file(tmp_path / "x.bin"), store.put_file(tmp_path / "y.bin")
    assert first == second
    assert first.sha256 == hashlib.sha256(b"same bytes").hexdigest()
    assert len([p for p in (tmp_path / "a").rglob("*") if p.is_file()]) == 1


def test_round_trip_through_bytes_and_files(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    data = bytes(range(256)) * 5000
    blob = store.put_bytes(data)
    assert store.get_bytes(blob.sha256) == data
    out = store.get_file(blob.sha256, tmp_path / "out" / "copy.bin")
    assert out.read_bytes() == data
    assert store.exists(blob.sha256)


def test_a_corrupted_blob_is_refused_on_read(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    blob = store.put_bytes(b"model weights")
    _blob_path(store, blob.sha256).write_bytes(b"tampered weights")
    with pytest.raises(ChecksumMismatchError, match="corrupt"):
        store.get_bytes(blob.sha256)
    with pytest.raises(ChecksumMismatchError):
        store.get_file(blob.sha256, tmp_path / "dest.bin")
    assert not (tmp_path / "dest.bin").exists()  # no half-verified file left behind


def test_a_missing_blob_is_a_clear_error(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    with pytest.raises(ArtifactError, match="missing from the artifact store"):
        store.get_bytes("0" * 64)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server (moto's standalone server) on 127.0.0.1."""
    moto_server = pytest.importorskip("moto.server")
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="headway")
    yield endpoint
    server.stop()


@pytest.mark.s3
def test_s3_compatible_store_round_trips_and_dedupes(s3_endpoint: str, tmp_path: Path) -> None:
    options = {
        "key": "test",
        "secret": "test",
        "client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
    }
    store = ArtifactStore("s3://headway/ledger", options)
    (tmp_path / "m.bin").write_bytes(b"x" * 100_000)
    blob = store.put_file(tmp_path / "m.bin")
    assert store.put_bytes(b"x" * 100_000) == blob
    assert store.get_bytes(blob.sha256) == b"x" * 100_000
    assert store.get_file(blob.sha256, tmp_path / "back.bin").read_bytes() == b"x" * 100_000
    assert len(store.fs.find("headway/ledger")) == 1
    store.fs.pipe_file(store._key(blob.sha256), b"y" * 10)
    with pytest.raises(ChecksumMismatchError):
        store.get_bytes(blob.sha256)
