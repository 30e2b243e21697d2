"""Lossy archives: the lossy codecs (deterministic decode, CRC of the decoded frames), the
identity model (no network needed), the candidate choice at equal bytes, the header, and
training pairs made with a codec in the loop."""

from __future__ import annotations

import numpy as np
import pytest

import srcodec
from srcodec.archive.lossywriter import Candidate, Sample, choose, encode_lossy, quality_setting
from srcodec.engines import choose as engine
from srcodec.engines.identity import IDENTITY_MODEL, IdentityRestorer
from srcodec.engines.tiling import TiledRestorer
from srcodec.errors import CorruptError, FormatError, ModelError, SrcodecError
from srcodec.lowres import get_codec, is_lossy
from srcodec.lowres.lossy import Av1Codec, AvifCodec, HevcCodec, rgb_for
from srcodec.metrics import psnr
from srcodec.resample import downscale
from srcodec.training.config import TrainConfig
from srcodec.training.degrade import parse_degradation
from srcodec.training.trainer import _build_model, load_pairs


@pytest.fixture(scope="module")
def clip(photo) -> list[np.ndarray]:
    """Six 96x64 frames of a real photo panning (inter prediction has work to do)."""
    return [np.ascontiguousarray(photo[100:164, 50 + 3 * k : 146 + 3 * k]) for k in range(6)]


@pytest.mark.parametrize(
    "spec",
    [{"id": "hevc", "crf": 30, "preset": "ultrafast"}, {"id": "av1", "crf": 40, "preset": 10}],
)
def test_lossy_group_round_trip_is_deterministic_and_checked(clip, spec):
    codec = get_codec(spec)
    data = codec.encode_group(clip)
    first = codec.decode_group(data, 96, 64, 3, len(clip))
    again = codec.decode_group(data, 96, 64, 3, len(clip))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert 25 < np.mean([psnr(a, b) for a, b in zip(clip, first, strict=True)]) < 60
    assert not np.array_equal(first[0], clip[0])  # lossy: the CRC is of the decoded frames
    damaged = bytearray(data)
    damaged[-5] ^= 0x40
    with pytest.raises(CorruptError):
        codec.decode_group(bytes(damaged), 96, 64, 3, len(clip))


@pytest.mark.parametrize("codec_id", ["hevc", "av1"])
def test_lossy_odd_and_grey_frames(clip, codec_id):
    codec = get_codec({"id": codec_id, "crf": 20})
    assert is_lossy(codec) and codec.get_config()["crf"] == 20
    odd = [f[:63, :95] for f in clip[:2]]
    out = codec.decode_group(codec.encode_group(odd), 95, 63, 3, 2)
    assert out[0].shape == (63, 95, 3) and psnr(odd[0], out[0]) > 30
    # Grey frames keep their values (AV1 codes them as luma with neutral chroma: a gray ->
    # yuv420p reformat would squeeze them into 16..235, 28 dB instead of 44 at this CRF).
    grey = [f[:, :, 1] for f in clip[:2]]
    out = codec.decode_group(codec.encode_group(grey), 96, 64, 1, 2)
    assert out[1].shape == (64, 96) and psnr(grey[1], out[1]) > 38


def test_av1_one_key_frame_per_group(clip):
    """A group is one key frame and inter frames (FFmpeg's default would put one every 12)."""
    import av

    codec = Av1Codec(crf=40, preset=10)
    frames = [clip[k % len(clip)] for k in range(30)]
    extradata, packets = codec._encode_stream(frames)
    ctx = av.CodecContext.create("libdav1d", "r")
    keys = [f.key_frame for p in [*packets, None] for f in ctx.decode(p and av.Packet(p))]
    assert len(keys) == 30 and keys[0] and not any(keys[1:])


def test_avif_round_trip_and_seal(clip):
    codec = AvifCodec(quality=60)
    data = codec.encode(clip[0])
    out = codec.decode(data, 96, 64, 3)
    assert np.array_equal(out, codec.decode(data, 96, 64, 3)) and psnr(clip[0], out) > 25
    with pytest.raises(CorruptError):
        codec.decode(data[:-1] + bytes([data[-1] ^ 1]), 96, 64, 3)


