"""The activity day's community: the maker-salon case library and the members' discussion.

Who may do what, threaded replies, escaping and sanitizing, search, invalid input, and a
fixed number of queries per page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from markupsafe import escape

from lms.extensions import db
from lms.models import (
    CASE_TOPICS,
    TOPIC_KINDS,
    CaseComment,
    DiscussionTopic,
    Organization,
    SalonCase,
    TopicComment,
    User,
)
from lms.services import community, live
from lms.web.community_forms import CASE_TOPIC_LABELS, TOPIC_KIND_LABELS
from tests.conftest import Client
from tests.test_query_counts import count_queries

MISSING = 999_999
SCRIPT = "<script>alert(1)</script>"
TRICKY = "< > & &lt; &gt; &amp; ' \\' 碁 \\ \\\\"
MODELS = (SalonCase, CaseComment, DiscussionTopic, TopicComment)


# -- helpers ---------------------------------------------------------------------------


def client_for(app: Flask, email: str | None = None) -> Client:
    client = Client(app.test_client())
    if email is not None:
        assert client.login(email).status_code == 302
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(db.select(db.func.count()).select_from(model))
            for model in MODELS
        }


def add_case(app: Flask, user: User, **values) -> int:
    fields = {
        "company": "和达文创园",
        "topic": "strategy",
        "title": "新常态下的战略",
        "body": "How should we grow?",
        **values,
    }
    with app.app_context():
        case = SalonCase(presenter_id=user.id, **fields)
        db.session.add(case)
        db.session.commit()
        return case.id


def add_topic(app: Flask, user: User, **values) -> int:
    fields = {"kind": "news", "title": "国家事", "body": "What do you think?", **values}
    with app.app_context():
        topic = DiscussionTopic(created_by_id=user.id, **fields)
        db.session.add(topic)
        db.session.commit()
        return topic.id


def add_comment(app: Flask, topic_id: int, user: User, parent_id: int | None = None) -> int:
    with app.app_context():
        comment = TopicComment(topic_id=topic_id, user_id=user.id, body="+1", parent_id=parent_id)
        db.session.add(comment)
        db.session.commit()
        return comment.id


def case_fields(**changes: str) -> dict[str, str]:
    fields = {
        "company": "聚光科技",
        "organization": "0",
        "topic": "hr",
        "title": "Keeping engineers",
        "body": "We lose **good** engineers.",
        "session": "0",
    }
    return {**fields, **changes}


def topic_fields(**changes: str) -> dict[str, str]:
    fields = {"kind": "phenomenon", "title": "身边事", "body": "A *phenomenon*.", "session": "0"}
    return {**fields, **changes}


def rename(app: Flask, user: User, name: str) -> None:
    with app.app_context():
        db.session.get(User, user.id).name = name
        db.session.commit()


@pytest.fixture
def case_id(app, trainer) -> int:
    return add_case(app, trainer)


@pytest.fixture
def topic_id(app, trainer) -> int:
    return add_topic(app, trainer)


@pytest.fixture
def in_request(app: Flask):
    """Services speak the request's language, so service tests run in a request."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield app


@pytest.fixture
def manager(make_user) -> User:
    return make_user("boss@example.com", organization="聚光科技", is_manager=True)


# -- every route needs a login ---------------------------------------------------------


def routes(case_id: int, topic_id: int) -> list[tuple[str, str, dict]]:
    return [
        ("get", "/salon/", {}),
        ("get", "/salon/new", {}),
        ("post", "/salon/new", case_fields()),
        ("get", f"/salon/{case_id}", {}),
        ("post", f"/salon/{case_id}/comments", {"body": "hello"}),
        ("get", "/discussions/", {}),
        ("get", "/discussions/new", {}),
        ("post", "/discussions/new", topic_fields()),
        ("get", f"/discussions/{topic_id}", {}),
        ("post", f"/discussions/{topic_id}/comments", {"body": "hello"}),
    ]


def test_anonymous_visitors_are_sent_to_the_login_page(app, client, case_id, topic_id):
    before = counts(app)
    for method, url, data in routes(case_id, topic_id):
        response = client.get(url) if method == "get" else client.post(url, data)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url
    assert counts(app) == before


