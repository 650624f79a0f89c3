"""A photograph's metadata through `zoo denoise`: EXIF, XMP and ICC kept in JPEG, PNG and TIFF,
zoo named as the Software, the EXIF orientation applied to the pixels and reset to 1;
--strip-metadata writes none."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image as PILImage
from PIL import TiffImagePlugin

import zoo
from zoo.cli import main
from zoo.imageio import read_image
from zoo.metadata import orient

ICC = b"\x00\x00\x02\x0cfake-icc-profile" * 8  # carried as bytes: its content is the input's business
XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
       b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
       b'tiff:Orientation="6"><dc:subject><rdf:Bag><rdf:li>harbour</rdf:li></rdf:Bag></dc:subject>'
       b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def full_exif(orientation: int = 6) -> PILImage.Exif:
    """A camera JPEG's EXIF: camera, dates, exposure, lens, GPS, artist and copyright."""
    rational = TiffImagePlugin.IFDRational
    exif = PILImage.Exif()
    exif.update({271: "Canon", 272: "Canon EOS R5", 274: orientation, 306: "2024:05:06 07:08:09",
                 315: "Jo Photographer", 33432: "(c) 2024 Jo Photographer", 282: rational(300, 1),
                 283: rational(300, 1), 296: 2})
    exif.get_ifd(0x8769).update({
        0x829A: rational(1, 250), 0x829D: rational(28, 10), 0x8827: 3200, 0x9000: b"0232",
        0x9003: "2024:05:06 07:08:09", 0x9004: "2024:05:06 07:08:09", 0x9204: rational(-1, 3),
        0x920A: rational(50, 1), 0xA002: 48, 0xA003: 32, 0xA434: "RF50mm F1.8 STM",
    })
    exif.get_ifd(0x8825).update({0: b"\x02\x03\x00\x00", 1: "N", 2: (rational(52, 1), rational(30, 1), rational(0, 1)),
                                 3: "E", 4: (rational(13, 1), rational(24, 1), rational(0, 1))})
    return exif


def camera_jpeg(path, orientation: int = 6):
    """A 48x32 (stored) JPEG with a red top-left corner, shown 32x48 when turned by ``orientation``."""
    rgb = np.full((32, 48, 3), 90, np.uint8)
    rgb[:8, :8] = (240, 10, 10)
    PILImage.fromarray(rgb).save(path, quality=98, exif=full_exif(orientation).tobytes(), icc_profile=ICC, xmp=XMP)
    return rgb


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    model = zoo.create_model("mwrcanet", in_channels=3, widths=(8, 16, 16), depth=1)
    return zoo.save(model, tmp_path_factory.mktemp("w") / "srgb.safetensors")


def denoise(weights, *args) -> int:
    return main(["denoise", "mwrcanet", "--weights", str(weights), *map(str, args)])


def tags_of(path):
    with PILImage.open(path) as picture:
        exif = picture.getexif()
        return dict(exif), exif.get_ifd(0x8769), exif.get_ifd(0x8825), picture.info.get("icc_profile"), picture.info.get("xmp")


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_exif_xmp_and_icc_are_carried_and_the_orientation_applied(tmp_path, weights, capsys, suffix):
    camera_jpeg(tmp_path / "shot.jpg")
    target = tmp_path / f"clean{suffix}"
    assert denoise(weights, tmp_path / "shot.jpg", "-o", target) == 0, capsys.readouterr().err
    written = read_image(target)
    assert written.data.shape == (3, 48, 32)  # turned upright: portrait
    red = written.data[0] > 0.7
    assert red[:8, -8:].mean() > 0.9 and red[8:].mean() < 0.05  # orientation 6: the stored top-left is now top-right
    main_ifd, exif, gps, icc, xmp = tags_of(target)
    assert main_ifd[274] == 1  # the tag is reset: no viewer turns it a second time
    assert main_ifd[271] == "Canon" and main_ifd[272] == "Canon EOS R5" and main_ifd[306] == "2024:05:06 07:08:09"
    assert main_ifd[315] == "Jo Photographer" and main_ifd[33432] == "(c) 2024 Jo Photographer"
    assert main_ifd[0x0131].startswith(f"zoo {zoo.__version__} (mwrcanet)")
    assert exif[0x9003] == "2024:05:06 07:08:09" and exif[0x8827] == 3200 and exif[0xA434] == "RF50mm F1.8 STM"
    assert float(exif[0x829A]) == pytest.approx(1 / 250) and float(exif[0x9204]) == pytest.approx(-1 / 3)
    assert (exif[0xA002], exif[0xA003]) == (32, 48)  # the written size
    assert gps[1] == "N" and [float(v) for v in gps[2]] == [52, 30, 0]
    assert icc == ICC
    assert b'tiff:Orientation="1"' in xmp and b"harbour" in xmp


def test_a_tiff_keeps_its_tags_in_the_exif_ifd(tmp_path, weights, capsys):
    camera_jpeg(tmp_path / "shot.jpg")
    assert denoise(weights, tmp_path / "shot.jpg", "-o", tmp_path / "clean.tif") == 0, capsys.readouterr().err
    with tifffile.TiffFile(tmp_path / "clean.tif") as tif:
        tags = tif.pages.first.tags
        assert tags["ExifTag"].value["DateTimeOriginal"] == "2024:05:06 07:08:09"
        assert tags["GPSTag"].value["GPSLatitudeRef"] == "N"
        assert "DateTimeOriginal" not in tags and tags["Orientation"].value == 1
        np.testing.assert_array_equal(tif.asarray().shape, (48, 32, 3))