def test_quality_maps_onto_the_codec_setting():
    assert [quality_setting("hevc", q) for q in (100, 0, 50)] == [0, 51, 26]
    assert quality_setting("avif", 70) == 70
    assert [quality_setting("av1", q) for q in (100, 0, 50)] == [1, 63, 32]
    with pytest.raises(SrcodecError):
        quality_setting("hevc", 101)
    with pytest.raises(SrcodecError, match="lossless"):
        quality_setting("png", 50)


def test_rate_search_meets_the_rate(clip):
    sample = Sample(clip)
    target = sample.bpp(1, 30)
    crf = sample.setting_for_rate(1, target)
    assert crf <= 30 and sample.bpp(1, crf) <= target
    assert crf == 0 or sample.bpp(1, crf - 1) > target  # the best quality within the rate


class _Negative(TiledRestorer):
    """A restorer that ruins frames (their negative)."""

    def __init__(self) -> None:
        super().__init__(1, 0)

    def restore_batch(self, frames, sizes, origins=None):
        return [255 - f for f in frames]


class _Oracle(TiledRestorer):
    """A restorer that knows the originals of the measured frames."""

    def __init__(self, originals) -> None:
        super().__init__(1, 0)
        self.originals = originals

    def restore_batch(self, frames, sizes, origins=None):
        return [o.copy() for o in self.originals]


def test_choice_picks_the_better_candidate(clip):
    sample = Sample(clip)
    base, bad = Candidate("base", 1, IDENTITY_MODEL), Candidate("bad", 1, "negative")
    best, trials = choose(sample, [(base, IdentityRestorer()), (bad, _Negative())], quality=50)
    assert best.candidate == "base" and len(trials) == 2
    assert trials[0].bytes == trials[1].bytes  # scale-1 candidates: the same stream
    good = Candidate("oracle", 1, "oracle")
    oracle = _Oracle([clip[k] for k in sample.picks])
    best, _ = choose(sample, [(base, IdentityRestorer()), (good, oracle)], bpp=sample.bpp(1, 35))
    assert best.candidate == "oracle" and best.psnr == float("inf")


def test_identity_archive_records_its_choice_and_decodes_without_a_network(
    clip, tmp_path, monkeypatch
):
    frames = [(f"f{k}", f) for k, f in enumerate(clip)]
    out = tmp_path / "lossy.src"
    s = encode_lossy(
        frames, out, quality=60, candidates=[Candidate("base", 1, IDENTITY_MODEL)], group=4
    )
    assert s.frames == 6 and s.archive_bytes == out.stat().st_size and s.bpp > 0
    assert s.model_id == IDENTITY_MODEL and s.chosen.setting == quality_setting("av1", 60)

    def no_network(*args, **kwargs):
        raise AssertionError("a network was asked for")

    monkeypatch.setattr(engine, "make_restorer", no_network)
    with srcodec.open(out) as archive:
        h = archive.header
        assert (h.model_id, h.scale) == (IDENTITY_MODEL, 1)
        # AV1 by default, decoded to RGB by the conversion that fits the frames
        assert h.codec == {
            "id": "srcodec.av1",
            "crf": 26,
            "preset": 6,
            "rgb": rgb_for(clip),
            "bits": 10,
        }
        assert h.extra["lossy"]["quality"] == 60 and h.extra["lossy"]["candidate"] == "base"
        decoded = dict(archive.frames())
        assert archive[4].shape == clip[4].shape
    assert list(decoded) == [n for n, _ in frames]
    assert all(psnr(f, decoded[n]) > 30 for n, f in frames)


def test_avif_stills_archive(clip, tmp_path):
    base = Candidate("base", 1, IDENTITY_MODEL)
    s = encode_lossy(clip[:2], tmp_path / "a.src", bpp=3.0, codec="avif", candidates=[base])
    assert s.bpp <= 3.0 * 1.2  # the sample's rate, plus the archive's own bytes
    with srcodec.open(tmp_path / "a.src") as archive:
        assert archive.header.codec["id"] == "srcodec.avif"
        assert psnr(clip[1], archive[1]) > 25


