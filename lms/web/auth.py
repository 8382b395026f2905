"""Register, log in, log out, change or reset a password, choose a language.

Rate limits come from the config (``LOGIN_RATE_LIMIT``, ``REGISTER_RATE_LIMIT``,
``PASSWORD_RESET_RATE_LIMIT``, ``PASSWORD_RESET_IP_RATE_LIMIT``); each refusal is a 429
with a message, and is logged on ``lms.security`` (:mod:`lms.services.audit`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from hashlib import sha512

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from lms.models import AccountToken
from lms.models._base import utcnow
from lms.services import accounts, audit, password_reset, ratelimit
from lms.web.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LanguageForm,
    LoginForm,
    RegisterForm,
    ResetPasswordForm,
)
from lms.web.security import safe_next

bp = Blueprint("auth", __name__)

SESSION_TOKEN = "lms_sid"  # noqa: S105 - the session key holding the login token
SESSION_SEEN = "lms_seen"  # the Unix time of the login's last request (idle expiry)
# The last use is written again (and the cookie re-signed) once it is this old, in seconds: a
# login may end up to this much before its idle lifetime; other requests send no cookie.
SEEN_EVERY = 60
# Flask-Login's keys, dropped when a login has expired. The token stays in the session, so
# that the next log-in in this browser revokes it (a GET never writes to revoke it at once).
LOGIN_KEYS = ("_user_id", "_fresh", "_id")


def _rate(name: str) -> str:
    return str(current_app.config[name])


def _login_keys(email: str) -> tuple[str, str]:
    """Failed log-ins are counted per client address and per account."""
    return f"ip:{request.remote_addr}", f"email:{accounts.normalise_email(email)}"


def check_signup_rate() -> None:
    """Count one sign-up (registration or invite link) from this address; 429 past
    ``REGISTER_RATE_LIMIT``."""
    if not ratelimit.spend("register", f"ip:{request.remote_addr}", _rate("REGISTER_RATE_LIMIT")):
        audit.event("rate_limited", scope="register")
        abort(429, _("Too many new accounts from your network. Wait a while and try again."))


def load_user(user_id: str) -> accounts.User | None:
    """Flask-Login's user loader: the user of this browser's live login, or None (and the
    browser is no longer logged in). Each request marks the login as used now."""
    now = utcnow()
    user = accounts.user_for_session(
        user_id, session.get(SESSION_TOKEN), session.get(SESSION_SEEN), now
    )
    if user is None:
        for key in LOGIN_KEYS:
            session.pop(key, None)
        return None
    seen = int(now.timestamp())
    if seen - session.get(SESSION_SEEN, 0) >= SEEN_EVERY:
        session[SESSION_SEEN] = seen
    return user


def session_identifier() -> str:
    """Flask-Login's session protection identifier (its ``_create_identifier``: a SHA-512 of
    the client's address and user agent), computed once per process for each pair."""
    address = request.headers.get("X-Forwarded-For", request.remote_addr)
    return _identifier(address, request.headers.get("User-Agent"))


@lru_cache(maxsize=4096)
def _identifier(address: str | None, user_agent: str | None) -> str:
    # Byte for byte what flask_login.utils._create_identifier computes.
    remote = address.encode("utf-8").split(b",")[0].strip() if address is not None else None
    agent = user_agent.encode("utf-8") if user_agent is not None else None
    return sha512(f"{remote}|{agent}".encode()).hexdigest()


def log_in(user: accounts.User) -> None:
    """Log ``user`` in, in a fresh session (no fixation), with a new login row."""
    replacing = session.get(SESSION_TOKEN)
    session.clear()  # a fresh session at every login: no fixation
    token = accounts.start_session(user, request.user_agent.string, replacing=replacing)
    session[SESSION_TOKEN] = token
    session[SESSION_SEEN] = int(utcnow().timestamp())
    session.permanent = True
    login_user(user)


@bp.route("/register", methods=["GET", "POST"])
def register() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("learn.dashboard"))
    form = RegisterForm()
    if form.validate_on_submit():
        check_signup_rate()
        try:
            user = accounts.create_user(
                form.email.data, form.name.data, form.password.data, locale=form.locale.data
            )
        except accounts.EmailTaken:
            form.email.errors.append(_("This e-mail address is already registered."))
        else:
            log_in(user)
            audit.event("account_created", user=user)
            flash(_("Welcome, %(name)s!", name=user.name), "success")
            return redirect(url_for("catalog.index"))
    return render_template("auth/register.html", form=form), 400 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        keys, rate = _login_keys(form.email.data), _rate("LOGIN_RATE_LIMIT")
        if not all(ratelimit.allowed("login", key, rate) for key in keys):
            audit.event("rate_limited", scope="login", email=form.email.data)
            abort(429, _("Too many failed log-ins. Wait a few minutes and try again."))
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            log_in(user)
            audit.event("login", user=user)
            return redirect(safe_next(form.next.data, url_for("learn.dashboard")))
        for key in keys:
            ratelimit.spend("login", key, rate)
        audit.event("login_failed", email=form.email.data)
        form.password.errors.append(_("Wrong e-mail or password."))
    return render_template("auth/login.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        audit.event("logout", user=current_user.id)
    accounts.end_session(session.get(SESSION_TOKEN))
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("catalog.index"))


