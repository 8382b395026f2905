"""Names are displayed safely: no bidi controls or invisible characters in any name people type.

Checked in storage (every name column of every model, whatever path sets it), in HTML, in
CSV and in ``Content-Disposition``.
"""

from __future__ import annotations

import io
import unicodedata
from urllib.parse import unquote

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from lms.extensions import db
from lms.models import Course, MediaAsset, Organization, StaffGroup, User
from lms.services import organizations, staff_groups, uploads
from lms.services.errors import Conflict
from lms.services.text import NAME_COLUMNS, clean_name
from lms.web.downloads import send_download

BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\U000e0041"]
BAD = BIDI + INVISIBLE
SPOOF = "clip\u202egpj.webm"  # shows as "clipmbew.jpg"


def shows_nothing_hidden(text: str) -> bool:
    return not any(unicodedata.category(c) in ("Cf", "Zl", "Zp") for c in text)


names_with_bad_characters = st.lists(
    st.one_of(st.text(min_size=1, max_size=5), st.sampled_from(BAD)), min_size=1, max_size=12
).map("".join)


@given(names_with_bad_characters)
def test_clean_name_leaves_nothing_hidden_and_is_stable(name):
    cleaned = clean_name(name)
    assert shows_nothing_hidden(cleaned)
    assert clean_name(cleaned) == cleaned


@given(st.text(alphabet=st.characters(exclude_categories=("Cf", "Zl", "Zp", "Cs", "Co"))))
def test_clean_name_keeps_every_visible_character(name):
    assert clean_name(name) == name.strip()


def name_columns(app):
    with app.app_context():
        return [
            (mapper.class_, attribute.key)
            for mapper in db.Model.registry.mappers
            for attribute in mapper.column_attrs
            if attribute.key in NAME_COLUMNS
        ]


def test_every_name_column_is_cleaned_when_set(app):
    columns = name_columns(app)
    for expected in (
        (User, "name"), (Organization, "name"), (StaffGroup, "name"),
        (Course, "title_zh"), (Course, "title_en"), (MediaAsset, "original_name"),
    ):  # fmt: skip
        assert expected in columns
    for model, key in columns:
        row = model()
        setattr(row, key, f" A{''.join(BAD)}b ")
        assert getattr(row, key) == "Ab", (model.__name__, key)


def test_names_are_stored_without_bidi_or_invisible_characters(
    app, client, make_user, organizer, trainer
):
    spoof = "Ann\u202eeno\u200b"
    client.post(
        "/register",
        {"name": spoof, "email": "ann@example.com", "password": "pass phrase 1234 x",
         "confirm": "pass phrase 1234 x"},
    )  # fmt: skip
    with app.test_request_context():
        user = db.session.scalar(db.select(User).filter_by(email="ann@example.com"))
        assert user is not None and user.name == "Anneno"
        acme = organizations.create_organization("Acme")
        with pytest.raises(Conflict):  # the same name once the hidden part is gone
            organizations.create_organization("Ac\u200bme\u202e")
        group = staff_groups.create_group(acme, "Sa\u2066les\u2069")
        assert group.name == "Sales"


def test_course_titles_from_the_teach_pages_are_clean(app, client, trainer):
    client.login(trainer.email)
    response = client.post(
        "/teach/courses/new",
        {"camp": "startup-growth", "slug": "spoof", "title_zh": "课程\u202e程",
         "title_en": "Cour\u200dse", "summary_zh": "", "summary_en": "", "level": ""},
    )  # fmt: skip
    assert response.status_code == 302
    with app.app_context():
        course = db.session.scalar(db.select(Course).filter_by(slug="spoof"))
        assert (course.title_zh, course.title_en) == ("课程程", "Course")


def test_an_upload_name_is_clean_in_storage_html_and_content_disposition(
    app, client, trainer, demo_video
):
    with app.test_request_context():
        uploader = db.session.get(User, trainer.id)
        asset = uploads.store_upload(io.BytesIO(demo_video.read_bytes()), SPOOF, uploader)
        asset_id, stored = asset.id, asset.original_name
    assert stored == "clipgpj.webm"
    client.login(trainer.email)
    library = client.get("/teach/media").get_data(as_text=True)
    assert "clipgpj.webm" in library and shows_nothing_hidden(library)
    disposition = client.get(f"/teach/media/{asset_id}/download").headers["Content-Disposition"]
    assert shows_nothing_hidden(unquote(disposition))


def disposed_name(header: str) -> str:
    """The name a browser shows: RFC 5987's ``filename*`` when there is one, else ``filename``."""
    if "filename*=UTF-8''" in header:
        return unquote(header.split("filename*=UTF-8''", 1)[1])
    return header.split("filename=", 1)[1].strip('"')


BARE = Flask(__name__)


@given(names_with_bad_characters)
def test_content_disposition_never_carries_hidden_characters(name):
    with BARE.test_request_context():
        header = send_download(b"", name + ".mp4", "video/mp4").headers["Content-Disposition"]
    header.encode("ascii")
    assert "\r" not in header and "\n" not in header
    shown = disposed_name(header)
    assert shows_nothing_hidden(shown) and shown.endswith("mp4")


def test_names_in_csv_exports_are_clean(app, client, make_user, organizer):
    learner = make_user("spoof@example.com", organization="Acme")
    with app.app_context():  # a name stored before this rule existed is cleaned when set again
        db.session.get(User, learner.id).name = "Bob\u202e\u200b"
        db.session.commit()
    client.login(organizer.email)
    response = client.get("/reports/hours.csv")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Bob" in body and shows_nothing_hidden(body.lstrip("\ufeff"))


def test_a_staff_import_stores_clean_names_and_finds_groups_by_them(app, make_user):
    """A group written with a zero-width space is the existing group, not a new one."""
    from lms.services import staff_import

    manager = make_user("boss@acme.example", organization="Acme", is_manager=True)
    with app.test_request_context():
        acme = db.session.get(Organization, manager.organization_id)
        staff_groups.create_group(acme, "Lab")
        checked = staff_import.preview(
            acme, "email,name,group\nnew@example.com,Ne\u202ew One,La\u200bb\n"
        )
        assert checked.new_groups == [] and [row.name for row in checked.rows] == ["New One"]
        staff_import.run(acme, "email,name,group\nnew@example.com,Ne\u202ew One,La\u200bb\n")
        groups = db.session.scalars(db.select(StaffGroup.name)).all()
        assert groups == ["Lab"]
        assert db.session.scalar(db.select(User.name).filter_by(email="new@example.com")) == (
            "New One"
        )