def test_candidates_without_their_model_are_left_out(clip, tmp_path):
    missing = Candidate("x1", 1, "no-such-model")
    base = Candidate("base", 1, IDENTITY_MODEL)
    s = encode_lossy(clip[:2], tmp_path / "a.src", bpp=2.0, candidates=[missing, base])
    assert [t.candidate for t in s.trials] == ["base"]
    with pytest.raises(ModelError):
        encode_lossy(clip[:2], tmp_path / "b.src", bpp=2.0, candidates=[missing])


def test_degradation_spec():
    d = parse_degradation("hevc:crf=22-38,copies=3,clip=4,preset=ultrafast")
    assert (d.codec, d.low, d.high, d.copies, d.clip) == ("srcodec.hevc", 22, 38, 3, 4)
    qs = d.qualities(np.random.default_rng(0))
    assert len(qs) == 3 and all(22 <= q <= 38 for q in qs) and qs == sorted(qs)
    for bad in ("png:level=1-3", "hevc", "hevc:crf=40-20", "hevc:crf=a", "nosuch:crf=1"):
        with pytest.raises(SrcodecError):
            parse_degradation(bad)


@pytest.mark.parametrize(("scale", "rgb"), [(1, ""), (2, ""), (1, "auto")])
def test_training_pairs_with_a_codec_in_the_loop(clip, tmp_path, scale, rgb):
    """The input is the frames as the codec decodes them: without ``rgb`` in the spec by
    the conversion of archives before it (``fast``), with ``rgb=auto`` by the one an archive
    of those frames would record."""
    from PIL import Image

    for k, f in enumerate(clip[:4]):
        Image.fromarray(f).save(tmp_path / f"f{k}.png")
    spec = "hevc:crf=30,copies=2,clip=4,preset=ultrafast" + (f",rgb={rgb}" if rgb else "")
    pairs = load_pairs(tmp_path, scale=scale, degradation=parse_degradation(spec))
    assert len(pairs) == 8 and pairs[0].name == "f0.png@30"
    lows = [downscale(f, scale) for f in clip[:4]]
    coded = HevcCodec(30, "ultrafast", rgb=rgb_for(lows) if rgb else "fast")
    h, w = lows[0].shape[:2]
    expected = coded.decode_group(coded.encode_group(lows), w, h, 3, 4)
    for k, pair in enumerate(pairs):
        assert np.array_equal(pair.hr, clip[k % 4])  # the target is the original
        assert np.array_equal(pair.lr, expected[k % 4])  # the input is what the codec gives back


def test_x1_models_train_only_with_a_degradation():
    with pytest.raises(ModelError, match="degrade"):
        _build_model(TrainConfig(family="plain", scale=1), None)
    model, cfg, _ = _build_model(TrainConfig(family="plain", scale=1, degrade="hevc:crf=30"), None)
    assert model.config.scale == 1 and cfg.scale == 1


def test_cli_quality_writes_a_lossy_archive_and_reports_the_choice(clip, tmp_path):
    from click.testing import CliRunner
    from PIL import Image

    from srcodec.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    for k, f in enumerate(clip[:3]):
        Image.fromarray(f).save(folder / f"f{k}.png")
    out = tmp_path / "a.src"
    result = CliRunner().invoke(main, ["encode", str(folder), "-o", str(out), "--quality", "70"])
    assert result.exit_code == 0, result.output
    assert "candidate base (x1, srcodec.identity): crf 20" in result.output
    assert "lossy" in result.output and out.is_file()
    with srcodec.open(out) as archive:
        assert archive.header.extra["lossy"]["quality"] == 70
        assert len(list(archive.frames())) == 3
    bad = CliRunner().invoke(
        main, ["encode", str(folder), "-o", str(out), "--bpp", "1", "--append"]
    )
    assert bad.exit_code != 0 and "--append" in bad.output
    # --adapt tunes the chosen candidate's model and says what came of it (it was refused)
    adapt = ["encode", str(folder), "-o", str(tmp_path / "b.src"), "--quality", "70", "--adapt"]
    result = CliRunner().invoke(main, [*adapt, "--adapt-steps", "2"])
    assert result.exit_code == 0, result.output
    assert "\nadapt: " in result.output and (tmp_path / "b.src").is_file()