@bp.post("/language")
def language() -> Response:
    form = LanguageForm()
    if not form.validate_on_submit():
        abort(400, _("Unknown language."))
    session["locale"] = form.locale.data
    if current_user.is_authenticated:
        accounts.set_locale(current_user, form.locale.data)
    return redirect(safe_next(form.next.data, url_for("catalog.index")))


def _account_page(form: ChangePasswordForm, status: int = 200) -> tuple[str, int]:
    accounts.organization_of(current_user)  # the page names it
    return render_template("auth/account.html", password_form=form), status


@bp.get("/account")
@login_required
def account() -> tuple[str, int]:
    return _account_page(ChangePasswordForm(formdata=None))


@bp.post("/account/password")
@login_required
def change_password() -> Response | tuple[str, int]:
    """A new password for the logged-in user: the current one first. Every other session
    of the account ends; this browser gets a fresh one. Wrong current passwords count as
    failed log-ins (same limit, same keys)."""
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    form.account = user
    if not form.validate_on_submit():
        return _account_page(form, 400)
    keys, rate = _login_keys(user.email), _rate("LOGIN_RATE_LIMIT")
    if not all(ratelimit.allowed("login", key, rate) for key in keys):
        audit.event("rate_limited", scope="password_change", user=user)
        abort(429, _("Too many failed log-ins. Wait a few minutes and try again."))
    if not accounts.verify_password(user, form.current_password.data):
        for key in keys:
            ratelimit.spend("login", key, rate)
        audit.event("password_change_failed", user=user)
        form.current_password.errors.append(_("This is not your current password."))
        return _account_page(form, 400)
    accounts.set_password(user, form.password.data)
    log_in(user)
    audit.event("password_changed", user=user)
    flash(_("Your password is changed. Your other devices are logged out."), "success")
    return redirect(url_for(".account"))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password() -> tuple[str, int]:
    """Ask for a reset link. Known and unknown addresses get the same page, status and
    work (the account is looked up in the job); requests are limited per address and per
    e-mail."""
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/forgot.html", form=form), 400 if form.errors else 200
    email = accounts.normalise_email(form.email.data)
    limits = (
        (f"ip:{request.remote_addr}", _rate("PASSWORD_RESET_IP_RATE_LIMIT")),
        (f"email:{email}", _rate("PASSWORD_RESET_RATE_LIMIT")),
    )
    if not all(ratelimit.allowed("reset", key, rate) for key, rate in limits):
        audit.event("rate_limited", scope="password_reset", email=email)
        abort(429, _("Too many requests for a new password. Wait an hour and try again."))
    for key, rate in limits:
        ratelimit.spend("reset", key, rate)
    password_reset.request_link(email)
    audit.event("password_reset_requested", email=email)
    return render_template("auth/forgot_sent.html"), 200


@dataclass(frozen=True)
class PasswordLinkPage:
    """The page a one-time password link opens: a forgotten password's reset link (here)
    and an imported account's set-password link (``organizations.setup_account``) share
    :func:`password_link_page`; this says what differs: the link's lookup and spending, the
    form, the template, the words for a link that does not work and for one that worked."""

    find: Callable[[str], AccountToken | None]
    spend: Callable[[str, str], accounts.User | None]
    form: type[FlaskForm]
    template: str
    invalid: LazyString
    done: LazyString


def password_link_page(token: str, page: PasswordLinkPage) -> Response:
    """A link that does not work (unknown, expired, used, a disabled account) is a 404
    saying so. A valid new password spends the link and ends every session of the account
    (:mod:`lms.services.account_tokens`); this browser's login ends too, whoever's it was,
    and the person is sent to log in with the new password."""
    found = page.find(token)
    if found is None:
        abort(404, str(page.invalid))
    form = page.form()
    form.account = found.user  # the password must differ from its e-mail and name
    if form.validate_on_submit():
        if page.spend(token, form.password.data) is None:
            abort(404, str(page.invalid))
        if current_user.is_authenticated:
            logout_user()
        accounts.end_session(session.get(SESSION_TOKEN))  # another account's login, maybe
        session.clear()
        flash(str(page.done), "success")
        return redirect(url_for("auth.login"))
    html = render_template(page.template, form=form, email=found.user.email)
    return make_response(html, 400 if form.errors else 200)  # no-store: lms.web.security


# The reset link of a forgotten password: the set-password page's implementation.
RESET_PAGE = PasswordLinkPage(
    find=password_reset.find_link,
    spend=password_reset.reset,
    form=ResetPasswordForm,
    template="auth/reset.html",
    invalid=_l(
        "This link does not work: it is unknown, expired or used already. "
        "Ask for a new one on the log-in page."
    ),
    done=_l("Your password is changed. Log in with the new password."),
)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response:
    """Choose a new password through a mailed link; every session of the account ends."""
    return password_link_page(token, RESET_PAGE)
