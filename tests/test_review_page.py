"""The review page in a real browser: headless Chromium (Debian's package) driven by Playwright."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from servers import running_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("MODERATE_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))
AMBIGUOUS = ["hmm", "ok then", "Well, maybe.", "What about it?", "So what.", "Interesting, I guess.",
             "Typical. And what about the camps your own country ran?", "Sure.",
             "And what about Guantanamo? Nobody writes about that.", "Meanwhile your own government jails reporters."]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: install Debian's chromium package "
                                                         "(the README's test command does, via .ci/system-deps)")


@pytest.fixture
def server(tmp_path: Path, trained_dir: Path):
    with running_server(trained_dir, tmp_path / "data", MODERATE_API_KEYS="key") as (base, _):
        yield base


def test_moderator_reviews_the_queue_with_keyboard_and_buttons(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    api = httpx.Client(base_url=server, headers={"X-API-Key": "key"}, timeout=30)
    comments = [{"id": f"q{n}", "text": text, "article_id": "003_2d5113ef618b1c85"} for n, text in enumerate(AMBIGUOUS)]
    assert api.post("/v1/moderate", json={"comments": comments, "queue": True}).json()["queued"] >= 3
    queue = api.get("/v1/queue").json()["items"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(f"{server}/review")
        page.fill("#key", "key")
        page.click("button[type=submit]")
        expect(page.locator("#text")).to_have_text(queue[0]["text"])
        expect(page.locator("#remaining")).to_have_text(f"{len(queue)} in queue")
        expect(page.locator("#article-title")).to_contain_text("North Korea")
        highlighted = [f["feature"] for f in queue[0]["explanation"] if not f["feature"].startswith("[")
                       and f["feature"].lower() in queue[0]["text"].lower()]
        if highlighted:
            expect(page.locator("#text mark").first).to_be_visible()
        page.fill("#moderator", "ana")
        page.locator("#moderator").blur()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review-page.png"), full_page=True)
        page.keyboard.press("d")
        page.keyboard.press("3")
        expect(page.locator("#text")).to_have_text(queue[1]["text"])
        page.click("button.stance[data-stance='supports']")
        page.click("button.category[data-category='substantive']")
        expect(page.locator("#remaining")).to_have_text(f"{len(queue) - 2} in queue")
        page.keyboard.press("j")
        expect(page.locator("#remaining")).to_have_text(f"{len(queue) - 2} in queue, 1 skipped")
        browser.close()
    first, second = (api.get(f"/v1/feedback/{item['comment_id']}").json() for item in queue[:2])
    assert (first["category"], first["stance"], first["moderator"]) == ("abusive", "disputes", "ana")
    assert (second["category"], second["stance"]) == ("substantive", "supports")
    remaining = {i["comment_id"] for i in api.get("/v1/queue").json()["items"]}
    assert queue[0]["comment_id"] not in remaining and queue[1]["comment_id"] not in remaining
    assert (ARTIFACTS / "review-page.png").stat().st_size > 10_000


def signed_in_page(playwright, server: str):
    """A headless page signed in to the review page as moderator "ana"."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(f"{server}/review")
    page.fill("#key", "key")
    page.click("button[type=submit]")
    page.fill("#moderator", "ana")
    page.locator("#moderator").blur()
    return browser, page


def queued_deflections(server: str, prefix: str, n: int) -> tuple[httpx.Client, list[dict]]:
    """An API client, and the queue after ``n`` deflections (ids ``prefix``0, 1 …) were moderated into it."""
    api = httpx.Client(base_url=server, headers={"X-API-Key": "key"}, timeout=30)
    comments = [{"id": f"{prefix}{i}", "text": f"And what about Guantanamo? Nobody writes about that, part {i}.",
                 "article_id": "003_2d5113ef618b1c85"} for i in range(n)]
    assert api.post("/v1/moderate", json={"comments": comments, "queue": True}).json()["queued"] == n
    return api, api.get("/v1/queue", params={"limit": 500}).json()["items"]


