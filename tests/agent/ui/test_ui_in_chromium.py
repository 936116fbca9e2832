"""The teacher's and the students' path through the UI, in real headless Chromium.

Chromium is Debian's (installed by scripts/setup-test-env.sh), driven by Playwright with
`executable_path`, so no browser download is involved. The page talks only to the loopback
server the test started.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.agent.ui.conftest import RunningUi, run_ui
from tests.agent.ui.fake_controller import PIN, STAFF_ID, FakeController
from tests.chromium import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        # Playwright gives a non-persistent launch a fresh temporary profile of its own.
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, pin: str, *, opener: str = "Teacher") -> None:
    page.get_by_role("button", name=opener, exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Staff ID").fill(STAFF_ID)
    dialog.get_by_label("PIN").fill(pin)
    dialog.get_by_role("button", name="Continue").click()


def test_teacher_opens_a_lesson_students_see_it_teacher_ends_it(
    page: Page, ui: RunningUi, fake: FakeController, tmp_path: Path
) -> None:
    page.goto(ui.address.panel_url)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "The Internet opens when your teacher starts a lesson"
    )
    expect(page.locator("#closed-room")).to_have_text("Lab 3A")

    sign_in(page, "1111")
    expect(page.get_by_role("alert").filter(has_text="not right")).to_be_visible()
    expect(page.get_by_label("PIN")).to_have_value("")
    assert not fake.open_ids

    page.get_by_label("PIN").fill(PIN)
    page.get_by_role("button", name="Continue").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Pick today's lesson")
    expect(dialog.get_by_role("group", name="Science")).to_be_visible()
    expect(page.get_by_label("Minutes", exact=True)).to_have_value("40")
    expect(dialog.get_by_text("40 minutes usually, 60 at most")).to_be_visible()

    dialog.get_by_role("searchbox", name="Search").fill("solar")
    expect(dialog.get_by_label("Weather and seasons")).to_be_hidden()
    expect(dialog.get_by_role("group", name="Mathematics")).to_be_hidden()
    dialog.get_by_label("The solar system").check()
    dialog.get_by_role("searchbox", name="Search").fill("zzz")
    expect(dialog.get_by_text("Nothing matches.")).to_be_hidden()  # the ticked one stays
    dialog.get_by_role("searchbox", name="Search").fill("")
    dialog.get_by_role("button", name="Start").click()

    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="Session active")).to_be_visible()
    expect(page.locator("#objective-titles")).to_have_text("The solar system")
    expect(page.locator("#time-left")).to_have_text("40 min")
    card = page.get_by_role("link", name=re.compile(r"^NASA Space Place, spaceplace\.nasa\.gov"))
    expect(card).to_be_visible()
    expect(card).to_have_attribute("href", "https://spaceplace.nasa.gov/")
    expect(card).to_have_attribute("target", "_blank")
    expect(page.get_by_role("link", name=re.compile("^Planets for kids"))).to_be_visible()
    page.screenshot(path=str(tmp_path / "session.png"))
    assert fake.open_ids == ["sci-3-space"]

    sign_in(page, PIN)
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Web address").fill("kids.example.org/moon")
    dialog.get_by_role("button", name="Add a link").click()
    expect(dialog.get_by_text("Link added.")).to_be_visible()
    expect(page.locator("#resource-cards .card")).to_have_count(3)
    dialog.get_by_role("button", name="End lesson").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "The Internet opens when your teacher starts a lesson"
    )
    expect(page.locator("#session-screen")).to_be_hidden()
    assert fake.open_ids == []


def test_pin_form_works_from_the_keyboard_alone(page: Page, ui: RunningUi) -> None:
    page.goto(ui.address.panel_url)
    teacher = page.get_by_role("button", name="Teacher", exact=True)
    expect(teacher).to_be_visible()
    for _ in range(5):
        page.keyboard.press("Tab")
        if teacher.evaluate("el => el === document.activeElement"):
            break
    expect(teacher).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Staff ID")).to_be_focused()
    page.keyboard.type(STAFF_ID)
    page.keyboard.press("Tab")
    expect(page.get_by_label("PIN")).to_be_focused()
    page.keyboard.type("0000")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert").filter(has_text="not right")).to_be_visible()
    expect(page.get_by_label("PIN")).to_be_focused()
    page.keyboard.type(PIN)
    page.keyboard.press("Enter")
    expect(page.get_by_role("searchbox", name="Search")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(teacher).to_be_focused()
    # Closing the dialog forgets the teacher: opening it again asks for the PIN.
    page.keyboard.press("Enter")
    expect(page.get_by_label("Staff ID")).to_be_focused()
    expect(page.get_by_label("PIN")).to_have_value("")


def test_spanish_strings(page: Page, ui: RunningUi) -> None:
    page.goto(ui.address.panel_url + "&lang=es")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Internet se abre cuando tu maestro empieza una lección"
    )
    page.get_by_role("button", name="Maestro", exact=True).click()
    page.get_by_label("Número de personal").fill(STAFF_ID)
    page.get_by_label("PIN").fill("9")
    page.get_by_role("button", name="Continuar").click()
    expect(page.get_by_role("alert").filter(has_text="no es correcto")).to_be_visible()
    page.get_by_role("button", name="Cancelar").first.click()
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("button", name="Teacher", exact=True)).to_be_visible()


def test_blocked_page_in_the_browser(page: Page, ui: RunningUi) -> None:
    page.goto(f"{ui.address.url}/blocked?host=games.example.com")
    expect(page.get_by_role("heading", level=1)).to_have_text("This page is closed")
    expect(page.locator("#blocked-host")).to_have_text("games.example.com")
    expect(page.get_by_text("It is not part of today's lesson.")).to_be_visible()
    expect(page.get_by_text("Ask your teacher.")).to_be_visible()


# ---- the same path against the real agent service and the district's default policy ------

TEACHER, TEACHER_PIN = "t-ada", "482916"


@pytest.fixture
def real_ui(tmp_path: Path) -> Iterator[RunningUi]:
    import policies
    from agent.config import AgentConfig
    from agent.service import AgentService
    from agent.teacher_auth import hash_pin

    teachers = tmp_path / "teachers.toml"
    teachers.write_text(f'[teachers]\n"{TEACHER}" = "{hash_pin(TEACHER_PIN)}"\n')
    config = AgentConfig(
        state_dir=tmp_path / "state",
        policy_dir=policies.DEFAULT_POLICY_DIR,
        device_id="demo-device",
        verifier_file=teachers,
    )
    service = AgentService(config)  # no enforcers: this test is about what people see
    service.startup()
    yield from run_ui(service, config.state_dir)
    service.shutdown()


def test_flow_against_the_real_service_and_default_policy(page: Page, real_ui: RunningUi) -> None:
    page.goto(real_ui.address.panel_url)
    expect(page.locator("#closed-room")).to_have_text("Room 3A Computer Lab")
    page.get_by_role("button", name="Teacher", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Staff ID").fill(TEACHER)
    dialog.get_by_label("PIN").fill("000000")
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog.get_by_role("alert").filter(has_text="not right")).to_be_visible()
    dialog.get_by_label("PIN").fill(TEACHER_PIN)
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog.get_by_role("group", name="Mathematics")).to_be_visible()
    expect(page.get_by_label("Minutes", exact=True)).to_have_value("40")
    dialog.get_by_role("searchbox", name="Search").fill("seasonal sky")
    dialog.get_by_label("Show patterns of shadows, day and night, and the seasonal sky").check()
    page.get_by_label("Minutes", exact=True).fill("90")
    dialog.get_by_role("button", name="Start").click()
    expect(dialog.get_by_text("60 minutes at most")).to_be_visible()
    page.get_by_label("Minutes", exact=True).fill("30")
    dialog.get_by_role("button", name="Start").click()

    expect(page.get_by_role("status").filter(has_text="Session active")).to_be_visible()
    expect(page.locator("#time-left")).to_have_text(re.compile(r"^(30|29) min$"))
    card = page.get_by_role("link", name=re.compile(r"^NASA Space Place: Our Solar System"))
    expect(card).to_have_attribute("href", "https://spaceplace.nasa.gov/menu/solar-system/")
    expect(card.locator(".card-site")).to_have_text("spaceplace.nasa.gov")

    page.get_by_role("button", name="Teacher", exact=True).click()
    dialog.get_by_label("Staff ID").fill(TEACHER)
    dialog.get_by_label("PIN").fill(TEACHER_PIN)
    dialog.get_by_role("button", name="Continue").click()
    dialog.get_by_role("button", name="End lesson").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "The Internet opens when your teacher starts a lesson"
    )
