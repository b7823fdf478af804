"""The banned-word filter: plain synchronous tests."""

from hypothesis import given
from hypothesis import strategies as st

from realtime.wordfilter import Mode, WordFilter


def test_finds_words_case_insensitively_inside_others() -> None:
    """ "SCAM" and "scammer" both hit the word "scam"."""
    words = WordFilter(["scam", " fake "], Mode.REJECT)
    assert words.banned("total SCAM")
    assert words.banned("what a scammer")
    assert words.banned("fake!")
    assert not words.banned("lovely coat")


def test_masking_keeps_the_length_and_the_rest() -> None:
    """Masked words become asterisks of the same length; other text is untouched."""
    words = WordFilter(["scam", "scammer"], Mode.MASK)
    assert words.mask("Scammer! not a scam.") == "*******! not a ****."


def test_empty_list_passes_everything() -> None:
    """No words: nothing is banned and masking changes nothing."""
    words = WordFilter(["", "  "], Mode.MASK)
    assert not words.banned("anything")
    assert words.mask("anything") == "anything"


@given(text=st.text(max_size=200), words=st.lists(st.text(min_size=1, max_size=8), max_size=5))
def test_masked_text_has_no_banned_word_left(text: str, words: list[str]) -> None:
    """After masking, the same length remains and no banned word can be found any more."""
    word_filter = WordFilter(words, Mode.MASK)
    masked = word_filter.mask(text)
    assert len(masked) == len(text)
    if not any("*" in w for w in words):
        assert not word_filter.banned(masked)
