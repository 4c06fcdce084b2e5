"""pytest plugin for the sandboxed nbval run: per-cell results, written where the kernel can't.

Loaded with ``-p course_tools.grading.plugin`` next to nbval. It runs in the pytest process (root
in the sandbox), never in the kernel, and adds what nbval alone does not give a grader:

* the kernel's ``execute_reply`` status of each cell: a cell only passes cleanly when the kernel
  itself reports success (nbval looks at displayed errors only, which ``showtraceback`` hides);
* kernel death noticed within a second instead of after the cell timeout;
* a cap on the output of one cell (the kernel is stopped past it);
* stderr (warnings) ignored when outputs are compared: checks print their verdict to stdout;
* after a timed-out cell that could be interrupted, the following cells still run;
* the records of check and hidden cells (outputs of type ``recording.RECORD_MIME``: what the
  student's functions returned), kept as they came, up to a size limit, for the grader to judge;
* a JSON record per cell id, written atomically when the session ends.
"""

import json
import os
import pathlib
import queue
import time

import nbval.kernel
import nbval.plugin
import pytest

from course_utils.checks.recording import RECORD_MIME

POLL_SECONDS = 1.0
ERROR_CHARACTERS = 500
RECORDED_ROLES = ("check", "hidden")


class GradingStop(Exception):
    """The cell cannot be graded further (kernel dead, output over the limit)."""


class Record:
    """What happened to the cell now running: reply status, error, output size, reason."""

    def __init__(self):
        self.status = None
        self.error = None
        self.output_bytes = 0
        self.record_bytes = 0
        self.reason = None


class GradedKernel(nbval.kernel.RunningKernel):
    """nbval's kernel, watching replies, errors and output sizes for the grader."""

    output_limit = 3_000_000
    record_limit = 64_000_000
    record = None

    def await_reply(self, msg_id, timeout=None):
        """Wait for the reply, noticing a dead kernel; remember the reply's status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = POLL_SECONDS if deadline is None else deadline - time.monotonic()
            try:
                message = self.get_message("shell", timeout=max(0.01, min(POLL_SECONDS, remaining)))
            except queue.Empty:
                if not self.is_alive():
                    self._stop_for("kernel_died", "the kernel died (crash, os._exit or memory)")
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                continue
            if message["parent_header"].get("msg_id") == msg_id:
                if self.record is not None:
                    self.record.status = message["content"].get("status")
                if message["content"].get("status") == "aborted":
                    raise RuntimeError("Kernel aborted execution request")
                return

    def get_message(self, stream, timeout=None):
        """nbval's message reader, counting the output of the running cell."""
        message = super().get_message(stream, timeout=timeout)
        if stream == "iopub" and self.record is not None:
            self._count(message)
        return message

    def _count(self, message):
        """Add a message's size to the cell's output; stop the kernel past the limit."""
        kind, content = message["msg_type"], message["content"]
        if kind == "error" and self.record.error is None:
            self.record.error = f"{content.get('ename')}: {content.get('evalue')}"[
                :ERROR_CHARACTERS
            ]
        if kind in ("stream", "display_data", "execute_result", "error", "update_display_data"):
            size = len(json.dumps(content, default=str))
            if RECORD_MIME in (content.get("data") or {}):
                # Records have their own, larger limit: a model's weights are not a flood.
                self.record.record_bytes += size
                return
            self.record.output_bytes += size
            if self.record.output_bytes > self.output_limit:
                limit = f"{self.output_limit / 1e6:g} MB"
                self._stop_for("output_limit", f"the cell printed more than {limit}")

    def _stop_for(self, reason, message):
        """Record why grading of this notebook stops, stop the kernel and fail the cell."""
        if self.record is not None:
            self.record.reason = reason
        if self.is_alive():
            self.km.shutdown_kernel(now=True)
        raise GradingStop(message)


def pytest_addoption(parser):
    """The grader's options."""
    group = parser.getgroup("course grader")
    group.addoption("--grader-results", help="where to write the per-cell results (JSON)")
    group.addoption("--grader-output-limit", type=int, default=3_000_000, help="bytes per cell")
    group.addoption("--grader-record-limit", type=int, default=64_000_000, help="record bytes")


def pytest_configure(config):
    """Swap in the watching kernel and make comparisons ignore stderr."""
    GradedKernel.output_limit = config.option.grader_output_limit
    GradedKernel.record_limit = config.option.grader_record_limit
    nbval.plugin.RunningKernel = GradedKernel
    nbval.plugin.coalesce_streams = _coalesce_stdout(nbval.plugin.coalesce_streams)
    config._grader_results = {}


def _coalesce_stdout(coalesce):
    """nbval's stream merging, dropping stderr: warnings must not fail a correct answer."""

    def coalesce_without_stderr(outputs):
        """Merge streams as nbval does, without stderr."""
        kept = [
            output
            for output in outputs or []
            if not (output.get("output_type") == "stream" and output.get("name") == "stderr")
        ]
        return coalesce(kept)

    return coalesce_without_stderr


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Watch the kernel while one cell runs."""
    kernel = getattr(item.parent, "kernel", None)
    record = Record()
    if kernel is not None:
        kernel.record = record
    item._grader_record = record
    yield
    if kernel is not None:
        kernel.record = None
        # nbval fails every later cell after a timeout; a kernel that answered the interrupt
        # is fine to go on with, so later exercises are still graded.
        if item.parent.timed_out and kernel.is_alive():
            record.reason = record.reason or "timeout"
            item.parent.timed_out = False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Record each cell's outcome with the kernel's reply status."""
    outcome = yield
    report = outcome.get_result()
    cell = getattr(item, "cell", None)
    if cell is None or not (report.when == "call" or report.failed or report.skipped):
        return
    record = getattr(item, "_grader_record", None) or Record()
    passed = report.passed and not hasattr(report, "wasxfail")
    message = str(getattr(call.excinfo, "value", "") or "")[:ERROR_CHARACTERS]
    if "Timeout" in message and record.reason is None:
        record.reason = "timeout"
    if "Kernel dead" in message and record.reason is None:
        record.reason = "kernel_dead"
    result = {
        "outcome": "passed" if passed else ("skipped" if report.skipped else "failed"),
        "status": record.status,
        "error": record.error,
        "reason": record.reason,
        "message": message.splitlines()[0] if message else None,
    }
    role = cell.get("metadata", {}).get("course", {}).get("role")
    if role in RECORDED_ROLES:
        result["records"] = _records(item, record)
        result["records_over_limit"] = record.record_bytes > GradedKernel.record_limit
    item.config._grader_results[cell.get("id")] = result


def _records(item, record):
    """The records the cell showed, as they came (none when over the size limit)."""
    if record.record_bytes > GradedKernel.record_limit:
        return []
    return [
        output["data"][RECORD_MIME]
        for output in getattr(item, "test_outputs", None) or []
        if output.get("output_type") in ("display_data", "execute_result")
        and RECORD_MIME in (output.get("data") or {})
    ]


def pytest_sessionfinish(session):
    """Write the results atomically: the grader reads them only once the sandbox is gone."""
    path = session.config.option.grader_results
    if not path:
        return
    path = pathlib.Path(path)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"cells": session.config._grader_results}, indent=1))
    os.replace(partial, path)
