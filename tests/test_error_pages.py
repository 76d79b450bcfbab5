"""Error pages (issue 14): every refusal outside ``/api/`` is a page in the reader's language,
with the right status, a title, what happened, what to do next and a way back; a 429 says when
to try again (and sends Retry-After); the API keeps answering JSON exactly as before.

What a user reads is checked as they would read it: the page's language, its title, its
heading, the text of its main landmark and its links."""

import re
from html.parser import HTMLParser

import pytest
from flask import Blueprint

from queue_app import create_app
from queue_app.rules import errors
from queue_app.web import api as api_module

from conftest import APP_CONFIG, restore_demo
from helpers import csrf_token, next_workday

LANGUAGES = ("ca", "es", "en")
# Low limits, so that a test reaches them in a few requests (the default is 60 and 10).
PUBLIC_LIMIT, LOGIN_LIMIT = 3, 2

# A page's title (its <title> before " · Torn", and its h1) per status and language.
TITLES = {
    400: {
        "ca": "Hi ha alguna cosa que no és correcta en aquesta petició",
        "es": "Hay algo que no es correcto en esta petición",
        "en": "Something in this request is not right",
    },
    401: {
        "ca": "Cal que inicieu la sessió",
        "es": "Tiene que iniciar sesión",
        "en": "You need to log in",
    },
    403: {"ca": "No podeu fer això", "es": "No puede hacer esto", "en": "You may not do this"},
    404: {
        "ca": "No s'ha trobat la pàgina",
        "es": "No se ha encontrado la página",
        "en": "Page not found",
    },
    405: {
        "ca": "Aquesta pàgina no es pot fer servir d'aquesta manera",
        "es": "Esta página no se puede usar de esta manera",
        "en": "This page cannot be used this way",
    },
    409: {
        "ca": "Ara no es pot fer això",
        "es": "Ahora no se puede hacer esto",
        "en": "This cannot be done now",
    },
    413: {
        "ca": "El que heu enviat és massa gran",
        "es": "Lo que ha enviado es demasiado grande",
        "en": "What you sent is too large",
    },
    429: {"ca": "Massa peticions", "es": "Demasiadas peticiones", "en": "Too many requests"},
    500: {"ca": "Alguna cosa ha fallat", "es": "Algo ha fallado", "en": "Something went wrong"},
}
# What to do next, per status and language (the start of the page's advice).
ADVICE = {
    400: {
        "ca": "L'adreça o el formulari enviat no és vàlid. Torneu enrere",
        "es": "La dirección o el formulario enviado no es válido. Vuelva atrás",
        "en": "The address or the form sent is not valid. Go back",
    },
    401: {
        "ca": "Aquesta pàgina és per al personal de l'ajuntament.",
        "es": "Esta página es para el personal del ayuntamiento.",
        "en": "This page is for the town hall's staff.",
    },
    403: {
        "ca": "El vostre usuari no té permís per obrir aquesta pàgina",
        "es": "Su usuario no tiene permiso para abrir esta página",
        "en": "Your user is not allowed to open this page",
    },
    404: {
        "ca": "En aquesta adreça no hi ha res.",
        "es": "En esta dirección no hay nada.",
        "en": "There is nothing at this address.",
    },
    405: {
        "ca": "Aquesta adreça no accepta aquest tipus de petició.",
        "es": "Esta dirección no acepta este tipo de petición.",
        "en": "This address does not take this kind of request.",
    },
    409: {
        "ca": "Xoca amb com estan les coses ara mateix.",
        "es": "Choca con cómo están las cosas ahora mismo.",
        "en": "It clashes with how things stand right now.",
    },
    413: {
        "ca": "El formulari o el fitxer és més gran del que accepta aquest servidor.",
        "es": "El formulario o el archivo es más grande de lo que acepta este servidor.",
        "en": "The form or the file is larger than this server accepts.",
    },
    429: {
        "ca": "Han arribat massa peticions des de la vostra connexió en poc temps.",
        "es": "Han llegado demasiadas peticiones desde su conexión en poco tiempo.",
        "en": "Too many requests came from your connection in a short time.",
    },
    500: {
        "ca": "El servidor no ha pogut completar aquesta petició.",
        "es": "El servidor no ha podido completar esta petición.",
        "en": "The server could not complete this request.",
    },
}
START_PAGE = {
    "ca": "Vés a la pàgina d'inici",
    "es": "Ir a la página de inicio",
    "en": "Go to the start page",
}
GO_BACK = {"ca": "Torna enrere", "es": "Volver atrás", "en": "Go back"}
TRY_AGAIN = {"ca": "Torna-ho a provar", "es": "Volver a intentarlo", "en": "Try again"}
# Werkzeug's and Flask-WTF's own (English) descriptions: never on a page.
WERKZEUG_WORDS = (
    "The requested URL",
    "The method is not allowed",
    "The browser (or proxy) sent a request",
    "The server encountered an internal error",
    "The data value transmitted exceeds",
    "The CSRF token",
    "per 1 minute",
    "Internal Server Error",
    "Traceback",
)