def test_posts_without_a_csrf_token_are_refused(app, trainer, case_id, topic_id):
    client = client_for(app, trainer.email)
    before = counts(app)
    for method, url, data in routes(case_id, topic_id):
        if method == "post":
            assert client.post(url, data, csrf=False).status_code == 400, url
    assert counts(app) == before


# -- learners --------------------------------------------------------------------------


def test_learners_read_and_comment_but_create_no_case_or_topic(app, learner, case_id, topic_id):
    client = client_for(app, learner.email)
    for url in ("/salon/", f"/salon/{case_id}", "/discussions/", f"/discussions/{topic_id}"):
        assert client.get(url).status_code == 200, url
    before = counts(app)
    assert client.get("/salon/new").status_code == 403
    assert client.post("/salon/new", case_fields()).status_code == 403
    assert client.get("/discussions/new").status_code == 403
    assert client.post("/discussions/new", topic_fields()).status_code == 403
    assert counts(app) == before
    assert "/salon/new" not in text(client.get("/salon/"))
    assert "/discussions/new" not in text(client.get("/discussions/"))

    response = client.post(f"/salon/{case_id}/comments", {"body": "Try a mentoring scheme."})
    assert response.status_code == 302
    response = client.post(f"/discussions/{topic_id}/comments", {"body": "I agree."})
    assert response.status_code == 302
    after = counts(app)
    assert after["CaseComment"] == before["CaseComment"] + 1
    assert after["TopicComment"] == before["TopicComment"] + 1
    with app.app_context():
        comment = db.session.scalar(db.select(CaseComment))
        assert (comment.user_id, comment.is_expert_review) == (learner.id, False)


def test_learners_cannot_post_expert_reviews(app, learner, case_id):
    client = client_for(app, learner.email)
    assert "expert_review" not in text(client.get(f"/salon/{case_id}"))
    before = counts(app)
    response = client.post(f"/salon/{case_id}/comments", {"body": "Expert!", "expert_review": "y"})
    assert response.status_code == 403
    assert "expert reviews" in text(response)
    assert counts(app) == before


def test_managers_present_their_own_company_only(app, manager, make_user):
    client = client_for(app, manager.email)
    form = text(client.get("/salon/new"))
    assert 'value="聚光科技"' in form

    with app.app_context():
        own_id = db.session.get(User, manager.id).organization_id
    before = counts(app)
    response = client.post(
        "/salon/new", case_fields(company="Another Co", organization=str(own_id))
    )
    assert response.status_code == 403
    with app.app_context():
        other = Organization(name="Another Co")
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    response = client.post("/salon/new", case_fields(organization=str(other_id)))
    assert response.status_code == 400  # not one of the choices offered
    assert counts(app) == before

    response = client.post("/salon/new", case_fields(organization=str(own_id)))
    assert response.status_code == 302
    with app.app_context():
        case = db.session.scalar(db.select(SalonCase))
        assert (case.company, case.organization_id, case.presenter_id) == (
            "聚光科技",
            own_id,
            manager.id,
        )

    # A colleague who does not manage the company may not present it.
    colleague = make_user("staff@example.com", organization="聚光科技")
    client = client_for(app, colleague.email)
    assert client.get("/salon/new").status_code == 403
    assert client.post("/salon/new", case_fields()).status_code == 403


def test_the_service_refuses_a_manager_another_organization(in_request, manager):
    other = Organization(name="Elsewhere")
    db.session.add(other)
    db.session.commit()
    user = db.session.get(User, manager.id)
    with pytest.raises(community.NotAllowed):
        community.create_case(user, "", "hr", "Title", "Body", organization_id=other.id)
    case = community.create_case(user, "", "hr", "Title", "Body")
    assert case.company == "聚光科技"
    assert db.session.scalar(db.select(db.func.count(SalonCase.id))) == 1


# -- trainers and organizers -----------------------------------------------------------


