"""Pictures for `live demo`'s products and cover, drawn with Pillow: a demo brand has no
photographs, and a product bag of grey squares shows nothing of what the page does."""

import io

from PIL import Image, ImageDraw, ImageFont

#: Product SKU prefix -> (background, foreground) colours.
PALETTE = {
    "COAT": ((46, 64, 87), (232, 196, 140)),
    "SCARF": ((166, 52, 70), (250, 226, 200)),
    "BOOT": ((84, 56, 40), (236, 214, 180)),
    "BAG": ((214, 196, 160), (70, 60, 50)),
    "COVER": ((58, 31, 48), (255, 211, 110)),
}
SIZE = 600
FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_FILES:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def picture(kind: str, title: str, *, width: int = SIZE, height: int = SIZE) -> bytes:
    """A PNG: the product's title on its colour, with a soft stripe pattern."""
    background, ink = PALETTE.get(kind, PALETTE["COVER"])
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    lighter = tuple(min(255, c + 18) for c in background)
    for x in range(-height, width, 60):
        draw.line((x, height, x + height, 0), fill=lighter, width=18)
    big = _font(height // 3)
    initial = title[:1].upper()
    box = draw.textbbox((0, 0), initial, font=big)
    draw.text(((width - (box[2] - box[0])) / 2, height * 0.18), initial, font=big, fill=ink)
    small = _font(max(24, height // 14))
    box = draw.textbbox((0, 0), title, font=small)
    draw.text(((width - (box[2] - box[0])) / 2, height * 0.72), title, font=small, fill=ink)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