def test_lossy_archive_carries_an_update_for_its_decoded_frames(photo, tmp_path):
    """``encode --quality --adapt``: the x1 model is tuned on the frames as the archive decodes
    them, the update stored (counted in the bytes), applied alike by both engines, and better
    than the general x1 model on those frames."""
    from srcodec.archive.lossywriter import X1_MODEL
    from srcodec.training.adapt import AdaptConfig

    frames = [
        (f"f{k}", np.ascontiguousarray(photo[60:252, 20 + 4 * k : 276 + 4 * k])) for k in range(8)
    ]
    x1 = [Candidate("x1", 1, X1_MODEL)]
    cfg = AdaptConfig(seconds=None, steps=60, patch=48, lr=2e-3, threads=1, max_share=1.0)
    cfg.target_share = None  # the finest int8: this tiny archive's 3 % is a few hundred bytes
    plain = encode_lossy(frames, tmp_path / "p.src", quality=45, candidates=x1, group=4)
    s = encode_lossy(frames, tmp_path / "a.src", quality=45, candidates=x1, group=4, adapt=cfg)
    assert s.adapted is not None and s.adapted.update is not None, s.adapted.reason
    assert s.model_id.startswith(plain.model_id + "+update@")
    assert s.archive_bytes == (tmp_path / "a.src").stat().st_size
    assert s.archive_bytes >= plain.archive_bytes + s.update_bytes > plain.archive_bytes
    hr = dict(frames)
    restored = {}
    for path, engine_name in ((plain.path, "torch"), (s.path, "torch"), (s.path, "onnx")):
        with srcodec.open(path, engine=engine_name) as archive:
            restored[path, engine_name] = dict(archive.frames())
    by_torch, by_onnx = restored[s.path, "torch"], restored[s.path, "onnx"]
    assert all(np.abs(by_torch[n].astype(int) - by_onnx[n].astype(int)).max() <= 1 for n in hr)
    mean = lambda out: np.mean([psnr(hr[n], out[n]) for n in hr])  # noqa: E731
    assert mean(by_torch) > mean(restored[plain.path, "torch"]) + 0.1
    # The base codec alone has no model to tune: said, nothing stored.
    base = [Candidate("base", 1, IDENTITY_MODEL)]
    b = encode_lossy(frames, tmp_path / "b.src", quality=45, candidates=base, adapt=cfg)
    assert b.adapted.update is None and "nothing to tune" in b.adapted.reason
    assert b.model_id == IDENTITY_MODEL


def test_each_codec_has_its_bundled_x1_model():
    """AV1 archives are restored by the x1 model trained on AV1's artefacts, x265 ones by
    x265's, each as archives decode them since the accurate YUV -> RGB conversion; AVIF (no
    model of its own, decoded by libavif) gets x265's of before. All are bundled."""
    from srcodec.archive.lossywriter import X1_MODEL, default_candidates
    from srcodec.models.store import get_model

    x1 = {codec: default_candidates(codec)[1].model for codec in ("av1", "hevc", "avif")}
    assert x1 == {"av1": "srcodec-av1-x1-v3", "hevc": "srcodec-hevc-x1-v3", "avif": X1_MODEL}
    for name in set(x1.values()):
        info = get_model(name)
        assert info.scale == 1 and info.path.is_file()
    assert [c.name for c in default_candidates()] == ["base", "x1", "x2"]


