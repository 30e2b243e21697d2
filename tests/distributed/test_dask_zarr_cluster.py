"""Scale-out: archives to and from Zarr (bit-exact), Dask-array restoration equal to the
whole-frame restore, and many inputs on a small LocalCluster with per-input results and errors."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import srcodec  # noqa: E402
from srcodec.cli import main  # noqa: E402
from srcodec.distributed.cluster import archive_to_zarr, run_many, zarr_to_archive  # noqa: E402
from srcodec.distributed.daskarray import cached_restorer, restore  # noqa: E402
from srcodec.distributed.zarrstore import ATTRS_KEY, open_zarr  # noqa: E402
from srcodec.errors import DataError, SrcodecError  # noqa: E402
from srcodec.lowres import get_codec  # noqa: E402


@pytest.fixture(scope="module")
def strong_weights(tmp_path_factory):
    """A tiny EDSR whose every weight is large, so the network (not only its bicubic skip)
    reaches across block seams."""
    import torch

    from srcodec import create_model, save_model

    torch.manual_seed(1)
    model = create_model("edsr", blocks=2, features=8, bicubic_skip=True)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    path = tmp_path_factory.mktemp("strong") / "strong.safetensors"
    save_model(model, path, "strong-test-x2")
    return path


@pytest.fixture
def archive(photo_dir, tmp_path, tiny_weights):
    path = tmp_path / "cam.src"
    srcodec.encode(photo_dir, path, weights=[tiny_weights], codec="png")
    return path


def _lowres(path):
    with srcodec.open(path) as a:
        return a.names, np.stack([a.lowres(i) for i in range(len(a))])


def test_archive_to_zarr_and_back_is_bit_exact(archive, tmp_path):
    names, frames = _lowres(archive)
    store = tmp_path / "cam.zarr"
    array = archive_to_zarr(archive, store, chunk_frames=2)
    assert array.shape == (3, 60, 80, 3) and array.chunks == (2, 60, 80, 3)
    reread = open_zarr(store)
    np.testing.assert_array_equal(reread[:], frames)
    attrs = reread.attrs[ATTRS_KEY]
    assert attrs["names"] == names and attrs["sizes"] == [[160, 120]] * 3
    with srcodec.open(archive) as a:
        assert json.loads(attrs["header"])["model_id"] == a.header.model_id
    with pytest.raises(SrcodecError, match="already holds Zarr data"):
        archive_to_zarr(archive, store)

    back = zarr_to_archive(store, tmp_path / "back.src")
    back_names, back_frames = _lowres(back)
    assert back_names == names
    np.testing.assert_array_equal(back_frames, frames)
    with srcodec.open(archive) as a, srcodec.open(back) as b:
        assert b.header == a.header  # kept verbatim, creation time included
    # Re-encoded with another codec on the way back: the same pixels.
    other = zarr_to_archive(store, tmp_path / "zstd.src", codec="zstd")
    with srcodec.open(other) as b:
        assert get_codec(b.header.codec) == get_codec("zstd")
    np.testing.assert_array_equal(_lowres(other)[1], frames)


def test_zarr_without_srcodec_attributes(tmp_path, tiny_weights, photo):
    import zarr

    frames = np.stack([photo[:40, :50], photo[100:140, :50]])
    store = tmp_path / "plain.zarr"
    zarr.create_array(store, shape=frames.shape, chunks=(1, 40, 50, 3), dtype="uint8")[:] = frames
    with pytest.raises(SrcodecError, match="unknown model"):
        zarr_to_archive(store, tmp_path / "plain.src", model="no-such-model")
    out = zarr_to_archive(store, tmp_path / "plain.src", weights=[tiny_weights])
    with srcodec.open(out) as a:
        assert a.names == ["frame_000000", "frame_000001"]
        assert a.header.model_id.startswith("tiny-test-x2@")
        assert get_codec(a.header.codec) == get_codec("jxl")
        assert a.info()["sizes"] == {"100x80 RGB": 2}
        np.testing.assert_array_equal(a.lowres(1), frames[1])


def test_mixed_sizes_cannot_be_one_array(tmp_path, photo, tiny_weights):
    path = tmp_path / "mixed.src"
    srcodec.encode([("a", photo[:40, :40]), ("b", photo[:60, :40])], path, weights=[tiny_weights])
    with pytest.raises(DataError, match="2 sizes"):
        archive_to_zarr(path, tmp_path / "mixed.zarr")


@pytest.mark.parametrize("chunks", [(1, 16, 24, 3), (2, 30, 40, 3), (3, 25, 80, 3)])
def test_dask_restore_equals_whole_frame_restore(archive, strong_weights, chunks):
    _, frames = _lowres(archive)
    restorer = cached_restorer(weights=[strong_weights], engine="torch")
    whole = np.stack([restorer.restore(f) for f in frames])
    lazy = restore(da.from_array(frames, chunks=chunks), weights=[strong_weights], engine="torch")
    assert lazy.shape == (3, 120, 160, 3) and lazy.chunks[3] == (3,)
    assert lazy.chunks[0] == da.from_array(frames, chunks=chunks).chunks[0]
    restored = lazy.compute(scheduler="threads")
    assert restored.dtype == np.uint8
    assert np.abs(restored.astype(int) - whole).max() <= 1
    assert (restored != whole).mean() < 0.01
    # The same model object serves every block of the process.
    assert cached_restorer(weights=[strong_weights], engine="torch") is restorer


def test_dask_restore_of_a_zarr_array_equals_the_archive_decode(archive, tmp_path, tiny_weights):
    store = tmp_path / "cam.zarr"
    archive_to_zarr(archive, store)
    lazy = restore(open_zarr(store), weights=[tiny_weights], engine="torch")
    restored = lazy.rechunk((1, 60, 80, 3)).compute(scheduler="threads")
    decoded = np.stack([f for _, f in srcodec.decode(archive, weights=[tiny_weights])])
    assert np.abs(restored.astype(int) - decoded).max() <= 1


def test_dask_restore_keeps_a_zarr_arrays_frame_chunks(tmp_path, tiny_weights, monkeypatch):
    """A stored array's chunks are the blocks (dask's from_array would merge 4-frame chunks
    into blocks of ~128 MiB: 3 tasks for 1000 frames), and one frame restores only its chunk."""
    import zarr

    from srcodec.distributed import daskarray as srcodec_dask

    big = zarr.create_array(
        tmp_path / "big.zarr", shape=(1000, 288, 384, 3), chunks=(4, 288, 384, 3), dtype="uint8"
    )
    lazy = restore(big, weights=[tiny_weights], engine="torch")
    assert lazy.chunks[0] == (4,) * 250 and lazy.numblocks == (250, 1, 1, 1)
    store = zarr.create_array(
        tmp_path / "small.zarr", shape=(16, 24, 32, 3), chunks=(4, 24, 32, 3), dtype="uint8"
    )
    store[:] = np.random.default_rng(0).integers(0, 256, store.shape, dtype=np.uint8)
    restored = []
    real = srcodec_dask.cached_restorer

    @functools.wraps(real)
    def counting(*args, **kwargs):
        restorer = real(*args, **kwargs)
        batch = restorer.restore_batch

        class Counting:
            def restore_batch(self, frames, sizes, origins=None):
                restored.append(len(frames))
                return batch(frames, sizes)

        return Counting()

    monkeypatch.setattr(srcodec_dask, "cached_restorer", counting)
    lazy = restore(store, weights=[tiny_weights], engine="torch")
    assert lazy.numblocks[0] == 4
    lazy[5].compute(scheduler="sync")
    assert restored == [4]  # the second 4-frame chunk only


def test_dask_restore_grayscale_and_bad_input(tiny_weights, photo):
    gray = np.stack([photo[:50, :60, 1], photo[200:250, :60, 1]])[..., None]
    restorer = cached_restorer(weights=[tiny_weights], engine="torch")
    whole = np.stack([restorer.restore(f[..., 0]) for f in gray])[..., None]
    blocks = da.from_array(gray, chunks=(1, 25, 30, 1))
    lazy = restore(blocks, weights=[tiny_weights], engine="torch")
    assert np.abs(lazy.compute().astype(int) - whole).max() <= 1
    with pytest.raises(SrcodecError, match="frames x H x W x C"):
        restore(np.zeros((2, 8, 8, 2), np.uint8), weights=[tiny_weights])
    with pytest.raises(SrcodecError, match="engin"):
        restore(gray, weights=[tiny_weights], engin="onnx")


# --- many inputs on a LocalCluster --------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes, shared by the tests of this module."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as c:
        yield c


@pytest.fixture
def sources(tmp_path, photo_dir):
    second = tmp_path / "second"
    second.mkdir()
    (photo_dir / "coffee.png").rename(second / "coffee.png")
    empty = tmp_path / "empty"
    empty.mkdir()
    return [photo_dir, second, empty]


def test_run_many_on_a_local_cluster(cluster, sources, tmp_path, tiny_weights):
    out = tmp_path / "archives"
    with distributed.Client(cluster) as client:
        results = run_many(
            "encode", sources, out, client=client, weights=[tiny_weights], codec="png"
        )
    assert [r.ok for r in results] == [True, True, False]  # one bad input stops nothing
    assert results[0].output == str(out / "photos.src") and "2 frames" in results[0].summary
    assert "no frames found" in results[2].error
    with srcodec.open(out / "second.src") as a:
        assert a.names == ["coffee.png"]
    # The same through the scheduler's address; archives to folders, one missing.
    archives = [out / "photos.src", tmp_path / "missing.src", out / "second.src"]
    results = run_many(
        "decode", archives, tmp_path / "restored", scheduler=cluster.scheduler_address,
        bicubic=True,
    )  # fmt: skip
    assert [r.ok for r in results] == [True, False, True]
    assert "missing.src" in results[1].error
    assert sorted(p.name for p in (tmp_path / "restored" / "photos").iterdir()) == [
        "astronaut.png",
        "chelsea.png",
    ]


def test_run_many_refuses_clashing_outputs(tmp_path):
    with pytest.raises(SrcodecError, match="would both be written"):
        run_many("encode", [tmp_path / "a" / "cam", tmp_path / "b" / "cam"], tmp_path, workers=1)
    with pytest.raises(SrcodecError, match="unknown kind"):
        run_many("train", [tmp_path], tmp_path)


def test_cli_many_inputs_and_zarr(cluster, sources, tmp_path, tiny_weights):
    runner = CliRunner()
    out = tmp_path / "archives"
    args = ["--scheduler", cluster.scheduler_address, "-o", str(out)]
    r = runner.invoke(
        main, ["encode", *map(str, sources), *args, "--weights", str(tiny_weights), "-q"]
    )
    assert r.exit_code == 1, r.output
    assert "2 of 3 inputs done, 1 failed" in r.output and "no frames found" in r.output
    assert (out / "photos.src").is_file() and (out / "second.src").is_file()

    store = tmp_path / "photos.zarr"
    r = runner.invoke(main, ["export-zarr", str(out / "photos.src"), str(store)])
    assert r.exit_code == 0, r.output
    assert "2 frames of 80x60x3" in r.output
    r = runner.invoke(main, ["export-zarr", str(out / "photos.src"), str(store)])
    assert r.exit_code == 1 and "--force" in r.output
    r = runner.invoke(main, ["import-zarr", str(store), str(tmp_path / "back.src")])
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(_lowres(tmp_path / "back.src")[1], _lowres(out / "photos.src")[1])

    archives = [str(out / "photos.src"), str(out / "second.src")]
    r = runner.invoke(main, ["decode", *archives, "--bicubic", "-q"])
    assert r.exit_code == 2 and "--workers" in r.output
    r = runner.invoke(main, ["decode", *archives, *args, "--bicubic", "-q"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "archives" / "second" / "coffee.png").is_file()


def test_encode_options_a_worker_would_drop_are_refused(tmp_path, photo_dir):
    """``encode --workers/--scheduler`` writes plain archives: --adapt and the video selection
    were dropped in silence (archives without the update asked for); now refused, nothing
    started."""
    out = tmp_path / "archives"
    for extra in (["--adapt"], ["--every", "2"], ["--start", "3"]):
        args = ["encode", str(photo_dir), "-o", str(out), "--workers", "1", *extra]
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1 and extra[0] in r.output and "--workers" in r.output, r.output
    assert not out.exists()