def test_a_pictures_metadata_goes_into_each_format(tmp_path, weights, capsys):
    """A 16-bit TIFF's metadata reaches a PNG, and a PNG's a TIFF: the carrying does not depend on JPEG."""
    camera_jpeg(tmp_path / "shot.jpg")
    assert denoise(weights, tmp_path / "shot.jpg", "-o", tmp_path / "a.tif") == 0
    assert denoise(weights, tmp_path / "a.tif", "-o", tmp_path / "b.png") == 0
    assert denoise(weights, tmp_path / "b.png", "-o", tmp_path / "c.tif") == 0, capsys.readouterr().err
    main_ifd, exif, gps, icc, _ = tags_of(tmp_path / "c.tif")
    assert main_ifd[33432] == "(c) 2024 Jo Photographer" and exif[0x9003] == "2024:05:06 07:08:09" and gps[1] == "N"
    assert icc == ICC and read_image(tmp_path / "c.tif").data.shape == (3, 48, 32)  # turned once, not three times


def test_strip_metadata_writes_none_but_still_turns_the_picture(tmp_path, weights, capsys):
    camera_jpeg(tmp_path / "shot.jpg")
    for suffix in (".jpg", ".png", ".tif"):
        target = tmp_path / f"bare{suffix}"
        assert denoise(weights, tmp_path / "shot.jpg", "-o", target, "--strip-metadata") == 0, capsys.readouterr().err
        main_ifd, exif, gps, icc, xmp = tags_of(target)
        assert not {271, 272, 306, 315, 33432} & main_ifd.keys() and not exif and not gps and icc is None and xmp is None
        assert read_image(target).data.shape == (3, 48, 32)


def test_jpeg_quality_is_asked_for(tmp_path, weights, capsys):
    camera_jpeg(tmp_path / "shot.jpg")
    assert denoise(weights, tmp_path / "shot.jpg", "-o", tmp_path / "low.jpg", "--quality", "20") == 0
    assert denoise(weights, tmp_path / "shot.jpg", "-o", tmp_path / "high.jpg", "--quality", "100") == 0
    assert (tmp_path / "low.jpg").stat().st_size < (tmp_path / "high.jpg").stat().st_size
    capsys.readouterr()
    assert denoise(weights, tmp_path / "shot.jpg", "-o", tmp_path / "x.jpg", "--quality", "101") == 2
    err = capsys.readouterr().err
    assert "--quality" in err.strip().splitlines()[-1] and "Traceback" not in err and not (tmp_path / "x.jpg").exists()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_shows_the_picture_as_a_viewer_does(orientation):
    """Pillow's exif_transpose is what viewers do; orient() must match it for each of the 8 tags."""
    from PIL import ImageOps

    rgb = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    picture = PILImage.fromarray(rgb)
    exif = picture.getexif()
    exif[274] = orientation
    picture.info["exif"] = exif.tobytes()
    viewed = np.asarray(ImageOps.exif_transpose(picture))
    np.testing.assert_array_equal(np.moveaxis(orient(np.moveaxis(rgb, -1, 0), orientation), 0, -1), viewed)


def test_a_mosaic_keeps_its_orientation_tag_unturned(tmp_path, capsys):
    """Turning a Bayer mosaic would change its CFA pattern: its tag is carried, the pixels are not turned."""
    torch.manual_seed(0)
    weights = zoo.save(zoo.create_model("mwrcanet", widths=(8, 16, 16), depth=1), tmp_path / "raw.safetensors")
    exif = PILImage.Exif()
    exif[274] = 8
    tifffile.imwrite(tmp_path / "mosaic.tif", np.full((16, 24), 30000, np.uint16),
                     extratags=[(274, "H", 1, 8, True), (33432, "s", 0, "(c) lab", True)])
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(tmp_path / "mosaic.tif"), "--mosaic", "RGGB",
                 "-o", str(tmp_path / "out.tif")]) == 0, capsys.readouterr().err
    main_ifd, *_ = tags_of(tmp_path / "out.tif")
    assert main_ifd[274] == 8 and main_ifd[33432] == "(c) lab"
    assert tifffile.imread(tmp_path / "out.tif").shape == (16, 24)


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_exiftool_reads_the_carried_tags_where_they_belong(tmp_path, weights, suffix):
    camera_jpeg(tmp_path / "shot.jpg")
    target = tmp_path / f"clean{suffix}"
    assert denoise(weights, tmp_path / "shot.jpg", "-o", target) == 0
    out = subprocess.run(["exiftool", "-a", "-G1", "-s", "-Orientation#", "-DateTimeOriginal", "-Copyright", "-Software",
                          "-GPSLatitudeRef", "-ISO", str(target)], capture_output=True, text=True, check=True).stdout
    lines = {" ".join(line.split(":", 1)[0].split()): line.split(":", 1)[1].strip() for line in out.splitlines()}
    assert lines["[IFD0] Orientation"] == "1" and lines["[IFD0] Copyright"] == "(c) 2024 Jo Photographer"
    assert lines["[ExifIFD] DateTimeOriginal"] == "2024:05:06 07:08:09" and lines["[ExifIFD] ISO"] == "3200"
    assert lines["[IFD0] Software"].startswith("zoo ") and lines["[GPS] GPSLatitudeRef"] == "North"