def test_a_key_pressed_twice_decides_one_comment_and_skips_none(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    api, queue = queued_deflections(server, "q", 3)
    with sync_playwright() as playwright:
        browser, page = signed_in_page(playwright, server)
        expect(page.locator("#text")).to_have_text(queue[0]["text"])
        # a double press, or a held key repeating, before the answer arrives
        page.evaluate("""() => { for (const _ of [1, 2]) {
            document.dispatchEvent(new KeyboardEvent("keydown", {key: "1", bubbles: true})); } }""")
        expect(page.locator("#remaining")).to_have_text("2 in queue")
        page.wait_for_timeout(500)
        expect(page.locator("#text")).to_have_text(queue[1]["text"])
        expect(page.locator("#remaining")).to_have_text("2 in queue")
        browser.close()
    assert api.get("/v1/queue").json()["total"] == 2


def test_errors_from_the_server_or_the_network_are_shown_to_the_moderator(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    api = httpx.Client(base_url=server, headers={"X-API-Key": "key"}, timeout=30)
    comments = [{"id": "q1", "text": "And what about Guantanamo? Nobody writes about that.",
                 "article_id": "003_2d5113ef618b1c85"}]
    assert api.post("/v1/moderate", json={"comments": comments, "queue": True}).json()["queued"] == 1
    busy = {"error": "the feedback database is busy: try again", "detail": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.context.add_cookies([{"name": "moderate_key", "value": "key", "url": server}])
        page.route("**/v1/queue*", lambda route: route.fulfill(status=503, json=busy))
        page.goto(f"{server}/review")
        expect(page.locator("#status")).to_be_visible()
        expect(page.locator("#status")).to_contain_text("the feedback database is busy")
        page.unroute("**/v1/queue*")
        page.reload()
        page.fill("#moderator", "ana")
        page.locator("#moderator").blur()
        page.route("**/v1/feedback", lambda route: route.abort())  # the server is gone
        page.keyboard.press("1")
        expect(page.locator("#status")).to_contain_text("Not saved")
        page.unroute("**/v1/feedback")
        page.keyboard.press("1")  # the moderator tries again
        expect(page.locator("#empty")).to_be_visible()
        browser.close()
    assert api.get("/v1/feedback/q1").json()["category"] == "substantive"


def queued(comment_id: str, text: str, features: list[str]) -> dict:
    """A queue item as GET /v1/queue gives it, with these explanation features."""
    return {"comment_id": comment_id, "text": text, "article_id": None, "article_title": None,
            "category": "whataboutism", "scores": {"substantive": 0.3, "whataboutism": 0.5, "abusive": 0.2},
            "stance": "disputes", "stance_scores": {"supports": 0.1, "disputes": 0.8, "neutral": 0.1},
            "reasons": ["whataboutism_above_review_threshold"],
            "explanation": [{"feature": feature, "weight": 1.0} for feature in features], "model_version": "x"}


def shown_queue(playwright, server: str, items: list[dict]):
    """A signed-in review page whose queue holds ``items`` (the server's queue is not read)."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.context.add_cookies([{"name": "moderate_key", "value": "key", "url": server}])
    page.route("**/v1/queue*", lambda route: route.fulfill(
        json={"items": items, "total": len(items), "offset": 0, "limit": 200}))
    page.goto(f"{server}/review")
    return browser, page


HIGHLIGHTS = [  # a comment, its explanation's words, the words marked in it
    ("Ці люди — тварини, їх треба знищити.", ["тварини", "треба"], ["тварини", "треба"]),
    ("ازدواجية المعايير، ماذا عن سجون أمريكا؟", ["أمريكا", "عن"], ["عن", "أمريكا"]),
    ("북한 인권 문제는 정말 심각하다.", ["북한 인권"], ["북한 인권"]),
    ("Übel ist das, café crème.", ["übel", "café"], ["Übel", "café"]),
    ("美国的监狱呢？白痴", ["白 痴", "国"], ["国", "白痴"]),  # Chinese: each character is a word
    ("Thank you, your moron friends", ["you", "moron"], ["you", "moron"]),  # never "you" in "your"
]


def test_explanation_words_are_highlighted_in_any_script(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    items = [queued(f"c{n}", text, features) for n, (text, features, _) in enumerate(HIGHLIGHTS)]
    with sync_playwright() as playwright:
        browser, page = shown_queue(playwright, server, items)
        for text, _, marked in HIGHLIGHTS:
            expect(page.locator("#text")).to_have_text(text)
            expect(page.locator("#text mark")).to_have_text(marked)
            page.keyboard.press("j")
        browser.close()


def test_right_to_left_comments_and_titles_read_right_to_left(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    arabic = {**queued("c1", "ازدواجية المعايير، ماذا عن سجون أمريكا؟", []), "article_title": "سجون كوريا الشمالية"}
    with sync_playwright() as playwright:
        browser, page = shown_queue(playwright, server, [arabic, queued("c2", "And what about Guantanamo?", [])])
        expect(page.locator("#text")).to_have_text(arabic["text"])
        assert page.locator("#text").evaluate("e => e.matches(':dir(rtl)')")
        assert page.locator("#article-title").evaluate("e => e.matches(':dir(rtl)')")
        page.keyboard.press("j")
        expect(page.locator("#text")).to_have_text("And what about Guantanamo?")
        assert page.locator("#text").evaluate("e => e.matches(':dir(ltr)')")
        browser.close()


def test_a_long_comment_without_spaces_stays_within_the_page(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    text = "See https://example.com/" + "a" * 5000 + " and " + "x" * 20_000
    with sync_playwright() as playwright:
        browser, page = shown_queue(playwright, server, [{**queued("c1", text, ["see"]), "article_title": "t" * 300}])
        expect(page.locator("#text")).to_have_text(text)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1100
        expect(page.locator("button.category[data-category='abusive']")).to_be_in_viewport()
        browser.close()


def test_the_end_of_the_queue_says_that_skipped_comments_still_wait(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    items = [queued("c1", "And what about Guantanamo?", []), queued("c2", "What about the camps?", [])]
    with sync_playwright() as playwright:
        browser, page = shown_queue(playwright, server, items)
        expect(page.locator("#text")).to_have_text(items[0]["text"])
        page.keyboard.press("j")
        page.keyboard.press("j")
        expect(page.locator("#empty")).to_be_visible()
        expect(page.locator("#empty")).to_contain_text("the 2 you skipped still wait in the queue")
        expect(page.locator("#remaining")).to_have_text("2 in queue, 2 skipped")
        browser.close()


def test_sign_in_says_why_it_failed(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{server}/review")
        page.fill("#key", "wrong")
        page.click("button[type=submit]")
        expect(page.locator("#login-error")).to_have_text("That key was not accepted.")
        page.route("**/review/login", lambda route: route.fulfill(
            status=503, json={"error": "the feedback database is busy: try again", "detail": []}))
        page.click("button[type=submit]")
        expect(page.locator("#login-error")).to_have_text("Could not sign in: the feedback database is busy: try again")
        page.unroute("**/review/login")
        page.route("**/review/login", lambda route: route.abort())  # the server is gone
        page.click("button[type=submit]")
        expect(page.locator("#login-error")).to_contain_text("The server did not answer")
        browser.close()


def test_a_comment_another_moderator_decided_meanwhile_keeps_their_decision(server: str) -> None:
    """Both pages showed the comment; the second decision used to replace the first without a word."""
    from playwright.sync_api import expect, sync_playwright

    api, queue = queued_deflections(server, "t", 2)
    with sync_playwright() as playwright:
        browser, page = signed_in_page(playwright, server)
        expect(page.locator("#text")).to_have_text(queue[0]["text"])
        ben = {"comment_id": queue[0]["comment_id"], "text": queue[0]["text"], "category": "whataboutism",
               "moderator": "ben", "expected_revision": 0}
        assert api.post("/v1/feedback", json=ben).status_code == 201
        page.keyboard.press("1")  # ana: substantive
        expect(page.locator("#status")).to_contain_text("already decided")
        expect(page.locator("#status")).to_contain_text("by ben")
        expect(page.locator("#text")).to_have_text(queue[1]["text"])
        browser.close()
    assert api.get(f"/v1/feedback/{queue[0]['comment_id']}").json()["moderator"] == "ben"


def test_the_next_page_passes_over_no_comment_when_a_skipped_one_was_decided_elsewhere(server: str) -> None:
    """The next 200 were asked for from an offset of the number skipped: once another moderator
    decided one of the skipped comments, the first comment of the next page was passed over."""
    from playwright.sync_api import expect, sync_playwright

    api, queue = queued_deflections(server, "p", 203)
    with sync_playwright() as playwright:
        browser, page = signed_in_page(playwright, server)
        expect(page.locator("#text")).to_have_text(queue[0]["text"])
        ben = {"comment_id": queue[0]["comment_id"], "text": queue[0]["text"], "category": "whataboutism",
               "moderator": "ben"}
        assert api.post("/v1/feedback", json=ben).status_code == 201
        for _ in range(200):
            page.keyboard.press("j")
        expect(page.locator("#text")).to_have_text(queue[200]["text"])
        expect(page.locator("#remaining")).to_have_text("202 in queue, 200 skipped")
        browser.close()