@pytest.mark.parametrize("role", ["trainer", "organizer"])
def test_trainers_and_organizers_create_cases_topics_and_reviews(app, make_user, role):
    user = make_user(f"{role}-x@example.com", role=role)
    client = client_for(app, user.email)
    assert client.get("/salon/new").status_code == 200
    response = client.post("/salon/new", case_fields())
    assert response.status_code == 302
    case_url = response.headers["Location"]
    assert client.get("/discussions/new").status_code == 200
    response = client.post("/discussions/new", topic_fields())
    assert response.status_code == 302
    topic_url = response.headers["Location"]

    page = text(client.get(case_url))
    assert "<h1>Keeping engineers</h1>" in page
    assert "<strong>good</strong>" in page
    assert 'name="expert_review"' in page
    response = client.post(f"{case_url}/comments", {"body": "Pay well.", "expert_review": "y"})
    assert response.status_code == 302
    assert "Expert review" in text(client.get(case_url))
    assert "<em>phenomenon</em>" in text(client.get(topic_url))
    with app.app_context():
        assert db.session.scalar(db.select(CaseComment.is_expert_review)) is True
        topic = db.session.scalar(db.select(DiscussionTopic))
        assert (topic.kind, topic.created_by_id) == ("phenomenon", user.id)


def test_expert_reviews_are_highlighted_and_listed_first(app, learner, trainer, case_id):
    client_for(app, learner.email).post(f"/salon/{case_id}/comments", {"body": "learner first"})
    client_for(app, trainer.email).post(
        f"/salon/{case_id}/comments", {"body": "the expert view", "expert_review": "y"}
    )
    page = text(client_for(app, learner.email).get(f"/salon/{case_id}"))
    assert page.index("the expert view") < page.index("learner first")
    assert page.count("Expert review") == 1
    review = page[page.index('class="notice"') :]
    assert review.index("Expert review") < review.index("the expert view")


def test_a_case_can_name_the_session_it_was_presented_at(app, trainer):
    with app.app_context():
        session = live.create_session(
            live.SessionValues(
                title_zh="活动日", title_en="Activity day", location="Centre", capacity=10
            ),
            datetime.now(UTC) + timedelta(days=3),
            live.ACTIVITY_DAY_SEGMENTS,
        )
        session_id = session.id
    client = client_for(app, trainer.email)
    assert "Activity day" in text(client.get("/salon/new"))
    before = counts(app)
    assert client.post("/salon/new", case_fields(session=str(MISSING))).status_code == 400
    assert counts(app) == before
    response = client.post("/salon/new", case_fields(session=str(session_id)))
    assert response.status_code == 302
    assert f"/live/{session_id}" in text(client.get(response.headers["Location"]))


# -- threaded discussion ---------------------------------------------------------------


