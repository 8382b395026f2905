"""Importing staff from CSV: preview, all-or-nothing writes, one-time set-password links,
and CSV cells that are safe against formula injection."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from lms.extensions import db
from lms.models import AccountToken, Organization, StaffGroup, StaffGroupMember, User
from lms.models._base import utcnow
from lms.services import staff_import
from lms.services.csv_safe import safe_cell, write_csv
from lms.services.loading import load
from tests.conftest import PASSWORD, Client

NEW_PASSWORD = "a brand new password"


# -- csv_safe --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("http://evil.example","click")', '\'=HYPERLINK("http://evil.example","click")'),
        ("+41 22 555", "'+41 22 555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("Li Ming", "Li Ming"),
        ("a=b", "a=b"),
        (" =1", " =1"),
        ("", ""),
        (None, ""),
        (-5, "-5"),
        (-1.5, "-1.5"),
        (Decimal("-2.50"), "-2.50"),
        (12, "12"),
        (True, "True"),
    ],
)  # fmt: skip
def test_safe_cell_neutralizes_formulas(value, cell):
    assert safe_cell(value) == cell


def test_write_csv_quotes_and_sanitizes_every_cell():
    text = write_csv(
        [["=evil()", 'says "hi", then\nleaves', -3], ["@x", "plain", None]],
        ["-name", "note", "hours"],
    )
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [
        ["'-name", "note", "hours"],
        ["'=evil()", 'says "hi", then\nleaves', "-3"],
        ["'@x", "plain", ""],
    ]


# -- the import pages ------------------------------------------------------------------


@pytest.fixture
def acme(app, make_user):
    """Acme's manager and an existing group "Lab"; returns (org id, manager)."""
    from lms.services import staff_groups

    manager = make_user("manager@acme.example", organization="Acme", is_manager=True)
    with app.app_context():
        staff_groups.create_group(db.session.get(Organization, manager.organization_id), "Lab")
    return manager.organization_id, manager


@pytest.fixture
def manager(app, acme) -> Client:
    client = Client(app.test_client())
    client.login(acme[1].email)
    return client


def upload(client: Client, org_id: int, data: bytes, name: str = "staff.csv"):
    return client.post(f"/organizations/{org_id}/import", {"file": (io.BytesIO(data), name)})


def counts(app) -> tuple[int, int, int, int]:
    with app.app_context():
        return tuple(
            db.session.scalar(db.select(db.func.count()).select_from(model))
            for model in (User, StaffGroup, StaffGroupMember, AccountToken)
        )


def carried_text(page: str) -> str:
    import html

    match = re.search(r'name="csv_text" type="hidden" value="([^"]*)"', page)
    assert match, "no confirm form"
    return html.unescape(match.group(1))


def test_preview_then_import_writes_every_row(app, acme, manager, make_user):
    org_id, _manager = acme
    joining = make_user("joining@example.com")
    already = make_user("already@example.com", organization="Acme")
    data = (
        "\ufeffEmail,Name,Group\r\n"
        "new.one@example.com,New One,Lab\r\n"
        "NEW.TWO@example.com , 新同事 ,Field team\r\n"
        "joining@example.com,Ignored Name,Field team\r\n"
        "already@example.com,Already,\r\n"
        "\r\n"
    ).encode()
    before = counts(app)
    preview = upload(manager, org_id, data)
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert "New accounts: 2" in page and "Joining: 1" in page and "Already staff: 1" in page
    assert "Field team" in page and "Groups to create:" in page
    assert counts(app) == before  # the preview writes nothing

    response = manager.post(
        f"/organizations/{org_id}/import/confirm", {"csv_text": carried_text(page)}
    )
    assert response.status_code == 200
    done = response.get_data(as_text=True)
    tokens = re.findall(r"/account/setup/([A-Za-z0-9_-]{40,})", done)
    assert len(tokens) == 2
    with app.app_context():
        people = {
            user.email: user
            for user in db.session.scalars(db.select(User).where(User.organization_id == org_id))
        }
        assert set(people) == {
            "manager@acme.example",
            "new.one@example.com",
            "new.two@example.com",
            "joining@example.com",
            "already@example.com",
        }
        assert people["new.two@example.com"].name == "新同事"
        assert people["joining@example.com"].name == joining.name  # existing names are kept
        groups = {
            group.name: {member.email for member in load(group, "members")}
            for group in db.session.scalars(db.select(StaffGroup))
        }
        assert groups == {
            "Lab": {"new.one@example.com"},
            "Field team": {"new.two@example.com", "joining@example.com"},
        }
        stored = db.session.scalars(db.select(AccountToken.token_hash)).all()
        assert len(stored) == 2 and not set(tokens) & set(stored)
        assert people[already.email].organization_id == org_id

    # new accounts cannot log in until they set a password through their link
    anonymous = Client(app.test_client())
    assert anonymous.login("new.one@example.com", "").status_code == 400
    assert anonymous.login("new.one@example.com", "!").status_code == 400