class Page(HTMLParser):
    """What a reader gets from an HTML page: its language, title, heading, the text of its
    main landmark, and that landmark's links as ``(text, href)``."""

    def __init__(self, html):
        super().__init__()
        self.lang = self.title = self.h1 = None
        self.mains, self.main_text, self.links = 0, [], []
        self._open, self._in_main, self._link = [], False, None
        self.feed(html)
        self.text = " ".join(" ".join(self.main_text).split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag == "main":
            self.mains += 1
            self._in_main = True
        if tag == "a" and self._in_main:
            self._link = [attrs.get("href"), []]
        self._open.append(tag)

    def handle_endtag(self, tag):
        if tag == "main":
            self._in_main = False
        if tag == "a" and self._link is not None:
            self.links.append((" ".join("".join(self._link[1]).split()), self._link[0]))
            self._link = None
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        where = self._open[-1] if self._open else None
        if where == "title":
            self.title = (self.title or "") + data
        elif where == "h1":
            self.h1 = (self.h1 or "") + data
        if self._in_main:
            self.main_text.append(data)
            if self._link is not None:
                self._link[1].append(data)


def read(response):
    """The page of an error response, checked to be a whole page: one main, one h1."""
    assert response.content_type.startswith("text/html"), response.content_type
    html = response.get_data(as_text=True)
    page = Page(html)
    assert page.mains == 1 and html.count("<h1") == 1, html
    for words in WERKZEUG_WORDS:
        assert words not in html, words
    return page


def assert_page(response, status, language, title=None):
    """``response`` is the error page of ``status`` in ``language``."""
    assert response.status_code == status
    page = read(response)
    title = title or TITLES[status][language]
    assert page.lang == language
    assert page.title == f"{title} · Torn"
    assert " ".join(page.h1.split()) == title
    assert ADVICE[status][language] in page.text
    assert (START_PAGE[language], "/") in page.links
    assert response.headers["Cache-Control"] == "no-store"  # in the reader's language only
    return page


# Refusals no page of the app gives today, raised the way a view would.
faults = Blueprint("faults", __name__)


@faults.get("/test-faults/unauthorized")
def unauthorized():
    raise errors.Unauthorized()


@faults.get("/test-faults/forbidden")
def forbidden():
    raise errors.Forbidden()


@faults.get("/test-faults/forbidden-desk")
def forbidden_desk():
    from flask_babel import lazy_gettext as _l

    raise errors.Forbidden(_l("You may not act at this desk."))


@faults.get("/test-faults/crash")
def crash():
    raise RuntimeError("a bug, with a secret in its message: s3cr3t")


@faults.get("/api/v1/test-faults/crash")
def api_crash():
    raise RuntimeError("a bug under the API")


@pytest.fixture
def app(template, tmp_path):
    """The app on a fresh demo (as conftest's), with low rate limits and the fault routes."""
    path = str(tmp_path / "queue.db")
    restore_demo(template[0], path)
    made = create_app(
        {
            **APP_CONFIG,
            "DATABASE": path,
            "RATELIMIT_PUBLIC": f"{PUBLIC_LIMIT} per minute",
            "RATELIMIT_LOGIN": f"{LOGIN_LIMIT} per minute",
        }
    )
    made.register_blueprint(faults)
    return made


def speaking(language):
    return {"Accept-Language": f"{language},en;q=0.1"}


def login_form_token(client, language):
    return csrf_token(client.get("/login", headers=speaking(language)).get_data(as_text=True))


@pytest.fixture
def booked(api):
    """An appointment of a citizen, ahead."""
    body = {"office": "OMIC", "start": next_workday(hour=11).isoformat(), "name": "Zenobia"}
    made = api.as_("reception").post("/appointments", body)
    assert made.status_code == 201
    return made.get_json()


# Every status, in every staff language ---------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_form_without_its_token_gets_a_400_page_saying_to_reload(client, language):
    refused = client.post(
        "/login", data={"username": "recepcio", "password": "x"}, headers=speaking(language)
    )
    page = assert_page(refused, 400, language)
    assert {
        "ca": "El formulari havia caducat o no venia d'aquest lloc.",
        "es": "El formulario había caducado o no venía de este sitio.",
        "en": "The form had expired or did not come from this site.",
    }[language] in page.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_400_keeps_what_our_code_said(client, language):
    refused = client.get("/login?next=/desk%0aLocation:%20x", headers=speaking(language))
    page = assert_page(refused, 400, language)
    assert {
        "ca": "L'adreça on tornar no és vàlida.",
        "es": "La dirección a la que volver no es válida.",
        "en": "The address to go back to is not valid.",
    }[language] in page.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_401_page_offers_the_login(client, language):
    page = assert_page(
        client.get("/test-faults/unauthorized", headers=speaking(language)), 401, language
    )
    assert (
        {"ca": "Entra", "es": "Entrar", "en": "Log in"}[language],
        "/login?next=/test-faults/unauthorized",
    ) in page.links
    # The refusal's default words add nothing to the title: only the page's own are shown.
    assert "Log in or send a valid API token" not in page.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_403_page_keeps_the_refusals_own_message(client, language):
    assert_page(client.get("/test-faults/forbidden", headers=speaking(language)), 403, language)
    page = assert_page(
        client.get("/test-faults/forbidden-desk", headers=speaking(language)), 403, language
    )
    assert {
        "ca": "No podeu actuar en aquest taulell.",
        "es": "No puede actuar en este mostrador.",
        "en": "You may not act at this desk.",
    }[language] in page.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_unknown_address_gets_a_404_page(client, language):
    page = assert_page(client.get("/no/such/page", headers=speaking(language)), 404, language)
    assert page.links == [(START_PAGE[language], "/")]
    assert {"ca": "Error 404", "es": "Error 404", "en": "Error 404"}[language] in page.text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("path", "said"),
    [
        (
            "/t/not-a-token",
            {
                "ca": "No hi ha cap torn amb aquest codi.",
                "es": "No hay ningún turno con ese código.",
                "en": "There is no ticket with that token.",
            },
        ),
        (
            "/a/not-a-token",
            {
                "ca": "No hi ha cap cita amb aquest enllaç.",
                "es": "No hay ninguna cita con ese enlace.",
                "en": "There is no appointment with that token.",
            },
        ),
    ],
)
def test_a_bad_citizen_address_gets_the_404_page_with_a_citizens_advice(
    client, language, path, said
):
    response = client.get(path, headers=speaking(language))
    assert response.status_code == 404
    page = read(response)
    assert page.lang == language and page.title == f"{TITLES[404][language]} · Torn"
    assert said[language] in page.text
    assert {
        "ca": "torneu a escanejar-ne el codi QR. Si continua sense funcionar, pregunteu a "
        "recepció.",
        "es": "vuelva a escanear su código QR. Si sigue sin funcionar, pregunte en recepción.",
        "en": "scan its QR code again. If it still does not work, ask at reception.",
    }[language] in page.text
    # The address may be a ticket's mistyped secret: kept out of caches, referrers, indexes.
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Robots-Tag"] == "noindex"
    assert '<link rel="stylesheet" href="/static/errors.css">' in response.get_data(as_text=True)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_wrong_method_gets_a_405_page_that_says_what_is_allowed(client, language):
    refused = client.delete("/login", headers=speaking(language))
    assert_page(refused, 405, language)
    assert set(refused.headers["Allow"].split(", ")) >= {"GET", "POST"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_refusal_of_the_queue_rules_gets_a_409_page_back_to_the_citizens_page(
    client, booked, language
):
    token = booked["token"]
    form = client.get(f"/a/{token}", headers=speaking(language)).get_data(as_text=True)
    data = {"csrf_token": csrf_token(form)}
    assert client.post(f"/a/{token}/cancel", data=data).status_code == 303
    again = client.post(f"/a/{token}/cancel", data=data, headers=speaking(language))
    page = assert_page(again, 409, language)
    assert {
        "ca": "Una cita en estat cancelled no es pot cancel·lar.",
        "es": "Una cita en estado cancelled no se puede cancelar.",
        "en": "A cancelled appointment cannot be cancelled.",
    }[language] in page.text
    # No referrer from a citizen's page (its policy): the way back is the page of the form.
    assert (GO_BACK[language], f"/a/{token}") in page.links
    assert again.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_body_too_large_gets_a_413_page(client, language):
    refused = client.post(
        "/login", data={"username": "x" * 70_000, "password": "x"}, headers=speaking(language)
    )
    assert_page(refused, 413, language)


def wait_in(page, language):
    """The seconds a 429 page says to wait (60 for "a minute")."""
    said = {
        "ca": r"Torneu-ho a provar d'aquí a (?:(\d+) segons?|(un) minut)\.",
        "es": r"Vuelva a intentarlo dentro de (?:(\d+) segundos?|(un) minuto)\.",
        "en": r"Try again in (?:(\d+) seconds?|(a) minute)\.",
    }[language]
    found = re.search(said, page.text)
    assert found, page.text
    return int(found[1]) if found[1] else 60


@pytest.mark.parametrize("language", LANGUAGES)
def test_too_many_requests_to_a_citizens_page_get_a_429_page_saying_when(client, language):
    for _ in range(PUBLIC_LIMIT):
        assert client.get("/t/not-a-token").status_code == 404
    refused = client.get("/t/not-a-token", headers=speaking(language))
    page = assert_page(refused, 429, language)
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 61
    assert abs(wait_in(page, language) - retry_after) <= 1
    assert (TRY_AGAIN[language], "/t/not-a-token") in page.links
    assert refused.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("language", LANGUAGES)
def test_too_many_logins_get_a_429_page_about_logging_in(client, language):
    token = login_form_token(client, language)
    attempt = {"csrf_token": token, "username": "admin", "password": "guess"}
    for _ in range(LOGIN_LIMIT):
        assert client.post("/login", data=attempt).status_code == 200
    refused = client.post("/login", data=attempt, headers=speaking(language))
    assert refused.status_code == 429
    page = read(refused)
    assert page.lang == language and page.h1 == TITLES[429][language]
    assert {
        "ca": "Hi ha hagut massa intents d'iniciar la sessió des de la vostra connexió",
        "es": "Ha habido demasiados intentos de iniciar sesión desde su conexión",
        "en": "There were too many attempts at logging in from your connection",
    }[language] in page.text
    assert abs(wait_in(page, language) - int(refused.headers["Retry-After"])) <= 1
    assert (TRY_AGAIN[language], "/login") in page.links  # the form again, by GET
    assert client.get("/login").status_code == 200  # reading the form is not limited


def test_a_longer_window_is_said_in_minutes(template, tmp_path):
    path = str(tmp_path / "queue.db")
    restore_demo(template[0], path)
    app = create_app({**APP_CONFIG, "DATABASE": path, "RATELIMIT_PUBLIC": "1 per 5 minutes"})
    client = app.test_client()
    client.get("/t/not-a-token")
    refused = client.get("/t/not-a-token", headers=speaking("ca"))
    assert refused.status_code == 429
    assert "Torneu-ho a provar d'aquí a 5 minuts." in read(refused).text
    assert 240 < int(refused.headers["Retry-After"]) <= 301


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_server_fault_gets_a_500_page_and_no_trace(app, client, language, caplog):
    response = client.get("/test-faults/crash", headers=speaking(language))
    page = assert_page(response, 500, language)
    assert "s3cr3t" not in response.get_data(as_text=True)
    assert (TRY_AGAIN[language], "/test-faults/crash") in page.links
    assert "s3cr3t" in caplog.text  # the log has it all


@pytest.mark.parametrize("language", LANGUAGES)
def test_when_the_500_page_itself_fails_a_bare_one_still_speaks_the_language(
    client, monkeypatch, language
):
    def broken(*args, **kwargs):
        raise RuntimeError("the template is broken too")

    monkeypatch.setattr(api_module, "render_template", broken)
    response = client.get("/test-faults/crash", headers=speaking(language))
    assert response.status_code == 500
    page = read(response)
    assert page.lang == language and page.h1 == TITLES[500][language]
    assert ADVICE[500][language] in page.text and (START_PAGE[language], "/") in page.links
    assert response.headers["Cache-Control"] == "no-store"


# Ways back ---------------------------------------------------------------------------------


def test_the_page_offers_the_way_back_to_where_the_reader_came_from(client):
    came = client.get("/no/such/page", headers={"Referer": "http://localhost/reception?x=1"})
    assert (GO_BACK["ca"], "/reception?x=1") in read(came).links
    # Another site, or a path a browser would read as another site: no way "back" there.
    for elsewhere in ("https://evil.example/reception", "http://localhost//evil.example/x"):
        links = read(client.get("/no/such/page", headers={"Referer": elsewhere})).links
        assert links == [(START_PAGE["ca"], "/")], elsewhere


def test_the_language_is_the_sessions_choice_first(client):
    client.get("/language/es")
    page = assert_page(client.get("/no/such/page", headers=speaking("en")), 404, "es")
    assert page.lang == "es"


# The API keeps its JSON ------------------------------------------------------------------


def test_the_api_keeps_answering_json_as_before(app, client, api, tokens):
    spanish = speaking("es")
    assert client.get("/api/v1/no/such", headers=spanish).get_json() == {
        "error": {
            "code": "not_found",
            "message": "The requested URL was not found on the server. If you entered the URL "
            "manually please check your spelling and try again.",
        }
    }
    unknown = client.get("/api/v1/tickets/not-a-token", headers=spanish)
    assert (unknown.status_code, unknown.get_json()) == (
        404,
        {"error": {"code": "not_found", "message": "No hay ningún turno con ese código."}},
    )
    wrong = client.delete("/api/v1/occupancy", headers=spanish)
    assert wrong.status_code == 405 and wrong.get_json() == {
        "error": {
            "code": "method_not_allowed",
            "message": "The method is not allowed for the requested URL.",
        }
    }
    assert "PUT" in wrong.headers["Allow"]
    anonymous = client.get("/api/v1/offices", headers=spanish)
    assert (anonymous.status_code, anonymous.get_json()["error"]["code"]) == (401, "unauthorized")
    crashed = client.get("/api/v1/test-faults/crash", headers=spanish)
    assert (crashed.status_code, crashed.get_json()) == (
        500,
        {"error": {"code": "internal_error", "message": "The server failed; nothing was changed."}},
    )
    big = api.as_("reception").post("/tickets", data="x" * 70_000, content_type="application/json")
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "too_large"


def test_the_apis_429_stays_json_with_its_retry_after(client, api):
    ticket = api.as_("reception").post("/tickets", {"office": "OAC"}).get_json()
    for _ in range(PUBLIC_LIMIT):
        assert client.get(f"/api/v1/tickets/{ticket['token']}").status_code == 200
    refused = client.get(f"/api/v1/tickets/{ticket['token']}", headers=speaking("es"))
    assert refused.status_code == 429
    assert refused.get_json() == {
        "error": {"code": "too_many_requests", "message": f"{PUBLIC_LIMIT} per 1 minute"}
    }
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