def test_replies_nest_under_their_parent(app, learner, other_learner, topic_id):
    first = client_for(app, learner.email)
    second = client_for(app, other_learner.email)
    response = first.post(f"/discussions/{topic_id}/comments", {"body": "root comment"})
    assert response.status_code == 302
    with app.app_context():
        root_id = db.session.scalar(db.select(TopicComment.id))
    response = second.post(
        f"/discussions/{topic_id}/comments", {"body": "a reply", "parent_id": str(root_id)}
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/discussions/{topic_id}#c")
    with app.app_context():
        reply = db.session.scalar(db.select(TopicComment).filter_by(body="a reply"))
        assert reply.parent_id == root_id
        tree = community.thread(db.session.get(DiscussionTopic, topic_id))
        assert [node.comment.body for node in tree] == ["root comment"]
        assert [node.comment.body for node in tree[0].children] == ["a reply"]
        assert tree[0].children[0].depth == 1
    page = text(first.get(f"/discussions/{topic_id}"))
    root_at, reply_at = page.index(f'id="c{root_id}"'), page.index("a reply")
    assert root_at < reply_at < page.index("</article>", reply_at) < page.rindex("</article>")
    assert f'name="parent_id" value="{root_id}"' in page


def test_a_parent_from_another_topic_is_a_400_and_nothing_is_written(
    app, learner, trainer, topic_id
):
    elsewhere = add_topic(app, trainer, title="Another")
    foreign = add_comment(app, elsewhere, trainer)
    client = client_for(app, learner.email)
    before = counts(app)
    for parent in (str(foreign), str(MISSING), str(2**31), "9" * 18, "0", "abc", "-1", "1" * 30):
        response = client.post(
            f"/discussions/{topic_id}/comments", {"body": "sneaky", "parent_id": parent}
        )
        assert response.status_code == 400, parent
        assert "sneaky" in text(response)  # the text is kept for another try
    assert "You can only reply to a comment of this topic." in text(
        client.post(f"/discussions/{topic_id}/comments", {"body": "x", "parent_id": foreign})
    )
    assert counts(app) == before


def test_the_service_refuses_a_foreign_parent_with_a_value_error(in_request, learner, trainer):
    one = add_topic(in_request, trainer)
    two = add_topic(in_request, trainer)
    foreign = add_comment(in_request, two, trainer)
    user = db.session.get(User, learner.id)
    with pytest.raises(ValueError, match="reply to a comment of this topic"):
        community.add_topic_comment(user, db.session.get(DiscussionTopic, one), "x", foreign)


def test_deep_threads_stop_nesting_and_say_whom_they_answer(in_request, trainer, learner):
    topic_id = add_topic(in_request, trainer)
    parent = None
    ids = []
    for index in range(community.MAX_DEPTH + 4):
        author = trainer if index % 2 else learner
        parent = add_comment(in_request, topic_id, author, parent)
        ids.append(parent)
    tree = community.thread(db.session.get(DiscussionTopic, topic_id))
    node, depth = tree[0], 0
    while node.children and node.children[0].depth > depth:
        node, depth = node.children[0], node.children[0].depth
    assert depth == community.MAX_DEPTH
    holder = tree[0]
    for _ in range(community.MAX_DEPTH - 1):
        holder = holder.children[0]
    flat = holder.children
    assert [n.comment.id for n in flat] == ids[community.MAX_DEPTH :]
    assert all(n.depth == community.MAX_DEPTH for n in flat)
    assert flat[0].reply_to is None
    assert [n.reply_to.id for n in flat[1:]] == [n.comment.user_id for n in flat[:-1]]


# -- escaping and sanitizing -----------------------------------------------------------


@pytest.mark.parametrize("value", [SCRIPT, TRICKY])
def test_titles_and_comments_round_trip_as_text(app, trainer, value):
    rename(app, trainer, value)
    client = client_for(app, trainer.email)
    response = client.post("/salon/new", case_fields(title=value, company=value))
    assert response.status_code == 302
    case_url = response.headers["Location"]
    assert client.post(f"{case_url}/comments", {"body": value}).status_code == 302
    response = client.post("/discussions/new", topic_fields(title=value))
    assert response.status_code == 302
    topic_url = response.headers["Location"]
    assert client.post(f"{topic_url}/comments", {"body": value}).status_code == 302

    escaped = str(escape(value))
    for url in (case_url, "/salon/", topic_url, "/discussions/"):
        page = text(client.get(url))
        assert escaped in page, url
        assert SCRIPT not in page, url
    assert text(client.get(case_url)).count(escaped) >= 4  # title, company, comment, name
    assert text(client.get(topic_url)).count(escaped) >= 3  # title, comment, name
    with app.app_context():
        case = db.session.scalar(db.select(SalonCase))
        assert (case.title, case.company) == (value, value)
        assert db.session.scalar(db.select(CaseComment.body)) == value
        assert db.session.scalar(db.select(DiscussionTopic.title)) == value
        assert db.session.scalar(db.select(TopicComment.body)) == value


def test_markdown_bodies_are_sanitized(app, trainer):
    body = (
        "**bold** text\n\n"
        f"{SCRIPT}\n\n"
        "[click](javascript:alert(1)) [ok](https://example.com)\n\n"
        '<img src=x onerror="alert(2)"> <a href="javascript:alert(3)">raw</a>\n'
    )
    client = client_for(app, trainer.email)
    case_url = client.post("/salon/new", case_fields(body=body)).headers["Location"]
    topic_url = client.post("/discussions/new", topic_fields(body=body)).headers["Location"]
    for url in (case_url, topic_url):
        page = text(client.get(url))
        assert "<strong>bold</strong>" in page
        assert "<script>" not in page
        assert "javascript:" not in page
        assert "onerror" not in page
        assert 'src="x"' not in page
        assert 'href="https://example.com"' in page
    with app.app_context():
        assert db.session.scalar(db.select(SalonCase.body)) == body.strip()


# -- the library: search and filter ----------------------------------------------------


def test_the_library_filters_by_topic_and_searches_title_and_company(app, learner, trainer):
    add_case(app, trainer, company="ACME Robotics", topic="hr", title="Hiring engineers")
    add_case(app, trainer, company="和达文创园", topic="party_building", title="党建创新服务")
    add_case(app, trainer, company="Green Energy", topic="financing", title="Series A_round 100%")
    client = client_for(app, learner.email)

    def titles(query: str) -> list[str]:
        page = text(client.get(f"/salon/?{query}"))
        return [
            title
            for title in ("Hiring engineers", "党建创新服务", "Series A_round 100%")
            if title in page
        ]

    assert titles("") == ["Hiring engineers", "党建创新服务", "Series A_round 100%"]
    assert titles("topic=hr") == ["Hiring engineers"]
    assert titles("topic=party_building") == ["党建创新服务"]
    assert titles("q=acme") == ["Hiring engineers"]  # company, any case
    assert titles("q=HIRING") == ["Hiring engineers"]  # title, any case
    assert titles("q=和达") == ["党建创新服务"]
    assert titles("q=党建") == ["党建创新服务"]
    assert titles("q=%25") == ["Series A_round 100%"]  # "%" is a character, not a wildcard
    assert titles("q=A_r") == ["Series A_round 100%"]
    assert titles("q=a_r") == ["Series A_round 100%"]
    assert titles("q=n_e") == []  # "_" is not a wildcard either
    assert titles("topic=hr&q=energy") == []
    assert "No case matches." in text(client.get("/salon/?q=nothing-like-this"))
    assert client.get("/salon/?topic=gossip").status_code == 400
    assert client.get("/salon/?q=" + "x" * 201).status_code == 400


def test_the_library_is_paginated_newest_first(app, learner, trainer):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for number in range(25):
        add_case(
            app, trainer, title=f"Case {number:02d}", created_at=start + timedelta(days=number)
        )
    client = client_for(app, learner.email)
    first = text(client.get("/salon/"))
    assert first.index("Case 24") < first.index("Case 05")
    assert "Case 04" not in first
    assert "Page 1 of 2" in first
    assert "/salon/?page=2" in first
    second = text(client.get("/salon/?page=2"))
    assert "Case 04" in second and "Case 00" in second and "Case 05" not in second
    assert client.get("/salon/?page=" + "9" * 30).status_code == 200
    assert client.get("/discussions/?page=" + "9" * 30).status_code == 200
    assert text(client.get("/salon/?page=0")).count("Case ") == text(client.get("/salon/")).count(
        "Case "
    )


def test_topics_filter_by_kind(app, learner, trainer):
    add_topic(app, trainer, kind="person", title="A model worker")
    add_topic(app, trainer, kind="news", title="A policy")
    client = client_for(app, learner.email)
    page = text(client.get("/discussions/?kind=person"))
    assert "A model worker" in page and "A policy" not in page
    assert client.get("/discussions/?kind=rumour").status_code == 400


# -- invalid input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": "bad\x01title"},
        {"company": " "},
        {"company": "c" * 201},
        {"body": ""},
        {"body": " \n "},
        {"body": "b" * 20_001},
        {"topic": "gossip"},
        {"organization": str(MISSING)},
        {"session": "abc"},
    ],
)
def test_invalid_cases_are_a_400_and_nothing_is_written(app, trainer, changes):
    client = client_for(app, trainer.email)
    before = counts(app)
    response = client.post("/salon/new", case_fields(**changes))
    assert response.status_code == 400
    assert 'class="error"' in text(response)
    assert counts(app) == before


