"""Reading input frames: 16-bit frames refused alike whatever their channels, and a JPEG's EXIF
orientation applied, so the frame archived is the one a viewer shows."""

import io

import imagecodecs
import numpy as np
import pytest
from PIL import Image

import srcodec
from srcodec.errors import FrameError
from srcodec.inputs import ORIENTATION, read_frame


def _deep(photo: np.ndarray) -> np.ndarray:
    return photo[:24, :32].astype(np.uint16) * 257 + 3  # low bytes that 8 bits would drop


def _opaque(a: np.ndarray) -> np.ndarray:
    return np.dstack([a, np.full(a.shape[:2], 65535, np.uint16)])


@pytest.mark.parametrize(
    "channels",
    [
        pytest.param(lambda a: a[:, :, 0], id="gray"),
        pytest.param(lambda a: a, id="rgb"),
        pytest.param(lambda a: _opaque(a), id="rgba"),
        pytest.param(lambda a: _opaque(a[:, :, 0]), id="la"),
    ],
)
def test_16_bit_pngs_are_refused_alike(tmp_path, photo, channels):
    path = tmp_path / "deep.png"
    path.write_bytes(imagecodecs.png_encode(np.ascontiguousarray(channels(_deep(photo)))))
    with pytest.raises(FrameError, match=r"deep.png: unsupported image mode \S+ \(16-bit"):
        read_frame(path)
    with pytest.raises(FrameError, match="deep.png: unsupported image mode"):
        srcodec.encode([path], tmp_path / "a.src")
    assert not (tmp_path / "a.src").exists()


def test_16_bit_rgb_tiff_is_refused(tmp_path, photo):
    path = tmp_path / "deep.tif"
    path.write_bytes(imagecodecs.tiff_encode(_deep(photo)))
    with pytest.raises(FrameError, match="deep.tif: unsupported image mode"):
        read_frame(path)


def test_8_bit_frames_are_still_read_as_they_are(tmp_path, photo):
    for name, array in (("rgb.png", photo[:24, :32]), ("gray.tif", photo[:24, :32, 1])):
        Image.fromarray(np.ascontiguousarray(array)).save(tmp_path / name)
        assert np.array_equal(read_frame(tmp_path / name), array)


def _jpeg(array: np.ndarray, orientation: int | None) -> bytes:
    image = Image.fromarray(array)
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def test_exif_orientation_is_applied(tmp_path, photo):
    """Orientation 6: the camera was turned a quarter clockwise; viewers turn the stored pixels
    90 degrees clockwise, and so does srcodec before archiving."""
    stored = np.ascontiguousarray(photo[100:180, 40:160])  # 120 wide, 80 high as stored
    (tmp_path / "turned.jpg").write_bytes(_jpeg(stored, 6))
    (tmp_path / "plain.jpg").write_bytes(_jpeg(stored, None))
    plain = read_frame(tmp_path / "plain.jpg")
    upright = read_frame(tmp_path / "turned.jpg")
    assert plain.shape == (80, 120, 3) and upright.shape == (120, 80, 3)
    assert np.array_equal(upright, np.rot90(plain, k=-1))  # same JPEG pixels, turned
    out = tmp_path / "a.src"
    srcodec.encode([tmp_path / "turned.jpg"], out)
    with srcodec.open(out) as archive:
        assert archive.lowres(0).shape == (60, 40, 3)
    (tmp_path / "upright.jpg").write_bytes(_jpeg(stored, 1))
    assert np.array_equal(read_frame(tmp_path / "upright.jpg"), plain)
