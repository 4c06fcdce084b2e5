"""``make lab``: JupyterLab starts on the course, serves a notebook, and runs a kernel with it.

The server is started with the very command of ``make lab`` (from ``make -n lab``), plus what
makes it headless and private: no browser, a free localhost port, a token (``--allow-root`` as
root).
"""

import asyncio
import json
import os
import pathlib
import secrets
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from tornado import httpclient, websocket

from course_tools import notebooks

ROOT = notebooks.ROOT
FIXTURE = "tests/course_tools/slides_fixtures/slides_demo.ipynb"
START_TIMEOUT = 120  # seconds: a cold start on 2 busy cores


def lab_command():
    """The command that ``make lab`` runs, as ``make -n`` prints it (nothing is run)."""
    printed = subprocess.run(
        ["make", "-n", "--no-print-directory", "lab"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line for line in printed.splitlines() if "/jupyter lab" in line]
    assert len(lines) == 1, f"make lab should run jupyter lab once, it runs:\n{printed}"
    return shlex.split(lines[0])


def free_port():
    """A TCP port free on localhost right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Lab:
    """A JupyterLab server of the course, and requests to its REST API."""

    def __init__(self, tmp_path):
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            *lab_command(),
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")  # containers and CI machines run as root
        # Private runtime and config folders: the test neither reads nor leaves user settings.
        env = dict(
            os.environ,
            JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
            JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
            JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        )
        self.log = (tmp_path / "lab.log").open("w")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def request(self, method, path, body=None):
        """Send an authenticated request; return (status, parsed JSON or text)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        is_json = text.startswith(("{", "["))
        return status, json.loads(text) if is_json else text

    def wait_ready(self):
        """Wait until the server answers /api/status."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"jupyter lab exited: {self.read_log()}"
            try:
                if self.request("GET", "/api/status")[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError):
                pass  # not listening yet
            time.sleep(0.5)
        raise AssertionError(f"jupyter lab did not start in {START_TIMEOUT} s: {self.read_log()}")

    def read_log(self):
        """The server's log so far."""
        self.log.flush()
        return pathlib.Path(self.log.name).read_text(encoding="utf-8")[-3000:]

    def stop(self):
        """Shut the server down through its API; kill it if it lingers."""
        try:
            self.request("POST", "/api/shutdown")
            self.process.wait(timeout=30)
        except (urllib.error.URLError, ConnectionError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.log.close()


async def execute(lab, kernel_id, code):
    """Run ``code`` in a kernel over the server's websocket; return (status, stdout)."""
    url = f"ws://127.0.0.1:{lab.port}/api/kernels/{kernel_id}/channels"
    headers = {"Authorization": f"token {lab.token}"}
    connection = await websocket.websocket_connect(httpclient.HTTPRequest(url, headers=headers))
    message_id = uuid.uuid4().hex
    header = {"msg_id": message_id, "msg_type": "execute_request", "username": "test"}
    header.update(session=uuid.uuid4().hex, version="5.3", date="")
    content = {"code": code, "silent": False, "store_history": False, "allow_stdin": False}
    request = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
    connection.write_message(json.dumps({**request, "channel": "shell", "buffers": []}))
    stdout, status, idle = "", None, False
    # The reply (shell channel) may overtake the printed output (iopub): wait for both the
    # reply and the kernel's "idle", which comes after all of the request's output.
    while status is None or not idle:
        reply = json.loads(await connection.read_message())
        if reply.get("parent_header", {}).get("msg_id") != message_id:
            continue
        if reply["msg_type"] == "stream":
            stdout += reply["content"]["text"]
        elif reply["msg_type"] == "execute_reply":
            status = reply["content"]["status"]
        elif reply["msg_type"] == "status":
            idle = reply["content"]["execution_state"] == "idle"
    connection.close()
    return status, stdout


def a_notebook():
    """A lecture notebook to open (the slides fixture until the lectures exist)."""
    paths = notebooks.notebook_paths("notebooks")
    return f"notebooks/{paths[0].name}" if paths else FIXTURE


@pytest.mark.slow
def test_lab_serves_a_notebook_and_runs_its_kernel(tmp_path):
    lab = Lab(tmp_path)
    try:
        lab.wait_ready()
        status, page = lab.request("GET", "/lab")
        assert status == 200 and "JupyterLab" in page, "the JupyterLab front end is not served"
        status, root = lab.request("GET", "/api/contents/")
        names = {item["name"] for item in root["content"]}
        assert {"notebooks", "solutions", "assignments", "course_utils"} <= names, (
            f"JupyterLab's root is not the course (it shows {sorted(names)}): a folder given as "
            "an argument to jupyter lab replaces --notebook-dir; use --ServerApp.root_dir=. "
            "--LabApp.default_url=/lab/tree/notebooks"
        )
        path = a_notebook()
        status, model = lab.request("GET", f"/api/contents/{path}?content=1")
        assert status == 200, model
        assert model["type"] == "notebook" and model["content"]["cells"]
        body = {"path": path, "type": "notebook", "kernel": {"name": "python3"}}
        status, session = lab.request("POST", "/api/sessions", body)
        assert status == 201, session
        code = "import course_utils, sys; print(course_utils.__file__); print(sys.executable)"
        result = asyncio.run(asyncio.wait_for(execute(lab, session["kernel"]["id"], code), 90))
        assert result[0] == "ok", result
        module_file, kernel_python = result[1].split()
        # The kernel is the course's environment, with course_utils from this checkout.
        assert pathlib.Path(module_file).is_relative_to(ROOT)
        assert pathlib.Path(kernel_python).parent == pathlib.Path(sys.executable).parent
        assert lab.request("DELETE", f"/api/sessions/{session['id']}")[0] == 204
    finally:
        lab.stop()
    assert lab.process.returncode is not None