@pytest.mark.parametrize(
    "changes",
    [{"title": ""}, {"title": "t" * 201}, {"body": ""}, {"body": "b" * 20_001}, {"kind": "x"}],
)
def test_invalid_topics_are_a_400_and_nothing_is_written(app, trainer, changes):
    client = client_for(app, trainer.email)
    before = counts(app)
    assert client.post("/discussions/new", topic_fields(**changes)).status_code == 400
    assert counts(app) == before


@pytest.mark.parametrize("body", ["", "   ", "\n\n", "c" * 5_001, "nul\x00byte"])
def test_invalid_comments_are_a_400_and_nothing_is_written(app, learner, case_id, topic_id, body):
    client = client_for(app, learner.email)
    before = counts(app)
    assert client.post(f"/salon/{case_id}/comments", {"body": body}).status_code == 400
    assert client.post(f"/discussions/{topic_id}/comments", {"body": body}).status_code == 400
    assert counts(app) == before


def test_the_longest_allowed_texts_are_accepted(app, trainer, case_id):
    client = client_for(app, trainer.email)
    response = client.post("/salon/new", case_fields(title="t" * 200, body="b" * 20_000))
    assert response.status_code == 302
    assert client.post(f"/salon/{case_id}/comments", {"body": "c" * 5_000}).status_code == 302