def test_lossy_and_adaptation_are_public_api():
    """``import srcodec`` offers lossy archives and the adaptation config (lazily: no torch)."""
    import subprocess
    import sys

    code = (
        "import sys, srcodec; assert 'torch' not in sys.modules; "
        "from srcodec.archive.lossywriter import encode_lossy; "
        "assert srcodec.encode_lossy is encode_lossy; "
        "assert srcodec.AdaptConfig().target_share == 0.03"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_av1_rate_grows_to_its_best_setting(clip):
    """The rate search assumes more bytes at each better setting: AV1's best is CRF 1, since
    FFmpeg's SVT-AV1 wrapper codes CRF 0 as if unset (its default, 35: a rate search for a high
    rate settled on CRF 0 and got a low one). CRF 0 is refused."""
    sizes = [len(Av1Codec(crf).encode_group(clip[:3])) for crf in (1, 10, 35, 63)]
    assert sizes == sorted(sizes, reverse=True)
    with pytest.raises(FormatError, match="crf"):
        Av1Codec(0)


class _Oracle2(_Oracle):
    """A perfect x2 candidate (it knows the originals)."""

    def __init__(self, originals) -> None:
        super().__init__(originals)
        self.scale = 2


def test_a_rate_that_cannot_be_met_is_said_and_the_nearest_wins(clip, tmp_path):
    """``--bpp 0.01`` wrote 0.0262 bpp (the best PSNR won among candidates all over the rate,
    not the lowest rate); ``--bpp 5`` and ``--bpp 50`` both wrote the best setting's rate;
    exit 0 and no word each time."""
    from srcodec.archive.lossywriter import rate_note
    from srcodec.errors import SrcodecWarning

    sample = Sample(clip)
    base, x2 = Candidate("base", 1, IDENTITY_MODEL), Candidate("x2", 2, "oracle")
    pair = [(base, IdentityRestorer()), (x2, _Oracle2([clip[k] for k in sample.picks]))]
    # These small frames: x2's lowest rate (a stream of its own) is above base's.
    assert sample.bpp(2, 63) > sample.bpp(1, 63)
    low = sample.bpp(1, 63) / 2
    best, trials = choose(sample, pair, bpp=low)
    assert best.candidate == "base" and best.bpp == min(t.bpp for t in trials)
    assert best.psnr < trials[1].psnr == float("inf")  # the rate first, not the better PSNR
    note = rate_note(best, low)
    assert note.startswith(f"--bpp {low:g} cannot be met") and f"{best.bpp:.4f} bpp" in note
    high = 20 * sample.bpp(1, 1)
    best, _ = choose(sample, pair, bpp=high)
    assert best.setting == 1 and "best quality" in rate_note(best, high)
    met = sample.bpp(1, 35)
    best, _ = choose(sample, pair, bpp=met)
    assert best.bpp <= met and rate_note(best, met) == ""
    # encode_lossy warns (the CLI prints it on one line) and the summary keeps the note
    with pytest.warns(SrcodecWarning, match="cannot be met"):
        s = encode_lossy(clip[:3], tmp_path / "a.src", bpp=low, candidates=[base])
    assert "cannot be met" in s.rate_note and s.chosen.setting == 63


def test_srcodec_encode_writes_lossy_archives_at_a_quality_or_rate(clip, tmp_path):
    """The documented Python API: ``srcodec.encode(..., quality=...)`` or ``bpp=...`` (it had
    neither)."""
    s = srcodec.encode(clip[:3], tmp_path / "q.src", quality=60)
    assert isinstance(s, srcodec.LossySummary) and s.frames == 3
    with srcodec.open(s.path) as archive:
        assert archive.header.extra["lossy"]["quality"] == 60 and len(archive) == 3
    s = srcodec.encode(clip[:3], tmp_path / "b.src", bpp=1.0, codec="hevc", group=2)
    assert s.chosen.bpp <= 1.0 and s.model_id != ""
    with srcodec.open(s.path) as archive:
        assert archive.header.codec["id"] == "srcodec.hevc" and len(archive.info()["groups"]) == 2
    with pytest.raises(SrcodecError, match="lossy"):
        srcodec.encode(clip[:3], tmp_path / "m.src", quality=60, skip_bad=True)


@pytest.mark.parametrize("kind", ["1x1", "flat"])
def test_lossy_tiny_and_flat_frames_print_no_nan_or_inf(kind, tmp_path):
    """1x1 frames printed ``nan dB`` for every candidate (the PSNR's border shaved them to
    nothing); flat frames ``inf dB``. Now the PSNR of the whole frame, or "identical"."""
    from click.testing import CliRunner
    from PIL import Image

    from srcodec.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(4):
        frame = (
            rng.integers(0, 256, (1, 1, 3), dtype=np.uint8)
            if kind == "1x1"
            else np.full((32, 32, 3), 128, np.uint8)
        )
        Image.fromarray(frame).save(folder / f"f{k}.png")
    out = tmp_path / "a.src"
    r = CliRunner().invoke(main, ["encode", str(folder), "-o", str(out), "--quality", "50"])
    assert r.exit_code == 0, r.output
    assert r.output.count("candidate ") == 3
    assert "nan" not in r.output and "inf" not in r.output, r.output
    if kind == "flat":
        assert "identical on the first frames" in r.output
