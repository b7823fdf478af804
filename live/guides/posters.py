"""A guide's share poster: one PNG with the session's title, its cover (or the pinned
product's image, or the product's name on the brand colour), the guide's name and store, and
the QR code of the guide's short link, ready to post in a customer group.

Only images stored by the server (``/media/...``) are drawn: fetching a URL given by a host
would let anyone make the server request any address. Fonts come from the system (a CJK font
when one is installed, for Chinese titles and names), else Pillow's own.
"""

import io
import re
from dataclasses import dataclass
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 750, 1200
BRAND = (224, 36, 94)
INK = (29, 29, 31)
MUTED = (110, 110, 115)
PICTURE_HEIGHT = 520
QR_SIZE = 300
#: Fonts tried in order: CJK-capable ones first.
FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True, slots=True)
class PosterText:
    """What a poster says."""

    title: str
    guide_name: str
    store_name: str | None
    short_url: str
    #: Shown on the picture when there is no image to draw.
    product_title: str | None


def _font(size: int) -> Font:
    for path in FONT_FILES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int, lines: int) -> list[str]:
    """``text`` cut into at most ``lines`` lines of at most ``width`` pixels: between words,
    and inside a word only when it is wider than a line (as a Chinese title, written without
    spaces, always is); a cut-off last line ends with an ellipsis."""
    out: list[str] = []
    current = ""
    for token in re.findall(r"\S+\s*", text):
        if draw.textlength(current + token.rstrip(), font=font) <= width:
            current += token
            continue
        if current:
            out.append(current.rstrip())
            current = ""
        for char in token:
            if draw.textlength(current + char, font=font) > width:
                out.append(current.rstrip())
                current = char.lstrip()
            else:
                current += char
    if current.strip():
        out.append(current.rstrip())
    if len(out) > lines:
        out = out[:lines]
        last = out[-1]
        # The ellipsis may be wider than the character it replaces: make room for it.
        while last and draw.textlength(last + "…", font=font) > width:
            last = last[:-1]
        out[-1] = last.rstrip() + "…"
    return out


def _picture(image: bytes | None, product_title: str | None) -> Image.Image:
    """The poster's picture: the image cropped to fill, or the product's name on the brand
    colour."""
    if image is not None:
        try:
            picture = Image.open(io.BytesIO(image)).convert("RGB")
            scale = max(WIDTH / picture.width, PICTURE_HEIGHT / picture.height)
            resized = picture.resize((round(picture.width * scale), round(picture.height * scale)))
            left = (resized.width - WIDTH) // 2
            top = (resized.height - PICTURE_HEIGHT) // 2
            return resized.crop((left, top, left + WIDTH, top + PICTURE_HEIGHT))
        except (OSError, ValueError):
            pass  # a broken stored image: the plain picture below
    plain = Image.new("RGB", (WIDTH, PICTURE_HEIGHT), BRAND)
    draw = ImageDraw.Draw(plain)
    font = _font(64)
    for n, line in enumerate(_wrap(draw, product_title or "LIVE", font, WIDTH - 120, 3)):
        draw.text((60, 170 + n * 80), line, font=font, fill=(255, 255, 255))
    return plain


def _qr(url: str) -> Image.Image:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=10, border=2)
    out.seek(0)
    return Image.open(out).convert("RGB").resize((QR_SIZE, QR_SIZE), Image.Resampling.NEAREST)


def draw_poster(text: PosterText, image: bytes | None) -> bytes:
    """The poster as PNG bytes."""
    poster = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    poster.paste(_picture(image, text.product_title), (0, 0))
    draw = ImageDraw.Draw(poster)
    badge = _font(28)
    draw.rounded_rectangle((30, 30, 150, 82), radius=26, fill=(255, 255, 255))
    draw.text((52, 38), "LIVE", font=badge, fill=BRAND)
    title_font = _font(46)
    y = PICTURE_HEIGHT + 36
    for line in _wrap(draw, text.title, title_font, WIDTH - 80, 2):
        draw.text((40, y), line, font=title_font, fill=INK)
        y += 58
    by = f"Shared by {text.guide_name}" + (f" · {text.store_name}" if text.store_name else "")
    for line in _wrap(draw, by, _font(30), WIDTH - 80, 2):
        draw.text((40, y + 8), line, font=_font(30), fill=MUTED)
        y += 40
    qr_top = HEIGHT - QR_SIZE - 90
    poster.paste(_qr(text.short_url), (40, qr_top))
    hint = _font(32)
    draw.text((QR_SIZE + 70, qr_top + 60), "Scan to watch", font=hint, fill=INK)
    draw.text((QR_SIZE + 70, qr_top + 104), "and shop live", font=hint, fill=INK)
    url_font = _font(22)
    for n, line in enumerate(_wrap(draw, text.short_url, url_font, WIDTH - QR_SIZE - 110, 3)):
        draw.text((QR_SIZE + 70, qr_top + 170 + n * 30), line, font=url_font, fill=MUTED)
    out = io.BytesIO()
    poster.save(out, format="PNG", optimize=True)
    return out.getvalue()