def test_the_service_validates_too(in_request, trainer, learner):
    user = db.session.get(User, trainer.id)
    with pytest.raises(community.CommunityError, match="must not be empty"):
        community.create_case(user, "Co", "hr", "  ", "Body")
    with pytest.raises(community.CommunityError, match="too long"):
        community.create_topic(user, "news", "Title", "b" * 20_001)
    with pytest.raises(community.CommunityError):
        community.create_topic(user, "gossip", "Title", "Body")
    with pytest.raises(community.NotAllowed):
        community.create_topic(db.session.get(User, learner.id), "news", "Title", "Body")
    case = community.create_case(user, "Co", "hr", "Title", "Body")
    with pytest.raises(community.NotAllowed):
        community.add_case_comment(db.session.get(User, learner.id), case, "Hi", True)
    assert db.session.scalar(db.select(db.func.count(CaseComment.id))) == 0


def test_every_choice_of_the_models_has_a_label():
    assert set(CASE_TOPIC_LABELS) == set(CASE_TOPICS)
    assert set(TOPIC_KIND_LABELS) == set(TOPIC_KINDS)


# -- unknown ids -----------------------------------------------------------------------


@pytest.mark.parametrize("missing", [MISSING, 2**31, 10**20])
def test_unknown_ids_are_404(app, trainer, missing):
    client = client_for(app, trainer.email)
    before = counts(app)
    assert client.get(f"/salon/{missing}").status_code == 404
    assert client.post(f"/salon/{missing}/comments", {"body": "x"}).status_code == 404
    assert client.get(f"/discussions/{missing}").status_code == 404
    assert client.post(f"/discussions/{missing}/comments", {"body": "x"}).status_code == 404
    assert counts(app) == before


# -- a fixed number of queries ---------------------------------------------------------


def queries_for(app: Flask, client: Client, url: str) -> int:
    with count_queries(app) as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements)


def add_cases_with_comments(app: Flask, users: list[User], count: int) -> None:
    for number in range(count):
        user = users[number % len(users)]
        case_id = add_case(app, user, title=f"Case {number}", topic=CASE_TOPICS[number % 7])
        with app.app_context():
            db.session.add(CaseComment(case_id=case_id, user_id=user.id, body="ok"))
            db.session.commit()


def test_the_library_does_not_grow_with_the_cases(app, make_user, learner, trainer):
    users = [trainer, *(make_user(f"p{n}@example.com", organization=f"Org {n}") for n in range(3))]
    client = client_for(app, learner.email)
    add_cases_with_comments(app, users, 2)
    before = queries_for(app, client, "/salon/")
    add_cases_with_comments(app, users, 25)
    assert queries_for(app, client, "/salon/") == before
    assert queries_for(app, client, "/salon/?q=Case&topic=strategy") == before


def test_the_topic_page_does_not_grow_with_the_comments(app, make_user, learner, topic_id):
    users = [learner, *(make_user(f"c{n}@example.com") for n in range(4))]
    client = client_for(app, learner.email)
    root = add_comment(app, topic_id, users[0])
    add_comment(app, topic_id, users[1], root)
    before = queries_for(app, client, f"/discussions/{topic_id}")
    parent = root
    for number in range(30):
        parent = add_comment(app, topic_id, users[number % 5], parent if number % 3 else None)
    assert queries_for(app, client, f"/discussions/{topic_id}") == before


def test_the_case_page_does_not_grow_with_the_comments(app, make_user, learner, case_id):
    users = [learner, *(make_user(f"r{n}@example.com") for n in range(4))]
    client = client_for(app, learner.email)
    before = queries_for(app, client, f"/salon/{case_id}")
    with app.app_context():
        for number in range(30):
            db.session.add(
                CaseComment(
                    case_id=case_id,
                    user_id=users[number % 5].id,
                    body="ok",
                    is_expert_review=number % 4 == 0,
                )
            )
        db.session.commit()
    assert queries_for(app, client, f"/salon/{case_id}") == before
