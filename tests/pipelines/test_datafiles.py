"""Data files: found under TITANS_DATA_DIR, else the cache, else downloaded; always checked by sha256."""

import hashlib

import pytest

from titans.pipelines import InputError
from titans.pipelines.datafiles import DataFile

CONTENT = b"date,OT\n2020-01-01,1.0\n"
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    data, cache = tmp_path / "data", tmp_path / "cache"
    monkeypatch.setenv("TITANS_DATA_DIR", str(data))
    monkeypatch.setenv("TITANS_CACHE_DIR", str(cache))
    return data, cache


def test_the_data_directory_comes_first(dirs):
    data, _ = dirs
    (data / "forecasting").mkdir(parents=True)
    (data / "forecasting" / "x.csv").write_bytes(CONTENT)
    assert DataFile("forecasting/x.csv", "https://invalid.invalid/x.csv", SHA).fetch() == data / "forecasting" / "x.csv"


def test_a_damaged_file_is_refused_by_name(dirs):
    data, _ = dirs
    (data / "forecasting").mkdir(parents=True)
    (data / "forecasting" / "x.csv").write_bytes(CONTENT + b"junk")
    with pytest.raises(InputError, match=r"x.csv: sha256 .* does not match"):
        DataFile("forecasting/x.csv", "https://invalid.invalid/x.csv", SHA).fetch()


def test_a_download_is_verified_and_cached(dirs, tmp_path):
    _, cache = dirs
    source = tmp_path / "remote.csv"
    source.write_bytes(CONTENT)
    file = DataFile("forecasting/x.csv", source.as_uri(), SHA)
    assert file.fetch() == cache / "forecasting" / "x.csv"
    assert (cache / "forecasting" / "x.csv").read_bytes() == CONTENT
    source.unlink()  # the second time it comes from the cache
    assert file.fetch() == cache / "forecasting" / "x.csv"


def test_a_wrong_download_leaves_nothing_behind(dirs, tmp_path):
    _, cache = dirs
    source = tmp_path / "remote.csv"
    source.write_bytes(b"something else")
    with pytest.raises(InputError, match="does not match its sha256"):
        DataFile("forecasting/x.csv", source.as_uri(), SHA).fetch()
    assert not [path for path in cache.rglob("*") if path.is_file()]


def test_offline_errors_say_where_to_put_the_file(dirs):
    with pytest.raises(InputError, match=r"cannot download .*; place the file at .*forecasting/x.csv"):
        DataFile("forecasting/x.csv", "http://127.0.0.1:9/x.csv", SHA).fetch()
    with pytest.raises(InputError, match="not found at"):
        DataFile("forecasting/x.csv", "http://127.0.0.1:9/x.csv", SHA).fetch(download=False)
