"""lms.services.text: the one definition of the control characters a text may not hold."""

import pytest

from lms.services.text import control_characters

pytestmark = pytest.mark.engine_independent

BODY = control_characters(keep_line_breaks=True)
LINE = control_characters(keep_line_breaks=False)


@pytest.mark.parametrize(
    "character", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f"]
)
def test_both_patterns_match_c0_controls_and_del(character):
    text = f"创业营{character}第一课"
    assert BODY.search(text) and LINE.search(text)
    assert BODY.sub("", text) == LINE.sub("", text) == "创业营第一课"


@pytest.mark.parametrize("character", ["\t", "\n", "\r"])
def test_line_breaks_are_text_in_a_body_and_controls_in_a_line(character):
    text = f"第一行{character}第二行"
    assert BODY.search(text) is None
    assert LINE.sub(" ", text) == "第一行 第二行"


@pytest.mark.parametrize("text", ["创业营 · 硅谷", "Ünïcödé – “quotes”", "\u0085\u009f", "😀", " "])
def test_printable_text_and_c1_controls_are_left_alone(text):
    assert BODY.search(text) is None and LINE.search(text) is None


def test_the_users_keep_their_difference():
    """A comment keeps its lines (community, the PDF archive); a search query is one line."""
    from lms.services import archive_pdf, community, search

    assert community.CONTROL is BODY and archive_pdf.CONTROL is BODY
    assert search.clean_query("创业\t营\n\x7f硅谷") == "创业 营 硅谷"
