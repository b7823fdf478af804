"""Which language a page speaks: ``?lang=``, then the brand's setting, then the browser's
``Accept-Language``, then English; ``<html lang>`` says it from the first byte, and
``/i18n/<lang>.json`` serves the language's catalog, its files merged."""

import orjson
import pytest

from live.platform import languages
from tests.support.servers import LiveServer
from tests.support.sessions import open_session


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR,zh-CN;q=0.5,en;q=0.4", "zh-CN"),
        ("fr-FR,en;q=0.5,zh-CN;q=0.4", "en"),
        ("zh-TW,zh-HK;q=0.9", None),
        ("zh-CN;q=0", None),
        ("", None),
    ],
)
def test_accept_language_picks_the_preferred_supported_language(
    header: str, expected: str | None
) -> None:
    """The highest-weighted tag the pages speak wins; Traditional Chinese is not zh-CN."""
    assert languages.from_accept_language(header) == expected


def test_the_order_is_asked_then_brand_then_browser_then_english() -> None:
    """Each source only counts when the ones before it say nothing the pages speak."""
    browser = "zh-CN,zh;q=0.9"
    assert languages.choose(asked="en", brand="zh-CN", accept_language=browser) == "en"
    assert languages.choose(asked="xx", brand="en", accept_language=browser) == "en"
    assert languages.choose(asked=None, brand=None, accept_language=browser) == "zh-CN"
    assert languages.choose(asked=None, brand=None, accept_language="de") == "en"


def _html_lang(page: str) -> str:
    return page.split('<html lang="', 1)[1].split('"', 1)[0]


async def test_html_lang_follows_query_header_brand_and_fallback(server: LiveServer) -> None:
    """The watch page's ``<html lang>``: ?lang= over the brand over Accept-Language over en."""
    opened = await open_session(server)
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    admin = server.token("admin", "ada")
    async with server.client() as browser, server.client(admin) as brand:
        page = f"/watch/{opened.session_id}"
        assert _html_lang((await browser.get(page)).text) == "en"
        assert _html_lang((await browser.get(page, headers=zh)).text) == "zh-CN"
        assert _html_lang((await browser.get(page + "?lang=zh-CN")).text) == "zh-CN"
        assert _html_lang((await browser.get(page + "?lang=en", headers=zh)).text) == "en"
        answer = await browser.get(page, headers=zh)
        assert answer.headers["vary"] == "Accept-Language"

        set_zh = await brand.put("/api/brands/me/policy", json={"language": "zh-CN"})
        assert set_zh.json()["language"] == "zh-CN", set_zh.text
        # The brand's setting (this node reads it afresh at once) beats the browser's.
        assert _html_lang((await browser.get(page)).text) == "zh-CN"
        assert _html_lang((await browser.get(page, headers={"Accept-Language": "en"})).text) == (
            "zh-CN"
        )
        assert _html_lang((await browser.get(page + "?lang=en")).text) == "en"
        # The host panel has no brand in its URL but its ?token=.
        host = server.token("host", "hana")
        assert _html_lang((await browser.get(f"/host?token={host}")).text) == "zh-CN"
        assert _html_lang((await browser.get("/host")).text) == "en"

        # Other policy fields leave the language as it is; null clears it.
        kept = await brand.put("/api/brands/me/policy", json={"banned_words": ["spam"]})
        assert kept.json()["language"] == "zh-CN"
        cleared = await brand.put("/api/brands/me/policy", json={"language": None})
        assert cleared.json()["language"] is None
        assert _html_lang((await browser.get(page)).text) == "en"


async def test_a_language_the_pages_do_not_speak_is_refused(server: LiveServer) -> None:
    """The brand setting takes ``en`` or ``zh-CN`` only; the catalog route 404s others."""
    admin = server.token("admin", "ada")
    async with server.client(admin) as brand:
        refused = await brand.put("/api/brands/me/policy", json={"language": "fr"})
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "invalid_request"
        missing = await brand.get("/i18n/fr.json")
        assert missing.status_code == 404


async def test_the_catalog_is_served_merged_and_cacheable(server: LiveServer) -> None:
    """``/i18n/zh-CN.json`` holds every area's keys; its ETag answers 304 when unchanged."""
    async with server.client() as browser:
        answer = await browser.get("/i18n/zh-CN.json")
        assert answer.status_code == 200
        catalog = orjson.loads(answer.content)
        assert catalog["errors.sold_out"] == "已抢光"
        assert catalog["viewer.explaining_now"] == "讲解中"
        assert {key.split(".")[0] for key in catalog} >= {"common", "errors", "shop", "viewer"}
        assert "max-age" in answer.headers["cache-control"]
        again = await browser.get(
            "/i18n/zh-CN.json", headers={"If-None-Match": answer.headers["etag"]}
        )
        assert again.status_code == 304


async def test_the_unavailable_link_page_speaks_the_browsers_language(
    server: LiveServer,
) -> None:
    """``/s/{code}`` of a withdrawn link answers its page in the browser's language."""
    opened = await open_session(server)
    async with server.client(server.token("guide", "wei")) as wei:
        shared = await wei.get(f"/api/guides/me/share?session_id={opened.session_id}")
        code = shared.json()["short_code"]
        assert (await wei.delete(f"/api/guides/me/share/{code}")).status_code == 200
    async with server.client() as browser:
        chinese = await browser.get(f"/s/{code}", headers={"Accept-Language": "zh-CN"})
        english = await browser.get(f"/s/{code}", headers={"Accept-Language": "en-GB"})
        unknown = await browser.get("/s/AAAAAAAAAAAAAAAA", headers={"Accept-Language": "zh"})
    assert chinese.status_code == 410
    assert _html_lang(chinese.text) == "zh-CN"
    assert "链接已失效" in chinese.text
    assert "withdrawn" in english.text
    assert _html_lang(english.text) == "en"
    assert unknown.status_code == 404
    assert "该链接不存在" in unknown.text