def test_the_links_download_as_csv_safe_against_formulas(app, acme, manager):
    org_id, _manager = acme
    data = b'email,name\nsafe@example.com,=HYPERLINK("http://evil")\n'
    page = upload(manager, org_id, data).get_data(as_text=True)
    done = manager.post(
        f"/organizations/{org_id}/import/confirm", {"csv_text": carried_text(page)}
    ).get_data(as_text=True)
    import html

    signed = html.unescape(re.search(r'name="links" type="hidden" value="([^"]*)"', done).group(1))
    response = manager.post(f"/organizations/{org_id}/import/links.csv", {"links": signed})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert rows[0] == ["E-mail", "Name", "Set-password link", "Expires"]
    assert rows[1][0] == "safe@example.com"
    assert rows[1][1] == '\'=HYPERLINK("http://evil")'
    assert "/account/setup/" in rows[1][2]
    tampered = signed[:-3] + ("AAA" if not signed.endswith("AAA") else "BBB")
    response = manager.post(f"/organizations/{org_id}/import/links.csv", {"links": tampered})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not-an-email,Someone", "Invalid e-mail address."),
        ("x@example.com,", "The name is empty."),
        ("x@example.com,   ", "The name is empty."),
        ("x@example.com," + "n" * 101, "The name is longer than 100 characters."),
        ("first@example.com,Again", "The same e-mail address is on line 2."),
        ("FIRST@example.com,Again", "The same e-mail address is on line 2."),
        ("beta@example.com,Beta Person", "This account belongs to another organization."),
        ("x@example.com,X," + "g" * 101, "The group name is longer than 100 characters."),
        ("x@example.com,X,Lab,extra", "The row has more columns than the first line."),
        ('x@example.com,"Bad\x01Name"', "The name contains control characters."),
    ],
)
def test_a_bad_row_is_explained_and_nothing_is_written(app, acme, manager, make_user, line, reason):
    org_id, _manager = acme
    make_user("beta@example.com", organization="Beta")
    data = f"email,name,group\nfirst@example.com,First,New group\n{line}\n".encode()
    before = counts(app)
    response = upload(manager, org_id, data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert reason in page
    assert "nothing can be imported" in page
    assert "Import 2 rows" not in page  # no button for every row
    assert 'name="skip_invalid" value="y"' in page  # only "the valid rows, skip the rest"
    # posting the same text to the confirming step anyway (all or nothing) writes nothing
    response = manager.post(
        f"/organizations/{org_id}/import/confirm",
        {"csv_text": data.decode()},
    )
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    assert counts(app) == before
    with app.app_context():
        assert db.session.scalar(db.select(StaffGroup).filter_by(name="New group")) is None


def test_the_confirming_step_checks_again(app, acme, manager, make_user):
    """The account joined another organization between preview and confirmation."""
    org_id, _manager = acme
    person = make_user("moving@example.com")
    data = b"email,name,group\nfresh@example.com,Fresh,New group\nmoving@example.com,M,\n"
    page = upload(manager, org_id, data).get_data(as_text=True)
    assert "Joining: 1" in page
    with app.app_context():
        beta = Organization(name="Beta")
        db.session.add(beta)
        db.session.flush()
        db.session.get(User, person.id).organization_id = beta.id
        db.session.commit()
    before = counts(app)
    response = manager.post(
        f"/organizations/{org_id}/import/confirm", {"csv_text": carried_text(page)}
    )
    assert response.status_code == 400
    assert "This account belongs to another organization." in response.get_data(as_text=True)
    assert counts(app) == before


def test_a_race_during_the_write_rolls_everything_back(app, acme, make_user, monkeypatch):
    """The preview inside run() is fine, then the account moves before the UPDATE."""
    org_id, _manager = acme
    person = make_user("racing@example.com")
    original = staff_import.preview

    def preview_then_move(organization, text):
        checked = original(organization, text)
        db.session.execute(db.update(User).where(User.id == person.id).values(organization_id=None))
        beta = Organization(name="Beta")
        db.session.add(beta)
        db.session.flush()
        db.session.execute(
            db.update(User).where(User.id == person.id).values(organization_id=beta.id)
        )
        db.session.commit()
        return checked

    monkeypatch.setattr(staff_import, "preview", preview_then_move)
    before = counts(app)
    with app.test_request_context():
        organization = db.session.get(Organization, org_id)
        with pytest.raises(staff_import.Conflict):
            staff_import.run(
                organization,
                "email,name,group\nbrand.new@example.com,B,Fresh\nracing@example.com,R,\n",
            )
    assert counts(app) == before


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"", 400, "The file is empty."),
        (b"\n\n", 400, "The file is empty."),
        (b"email,name\n", 400, "The file has no rows below the first line."),
        (b"a@example.com,A\n", 400, "The first line must name the columns"),
        (b"email,fullname\na@example.com,A\n", 400, "The first line must name the columns"),
        (b"email,name,name\na@example.com,A,B\n", 400, "A column is named twice"),
        ("email,name\na@example.com,Zoë\n".encode("latin-1"), 400, "not UTF-8"),
        (b"email,name\n" + b"x" * (1024 * 1024), 413, "larger than 1 MiB"),
    ],
)
def test_files_that_cannot_be_read_get_a_clear_error(app, acme, manager, data, status, message):
    org_id, _manager = acme
    response = upload(manager, org_id, data)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)


