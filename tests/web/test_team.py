"""The Team page: admins add people, change roles, deactivate, reset passwords."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.helpers import Credentials, WebClient, make_user
from webapp.models import Role

NEW_PERSON = {
    "name": "Grace <Hopper>",
    "email": "grace@example.com",
    "role": "agent",
    "password": "a long enough secret",
}


def test_the_team_page_lists_everyone(admin_web: WebClient, agent: Credentials) -> None:
    page = admin_web.get("/team")
    assert page.status_code == 200
    assert "ada@example.com" in page.text
    assert "alan@example.com" in page.text


def test_adding_a_person_without_javascript(app: Flask, admin_web: WebClient) -> None:
    response = admin_web.post("/team", NEW_PERSON)
    assert response.status_code == 302
    page = admin_web.get("/team")
    assert "Grace &lt;Hopper&gt; can now sign in as agent." in page.text
    newcomer = admin_web.__class__(app.test_client())
    assert (
        newcomer.login(Credentials(0, "grace@example.com", NEW_PERSON["password"])).status_code
        == 302
    )


def test_adding_a_person_over_htmx_returns_just_the_new_row(admin_web: WebClient) -> None:
    response = admin_web.post("/team", NEW_PERSON, htmx=True)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="member-' in response.text
    assert "Grace &lt;Hopper&gt;" in response.text
    assert 'id="new-member-form"' in response.text
    assert 'hx-swap-oob="true"' in response.text
    assert 'value=""' in response.text  # a fresh, empty form replaces the used one


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"email": "ada@example.com"}, "Someone on the team already uses ada@example.com."),
        ({"password": "short"}, "at least 10 characters"),
        ({"email": "not-an-email"}, "Invalid email address."),
        ({"name": ""}, "This field is required."),
    ],
)
def test_adding_a_person_explains_what_is_wrong(
    admin_web: WebClient, change: dict[str, str], message: str
) -> None:
    response = admin_web.post("/team", {**NEW_PERSON, **change})
    assert response.status_code == 422
    assert message in response.text
    assert "<html" in response.text  # the whole page, the form keeps what was typed


def test_changing_a_role(admin_web: WebClient, agent: Credentials) -> None:
    response = admin_web.post(f"/team/{agent.id}/role", {"role": "admin"}, htmx=True)
    assert response.status_code == 200
    assert f'id="member-{agent.id}"' in response.text
    assert "Alan Agent is now an admin." in response.text


def test_the_last_admin_cannot_be_demoted(admin_web: WebClient, admin: Credentials) -> None:
    response = admin_web.post(f"/team/{admin.id}/role", {"role": "agent"}, htmx=True)
    assert response.status_code == 409
    assert "This is the last active admin." in response.text
    assert "Admin" in admin_web.get("/team").text


def test_an_admin_can_step_down_when_another_admin_remains(
    app: Flask, admin_web: WebClient, admin: Credentials
) -> None:
    make_user(app, "second@example.com", Role.ADMIN)
    response = admin_web.post(f"/team/{admin.id}/role", {"role": "agent"})
    assert response.status_code == 302
    assert admin_web.get("/team").status_code == 403  # now an agent


def test_the_last_active_admin_cannot_be_deactivated(
    app: Flask, admin_web: WebClient, admin: Credentials
) -> None:
    other = make_user(app, "other@example.com", Role.ADMIN)
    assert admin_web.post(f"/team/{other.id}/deactivate").status_code == 302
    # Ada is now the only active admin; a deactivated admin does not count.
    response = admin_web.post(f"/team/{other.id}/role", {"role": "agent"}, htmx=True)
    assert response.status_code == 200
    other_web = WebClient(app.test_client())
    assert other_web.login(other).status_code == 401


def test_nobody_deactivates_themselves(admin_web: WebClient, admin: Credentials) -> None:
    response = admin_web.post(f"/team/{admin.id}/deactivate", htmx=True)
    assert response.status_code == 409
    assert "You can&#39;t deactivate your own account." in response.text


def test_deactivate_and_reactivate(app: Flask, admin_web: WebClient, agent: Credentials) -> None:
    response = admin_web.post(f"/team/{agent.id}/deactivate", htmx=True)
    assert "Deactivated" in response.text
    response = admin_web.post(f"/team/{agent.id}/reactivate", htmx=True)
    assert "Alan Agent can sign in again." in response.text
    assert WebClient(app.test_client()).login(agent).status_code == 302


def test_a_weak_reset_password_is_refused(admin_web: WebClient, agent: Credentials) -> None:
    response = admin_web.post(f"/team/{agent.id}/password", {"password": "aaaaaaaaaaaa"})
    assert response.status_code == 302
    assert "repeats too few characters" in admin_web.get("/team").text


def test_an_unknown_person_is_a_404(admin_web: WebClient) -> None:
    assert admin_web.post("/team/999/reactivate").status_code == 404


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/team"),
        ("post", "/team"),
        ("post", "/team/1/role"),
        ("post", "/team/1/deactivate"),
        ("post", "/team/1/reactivate"),
        ("post", "/team/1/password"),
    ],
)
def test_agents_cannot_manage_the_team(agent_web: WebClient, method: str, url: str) -> None:
    assert getattr(agent_web, method)(url).status_code == 403
