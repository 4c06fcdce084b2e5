"""Headless Chromium driven over the DevTools protocol through a pipe: no port, no websocket.

The decks are checked, screenshotted and printed to PDF in the browser a lecturer would use,
with the network blocked: a deck that reaches for the network fails loudly instead of hanging.
"""

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

from course_tools.slides import template

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    # No name resolves: a deck that reaches for the network fails loudly instead of hanging.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
)


def find_browser():
    """Path of an installed Chromium, or None."""
    return next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)


def _above(fd, lowest):
    """A copy of ``fd`` numbered ``lowest`` or more; the original is closed."""
    copied = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.close(fd)
    return copied


class Browser:
    """Headless Chromium driven over the DevTools protocol through a pipe: no port, no websocket.

    ``--remote-debugging-pipe`` makes Chromium read commands from fd 3 and write replies to
    fd 4, as JSON messages ended by a NUL byte.
    """

    def __init__(self, executable=None, timeout=60.0):
        self.executable = executable or find_browser()
        self.timeout = timeout
        self.events = []
        self._next_id = 0
        self._buffer = b""

    def __enter__(self):
        """Start Chromium with an empty profile."""
        if self.executable is None:
            raise RuntimeError("No Chromium found: install Debian's chromium (make slides does).")
        self._profile = tempfile.TemporaryDirectory(prefix="course-chromium-")
        to_browser, self._writer = os.pipe()
        self._reader, from_browser = os.pipe()
        # Move the child's ends above 9, so that putting them on fds 3 and 4 clobbers neither.
        to_browser, from_browser = (_above(fd, 10) for fd in (to_browser, from_browser))
        arguments = [*CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"]
        # bash moves the pipe ends onto fds 3 and 4, where Chromium expects them (dash cannot
        # redirect from fds above 9).
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}', self.executable]
            + arguments,
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        return self

    def __exit__(self, *exc_info):
        """Close Chromium and its profile."""
        # Already gone is fine: killing below is the fallback.
        with contextlib.suppress(RuntimeError, OSError):
            self.call("Browser.close", timeout=10)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._writer)
        os.close(self._reader)
        self._profile.cleanup()

    def call(self, method, session=None, timeout=None, **params):
        """Send one DevTools command and wait for its result; events are kept in ``events``."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._receive(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, event, session, timeout=None, where=lambda params: True):
        """Wait for an event of a session (one already received counts); return its params."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for message in self.events:
                if (
                    message.get("method") == event
                    and message.get("sessionId") == session
                    and where(message.get("params", {}))
                ):
                    return message.get("params", {})
            self.events.append(self._receive(deadline, event))

    def _receive(self, deadline, waiting_for):
        """The next message from Chromium."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._reader], [], [], left)[0]:
                raise RuntimeError(f"Chromium did not answer {waiting_for} in time.")
            chunk = os.read(self._reader, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe (did it crash?).")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def attach(self, target):
        """Attach to a target with logging on; return the session id."""
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session)
        return session

    def open_page(self, url):
        """Open ``url`` in a new tab; return the tab's session id."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.attach(target)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=template.WIDTH,
            height=template.HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired", session)
        return session

    def evaluate(self, session, expression):
        """The value of a JavaScript expression in a tab (promises are awaited)."""
        result = self.call(
            "Runtime.evaluate",
            session,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def press(self, session, key, key_code, code=None):
        """Press and release one key in a tab, as a user would (popups are allowed then)."""
        for kind in ("keyDown", "keyUp"):
            # A printable key sends its character with the key press, like a keyboard does.
            text = {"text": key} if kind == "keyDown" and len(key) == 1 else {}
            self.call(
                "Input.dispatchKeyEvent",
                session,
                type=kind,
                key=key,
                code=code or key,
                windowsVirtualKeyCode=key_code,
                nativeVirtualKeyCode=key_code,
                **text,
            )

    def problems(self, session):
        """Console errors, uncaught exceptions and network requests of a tab."""
        found = []
        for message in self.events:
            if message.get("sessionId") != session:
                continue
            method, params = message.get("method"), message.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                values = [str(arg.get("value", arg.get("description"))) for arg in params["args"]]
                found.append("console: " + " ".join(values))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(f"exception: {details.get('exception', {}).get('description')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file:", "data:", "blob:", "about:")):
                    found.append(f"network request: {url}")
        return found


def target_of(browser, session):
    """The target id of a session, from the attach event Chromium sent."""
    for message in browser.events:
        params = message.get("params", {})
        if message.get("method") == "Target.attachedToTarget" and params["sessionId"] == session:
            return params["targetInfo"]["targetId"]
    raise RuntimeError(f"no target for session {session}")
