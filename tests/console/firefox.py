"""Debian's Firefox ESR driven over Marionette, Firefox's own remote protocol (there is no
geckodriver package, and Playwright's Firefox is a build of its own that cannot be fetched
here): a fresh profile that names a free port, headless."""

import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from marionette_driver import By, Wait
from marionette_driver.errors import NoSuchElementException, StaleElementException
from marionette_driver.marionette import Marionette

from tests.console.browser import PASSWORD
from tests.console.pictures import keep_screenshot

FIREFOX = "/usr/bin/firefox-esr"
START_SECONDS = 180  # a loaded machine takes tens of seconds to start it
PREFS = {
    "browser.shell.checkDefaultBrowser": "false",
    "datareporting.policy.dataSubmissionEnabled": "false",
    "app.update.disabledForTesting": "true",
    "browser.aboutwelcome.enabled": "false",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def firefox() -> Iterator["Firefox"]:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="od-firefox-") as profile:
        prefs = {**PREFS, "marionette.port": str(port)}
        lines = [f'user_pref("{name}", {value});' for name, value in prefs.items()]
        Path(profile, "user.js").write_text("\n".join(lines) + "\n")
        command = [FIREFOX, "--headless", "--marionette", "--no-remote", "--profile", profile]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client = Marionette(host="127.0.0.1", port=port, startup_timeout=START_SECONDS)
            client.start_session(timeout=START_SECONDS)
            client.set_window_rect(width=1366, height=900)
            yield Firefox(client)
            client.delete_session()
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Firefox:
    """The few page actions the console tests need, named as Playwright's page names them."""

    def __init__(self, client: Marionette) -> None:
        self.client = client

    def goto(self, url: str) -> None:
        self.client.navigate(url)

    def sign_in(self, base_url: str, username: str) -> None:
        """The console's login form, as ``tests.console.browser.sign_in`` fills it."""
        self.goto(f"{base_url}/console/login")
        self.fill("username", username)
        self.fill("password", PASSWORD)
        self.click("form button[type=submit]")

    def text(self, element_id: str) -> str:
        element = self.client.find_element(By.ID, element_id)
        content: str = element.get_property("textContent")
        return content

    def fill(self, element_id: str, value: str) -> None:
        element = self.client.find_element(By.ID, element_id)
        element.clear()
        element.send_keys(value)

    def click(self, css: str) -> None:
        self.client.find_element(By.CSS_SELECTOR, css).click()

    def select_option(self, element_id: str, label: str) -> None:
        """Picks the option that reads ``label``. The console rebuilds a select's options on
        every state it is pushed, so an option found may be gone before it is clicked: pick
        again until the select shows the choice."""

        def picked() -> bool:
            select = self.client.find_element(By.ID, element_id)
            for option in select.find_elements(By.TAG_NAME, "option"):
                if option.get_property("textContent") == label:
                    option.click()
            shown: str = self.client.execute_script(
                "const s = arguments[0]; return s.selectedOptions[0]?.text ?? '';",
                script_args=[select],
            )
            return shown == label

        stale = [NoSuchElementException, StaleElementException]
        Wait(self.client, timeout=20, ignored_exceptions=stale).until(lambda _: picked())

    def wait_for(self, what: Callable[[], Any], timeout: float = 20) -> Any:
        """Polls ``what`` until it is true (a missing element counts as not yet)."""
        return Wait(self.client, timeout=timeout).until(lambda _: what())

    def wait_for_text(self, element_id: str, expected: str, timeout: float = 20) -> None:
        self.wait_for(lambda: self.text(element_id) == expected, timeout)

    def screenshot(self, name: str) -> None:
        keep_screenshot(name, self.client.screenshot(format="binary", full=True))