def test_more_than_2000_rows_are_refused(app, acme, manager):
    org_id, _manager = acme
    rows = "".join(f"p{number}@example.com,P {number}\n" for number in range(2001))
    response = upload(manager, org_id, ("email,name\n" + rows).encode())
    assert response.status_code == 400
    assert "more than 2000 rows" in response.get_data(as_text=True)
    ok = "".join(f"p{number}@example.com,P {number}\n" for number in range(2000))
    assert upload(manager, org_id, ("email,name\n" + ok).encode()).status_code == 200


def test_a_large_import_is_written_in_one_go(app, acme, manager):
    org_id, _manager = acme
    rows = "".join(f"p{number}@example.com,P {number},Team {number % 3}\n" for number in range(300))
    page = upload(manager, org_id, ("email,name,group\n" + rows).encode()).get_data(as_text=True)
    response = manager.post(
        f"/organizations/{org_id}/import/confirm", {"csv_text": carried_text(page)}
    )
    assert response.status_code == 200
    assert counts(app) == (301, 4, 300, 300)


def test_an_oversized_confirmation_is_413(app, acme, manager):
    org_id, _manager = acme
    text = "email,name\n" + "a@example.com," + "x" * (1024 * 1024)
    response = manager.raw.post(
        f"/organizations/{org_id}/import/confirm",
        data={"csv_text": text, "csrf_token": manager.csrf()},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413


def test_the_file_field_is_required(app, acme, manager):
    org_id, _manager = acme
    assert manager.post(f"/organizations/{org_id}/import", {}).status_code == 400
    assert manager.post(f"/organizations/{org_id}/import/confirm", {}).status_code == 400


# -- one-time set-password links -------------------------------------------------------


def main(response) -> str:
    """The page's own content (the header repeats the address in the language form)."""
    return response.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def imported_token(app, manager: Client, org_id: int, email: str = "x@example.com") -> str:
    page = upload(manager, org_id, f"email,name\n{email},X Person\n".encode()).get_data(
        as_text=True
    )
    done = manager.post(
        f"/organizations/{org_id}/import/confirm", {"csv_text": carried_text(page)}
    ).get_data(as_text=True)
    return re.search(r"/account/setup/([A-Za-z0-9_-]{40,})", done).group(1)


def test_a_setup_link_sets_the_password_once(app, acme, manager):
    org_id, _manager = acme
    token = imported_token(app, manager, org_id)
    visitor = Client(app.test_client())
    page = visitor.get(f"/account/setup/{token}")
    assert page.status_code == 200 and "x@example.com" in page.get_data(as_text=True)
    short = {"password": "short", "confirm": "short"}
    assert visitor.post(f"/account/setup/{token}", short).status_code == 400
    mismatch = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"}
    assert visitor.post(f"/account/setup/{token}", mismatch).status_code == 400
    good = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    response = visitor.post(f"/account/setup/{token}", good)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert visitor.get("/dashboard").status_code == 302  # not logged in by the link
    assert visitor.login("x@example.com", NEW_PASSWORD).status_code == 302
    again = Client(app.test_client())
    used = again.get(f"/account/setup/{token}")
    assert used.status_code == 404
    unknown = again.get(f"/account/setup/{token[:-4]}AAAA")
    assert unknown.status_code == 404
    assert main(used) == main(unknown)
    assert again.post(f"/account/setup/{token}", good).status_code == 404


def test_an_expired_setup_link_is_the_same_404(app, acme, manager):
    org_id, _manager = acme
    token = imported_token(app, manager, org_id)
    with app.app_context():
        row = db.session.scalar(db.select(AccountToken))
        assert row.expires_at.replace(tzinfo=None) - utcnow().replace(tzinfo=None) > timedelta(
            days=13
        )
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    visitor = Client(app.test_client())
    expired = visitor.get(f"/account/setup/{token}")
    assert expired.status_code == 404
    assert main(expired) == main(visitor.get("/account/setup/nothing"))
    assert "This link does not work" in expired.get_data(as_text=True)


def test_an_imported_account_logs_in_with_neither_an_empty_nor_a_guessed_password(
    app, acme, manager
):
    org_id, _manager = acme
    imported_token(app, manager, org_id)
    visitor = Client(app.test_client())
    for guess in ("", PASSWORD, "!", "x"):
        assert visitor.login("x@example.com", guess).status_code == 400


# -- "import the valid rows, skip the rest", and what Excel saves --------------------------


MIXED = (
    "email,name,group\n"
    "good.one@example.com,好的一,Lab\n"
    "not-an-email,Broken,Only in a bad row\n"
    "good.two@example.com,Good Two,\n"
    "good.one@example.com,Again,\n"
    "beta@example.com,Beta Person,\n"
)


def test_valid_rows_can_be_imported_skipping_the_rest_with_a_report(app, acme, manager, make_user):
    org_id, _manager = acme
    make_user("beta@example.com", organization="Beta")
    before = counts(app)
    preview = upload(manager, org_id, MIXED.encode())
    assert preview.status_code == 400
    page = preview.get_data(as_text=True)
    assert "Import the valid rows (2), skip the rest (3)" in page
    assert "Only in a bad row" not in page.split("Groups to create")[-1].split("</p>")[0]
    assert counts(app) == before  # the preview wrote nothing
    response = manager.post(
        f"/organizations/{org_id}/import/confirm",
        {"csv_text": carried_text(page), "skip_invalid": "y"},
    )
    assert response.status_code == 200
    done = response.get_data(as_text=True)
    assert "Skipped: 3" in done and "New accounts: 2" in done
    for line, reason in (
        ("3", "Invalid e-mail address."),
        ("5", "The same e-mail address is on line 2."),
        ("6", "This account belongs to another organization."),
    ):
        assert re.search(rf"<td>{line}</td>.*?{re.escape(reason)}", done, re.S), line
    with app.app_context():
        emails = set(db.session.scalars(db.select(User.email).filter_by(organization_id=org_id)))
        assert {"good.one@example.com", "good.two@example.com"} <= emails
        assert "beta@example.com" not in emails
        names = set(db.session.scalars(db.select(StaffGroup.name)))
        assert "Only in a bad row" not in names
        assert db.session.scalar(db.select(User.name).filter_by(email="good.one@example.com")) == (
            "好的一"
        )


def test_skipping_with_nothing_valid_imports_nothing(app, acme, manager):
    org_id, _manager = acme
    data = "email,name\nbad,Bad\nalso-bad,Also\n"
    page = upload(manager, org_id, data.encode()).get_data(as_text=True)
    assert 'name="skip_invalid"' not in page  # nothing valid: no such button
    before = counts(app)
    response = manager.post(
        f"/organizations/{org_id}/import/confirm", {"csv_text": data, "skip_invalid": "y"}
    )
    assert response.status_code == 400
    assert counts(app) == before


def test_all_or_nothing_stays_the_default(app, acme, manager):
    org_id, _manager = acme
    before = counts(app)
    response = manager.post(f"/organizations/{org_id}/import/confirm", {"csv_text": MIXED})
    assert response.status_code == 400
    assert "nothing can be imported" in response.get_data(as_text=True)
    assert counts(app) == before


def test_excels_chinese_csv_in_gbk_is_read_and_said(app, acme, manager):
    """Excel on a Chinese Windows saves "CSV (逗号分隔)" in GBK."""
    org_id, _manager = acme
    data = "email,name,group\r\nli.ming@example.com,李明,核心人才\r\n".encode("gbk")
    response = upload(manager, org_id, data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "read as GB18030" in page and "李明" in page and "核心人才" in page
    confirm = manager.post(
        f"/organizations/{org_id}/import/confirm", {"csv_text": carried_text(page)}
    )
    assert confirm.status_code == 200
    with app.app_context():
        assert db.session.scalar(db.select(User.name).filter_by(email="li.ming@example.com")) == (
            "李明"
        )


def test_utf8_with_excels_byte_order_mark_is_not_called_gbk(app, acme, manager):
    data = "\ufeffemail,name\r\nwang@example.com,王芳\r\n".encode()
    page = upload(manager, acme[0], data).get_data(as_text=True)
    assert "王芳" in page and "GB18030" not in page and "\ufeff" not in carried_text(page)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04" + b"\x00" * 40, "This is an Excel workbook, not CSV."),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "This is an Excel workbook"),
        ("email,name\na@example.com,A\n".encode("utf-16"), "UTF-16"),
        ("email,name\na@example.com,A\n".encode("utf-16-le"), "not UTF-8 (nor GBK)"),
        (b"email,name\na@example.com,\x00\x00\n", "not UTF-8 (nor GBK)"),
        (bytes(range(128, 256)) * 4, "not UTF-8 (nor GBK)"),
    ],
)
def test_files_excel_did_not_save_as_csv_say_what_to_do(app, acme, manager, data, message):
    before = counts(app)
    response = upload(manager, acme[0], data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert counts(app) == before


def test_an_upload_beyond_the_request_limit_is_413(app, acme, manager):
    data = b"email,name\n" + b"x" * (5 * 1024 * 1024)
    assert upload(manager, acme[0], data).status_code == 413


def test_a_line_break_inside_a_quoted_cell_is_a_row_error(app, acme, manager):
    """A quoted cell spanning two lines (a stray quote, an Alt+Enter in Excel)."""
    org_id, _manager = acme
    data = 'email,name\nok@example.com,OK\nbroken@example.com,"Li\nMing"\n'
    response = upload(manager, org_id, data.encode())
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The name contains control characters." in page
    assert "Import the valid rows (1), skip the rest (1)" in page
    with app.app_context():
        assert db.session.scalar(db.select(User).filter_by(email="ok@example.com")) is None
