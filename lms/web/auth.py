"""Register, log in, log out, choose a language."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from lms.services import accounts, ratelimit
from lms.web.forms import LanguageForm, LoginForm, RegisterForm
from lms.web.security import safe_next

bp = Blueprint("auth", __name__)

# Failed log-ins allowed per client address and per account before 429.
LOGIN_RATE = "10/5 minutes"
SESSION_TOKEN = "lms_sid"  # noqa: S105 - the session key holding the login token


def _log_in(user: accounts.User) -> None:
    session.clear()  # a fresh session at every login: no fixation
    token = accounts.start_session(user, request.user_agent.string)
    session[SESSION_TOKEN] = token
    session.permanent = True
    login_user(user)


@bp.route("/register", methods=["GET", "POST"])
def register() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("learn.dashboard"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                form.email.data, form.name.data, form.password.data, locale=form.locale.data
            )
        except accounts.EmailTaken:
            form.email.errors.append(_("This e-mail address is already registered."))
        else:
            _log_in(user)
            flash(_("Welcome, %(name)s!", name=user.name), "success")
            return redirect(url_for("catalog.index"))
    return render_template("auth/register.html", form=form), 400 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        keys = (f"ip:{request.remote_addr}", f"email:{accounts.normalise_email(form.email.data)}")
        if not all(ratelimit.allowed("login", key, LOGIN_RATE) for key in keys):
            abort(429, _("Too many failed log-ins. Wait a few minutes and try again."))
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            _log_in(user)
            return redirect(safe_next(form.next.data, url_for("learn.dashboard")))
        for key in keys:
            ratelimit.spend("login", key, LOGIN_RATE)
        form.password.errors.append(_("Wrong e-mail or password."))
    return render_template("auth/login.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
def logout() -> Response:
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


@bp.get("/account")
@login_required
def account() -> str:
    return render_template("auth/account.html")
