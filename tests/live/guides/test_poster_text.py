"""The poster's text wrapping, for any title: lines fit the width, there are at most as many
as asked, and nothing is lost unless the text is cut with an ellipsis."""

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from live.guides import posters

DRAW = ImageDraw.Draw(Image.new("RGB", (10, 10)))
FONT = posters._font(30)
TEXT = st.text(
    alphabet=st.sampled_from("abc xyz WMW  直播秋冬新品外套-·:"), min_size=0, max_size=120
)


@settings(max_examples=200, deadline=None)
@given(text=TEXT, width=st.integers(min_value=60, max_value=700), lines=st.integers(1, 4))
def test_wrapped_lines_fit_and_keep_the_text(text: str, width: int, lines: int) -> None:
    """Every line is at most ``width`` pixels (a single character wider than a line aside),
    at most ``lines`` lines, and the words survive in order unless the last line was cut."""
    wrapped = posters._wrap(DRAW, text, FONT, width, lines)
    assert len(wrapped) <= lines
    for line in wrapped:
        assert len(line) <= 1 or DRAW.textlength(line, font=FONT) <= width
    joined = "".join("".join(wrapped).split())
    original = "".join(text.split())
    if wrapped and wrapped[-1].endswith("…"):
        assert original.startswith(joined.removesuffix("…"))
    else:
        assert joined == original
