"""The grader's guard inside the kernel: an audit hook installed before any submission code runs.

A kernel that has run a student's code is the student's: every later output could be forged.
The guard narrows what that code can do, from a place it cannot reach (an audit hook cannot be
removed, and all of the guard's state lives in closure cells that only the hook references):

* instructor cells run exactly as written: each cell IPython compiles is recognised by its file
  name (ipykernel names a cell's file after a hash of its raw source) and its transformed source
  must hash to what the grader expects, so input transformers cannot rewrite a check; an unknown
  or nested cell, or any mismatch, fails that cell and every later one;
* when a check or hidden cell is compiled (after IPython's input transformers, before its AST
  transformers and its execution), what submission code changed is put back: module
  attributes, sys.modules entries, the notebook's module names (``conv``, ``np``), and
  submission-made callables in IPython's transformers, event callbacks and object attributes;
* modules refuse attribute assignment from submission code (``checks.close = ...``);
* submission code may not use the primitives that break out of the rules above: frames and
  code objects, gc introspection, ctypes, tracing, threads, processes, signals, sockets,
  ``exec``/``eval``/``compile``, reading hidden paths or writing outside its folders;
* without the sandbox's namespaces (``readable`` set), no code in the kernel may open anything
  outside the system, the interpreter, the course and the kernel's own folders (these path
  rules are in :mod:`course_tools.grading.guard_paths`).

The verdict does not depend on the guard: checks only record, and the grader judges elsewhere.
The guard narrows what a submission can reach: its files, the grader's, the kernel's own state.

"Submission code" is code whose file is not trusted: trusted files are the interpreter's and
the environment's libraries, ``course_utils`` and the instructor's cells.
"""

import _thread
import contextlib
import functools
import hashlib
import sys
import types

from course_tools.grading import guard_paths

# The guard's own files: audit events its code raises while it judges one are not judged again.
GUARD_FILES = (__file__, guard_paths.__file__)
SETATTR_EVENT = "course.grader.setattr"
# Events denied when submission code is anywhere on the stack (it may call through a library).
DENY_ON_STACK = frozenset(
    {
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "sys._current_frames",
        "sys.settrace",
        "sys.setprofile",
        "sys.addaudithook",
        "_thread.start_new_thread",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "pty.spawn",
        "os.kill",
        "os.killpg",
        "signal.pthread_kill",
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.getaddrinfo",
    }
)
# Events denied when submission code itself makes the call.
DENY_FROM_CALLER = frozenset(
    {
        "sys._getframe",
        "object.__getattr__",
        "object.__setattr__",
        "object.__delattr__",
        "function.__new__",
        "code.__new__",
        "marshal.loads",
        "marshal.load",
        "pickle.find_class",
    }
)
TRANSFORMER_TRAITS = ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")
# Library code that exists to patch other code: treated as the submission when it calls.
PATCHERS = ("unittest/mock.py",)


class GuardError(ValueError):
    """An operation the grader refuses to submission code (a ValueError so IPython shows it)."""


class GuardedModule(types.ModuleType):
    """A module whose attributes submission code may not rebind: the audit hook decides."""

    def __setattr__(self, name, value):
        """Ask the guard, then set."""
        sys.audit(SETATTR_EVENT, self, name)
        super().__setattr__(name, value)

    def __delattr__(self, name):
        """Ask the guard, then delete."""
        sys.audit(SETATTR_EVENT, self, name)
        super().__delattr__(name)


def transformed_hash(source):
    """The hash the guard compares: SHA-256 of the cell as IPython compiles it."""
    if isinstance(source, str):
        source = source.encode("utf-8")
    return hashlib.sha256(source).hexdigest()


def install(config):
    """Install the guard. ``config``: cells, trusted and hidden paths, writable folders."""
    sys.addaudithook(_make_hook(config))


def _make_hook(config):  # noqa: C901 - one closure on purpose: its cells are unreachable state
    """Build the audit hook. Every helper is a closure so no module global can redirect it."""
    _type, _str, _bytes, _len = type, str, bytes, len
    function_type, module_type, guarded_type = types.FunctionType, types.ModuleType, GuardedModule
    partial_type, missing, suppress = functools.partial, object(), contextlib.suppress
    object_dict = object.__getattribute__
    type_dict = type.__getattribute__
    getframe, get_ident = sys._getframe, _thread.get_ident
    modules = sys.modules
    cells = {name: (info["role"], info.get("sha256")) for name, info in config["cells"].items()}
    cell_dir = config["cell_dir"].rstrip("/") + "/"
    trusted_prefixes = tuple(path.rstrip("/") + "/" for path in config["trusted"])
    trusted_cache, answer_files, instructor_files = {}, set(), set()
    module_snapshots, class_snapshots, user_modules, ipython = {}, {}, {}, {}
    poisoned, depth = [], {}
    # The tables as closure cells: a module global can be rebound through the module's dict.
    deny_on_stack, deny_from_caller = DENY_ON_STACK, DENY_FROM_CALLER
    path_events, setattr_event = guard_paths.PATH_EVENTS, SETATTR_EVENT
    guard_files, patchers, transformer_traits = GUARD_FILES, PATCHERS, TRANSFORMER_TRAITS

    def untrusted_file(filename):
        """True for code the submission wrote (or that the guard cannot vouch for)."""
        known = trusted_cache.get(filename)
        if known is None:
            if filename.startswith(cell_dir):
                known = filename in instructor_files
            else:
                known = filename.startswith(trusted_prefixes) or filename.startswith("<frozen ")
                known = known and not filename.endswith(patchers)
            trusted_cache[filename] = known
        return not known

    def untrusted_frame(frame):
        """True when ``frame`` runs submission code."""
        return frame is not None and untrusted_file(frame.f_code.co_filename)

    def untrusted_on_stack(frame):
        """True when submission code is anywhere on the current thread's stack."""
        while frame is not None:
            if untrusted_file(frame.f_code.co_filename):
                return True
            frame = frame.f_back
        return False

    def deny(what):
        """Refuse the operation with a one-line reason."""
        raise GuardError(f"grader: {what} is not allowed in a graded notebook.")

    def made_by_submission(value):
        """True when ``value`` is a callable (or wrapper of one) defined in submission code."""
        for _ in range(4):
            kind = _type(value)
            if kind is function_type:
                return untrusted_file(value.__code__.co_filename)
            if kind in (staticmethod, classmethod, types.MethodType):
                value = value.__func__
            elif kind is property:
                value = value.fget
            elif kind is partial_type:
                value = value.func
            else:
                # A class's own __dict__, read without its metaclass: no submission code runs.
                return type_dict(kind, "__dict__").get("__module__") == "__main__"
        return True

    def snapshot():
        """Remember (and guard) every module not seen before, with its classes."""
        for name, module in list(modules.items()):
            if _type(name) is not _str or name in module_snapshots or name == "__main__":
                continue
            if _type(module) is module_type:
                # A module that refuses a new class is still remembered and restored.
                with suppress(TypeError):
                    module.__class__ = guarded_type
            elif _type(module) is not guarded_type:
                continue
            if object_dict(module, "__dict__") is ipython.get("user_ns"):
                continue
            values = dict(object_dict(module, "__dict__"))
            module_snapshots[name] = (module, values)
            for value in values.values():
                if issubclass(_type(value), type) and id(value) not in class_snapshots:
                    class_snapshots[id(value)] = (value, dict(type_dict(value, "__dict__")))
        if not ipython:
            remember_ipython()
        namespace = ipython.get("user_ns")
        if namespace is not None:
            for name, value in list(namespace.items()):
                kind = _type(value)
                if _type(name) is _str and name not in user_modules and kind is guarded_type:
                    user_modules[name] = value

    def remember_ipython():
        """Find IPython's objects while only instructor code has run."""
        interactive = modules.get("IPython.core.interactiveshell")
        shell = interactive and type_dict(interactive.InteractiveShell, "_instance")
        if shell is None:
            return
        kernel = getattr(shell, "kernel", None)
        ipython["user_ns"] = shell.user_ns
        ipython["traits"] = object_dict(shell, "__dict__").get("_trait_values", {})
        ipython["lists"] = {name: ipython["traits"].get(name) for name in transformer_traits}
        ipython["callbacks"] = shell.events.callbacks
        items = [shell, shell.events, shell.displayhook, shell.display_pub, sys.stdout, sys.stderr]
        items += [kernel, getattr(kernel, "session", None)]
        ipython["objects"] = [
            (item, dict(object_dict(item, "__dict__")))
            for item in items
            if item is not None and hasattr(item, "__dict__")
        ]
        handlers = getattr(kernel, "shell_handlers", None)
        ipython["handlers"] = (handlers, dict(handlers)) if _type(handlers) is dict else None

    def restore():
        """Undo what submission code changed before a check or hidden cell runs."""
        for name, (module, values) in module_snapshots.items():
            if modules.get(name) is not module:
                modules[name] = module
            restore_dict(object_dict(module, "__dict__"), values, setter=None)
        for cls, values in class_snapshots.values():
            restore_dict(type_dict(cls, "__dict__"), values, setter=cls)
        namespace = ipython.get("user_ns")
        if namespace is not None:
            for name, module in user_modules.items():
                if namespace.get(name) is not module:
                    namespace[name] = module
        for item, values in ipython.get("objects", ()):
            restore_dict(object_dict(item, "__dict__"), values, setter=None)
        restore_ipython_lists()

    def restore_ipython_lists():
        """Drop submission-made transformers, AST transformers, event callbacks and handlers."""
        traits = ipython.get("traits", {})
        for name, original in ipython.get("lists", {}).items():
            if _type(traits.get(name)) is not list:
                traits[name] = original
            current = traits[name]
            if _type(current) is list:
                current[:] = [item for item in current if not made_by_submission(item)]
        for callbacks in ipython.get("callbacks", {}).values():
            if _type(callbacks) is list:
                callbacks[:] = [item for item in callbacks if not made_by_submission(item)]
        if ipython.get("handlers"):
            handlers, values = ipython["handlers"]
            handlers.clear()
            handlers.update(values)

    def restore_dict(current, values, setter):
        """Put back entries that submission code replaced or added."""
        for key, value in list(current.items()):
            if _type(key) is not _str:
                continue
            original = values.get(key, missing)
            if value is original or not made_by_submission(value):
                continue
            try:
                if setter is None and original is missing:
                    del current[key]
                elif setter is None:
                    current[key] = original
                elif original is missing:
                    type.__delattr__(setter, key)
                else:
                    type.__setattr__(setter, key, original)
            except (TypeError, AttributeError, KeyError):
                poisoned.append(key)

    def on_cell_compile(source, filename, frame):
        """A cell is about to run: check it is the cell the grader sent, unchanged."""
        if poisoned:
            deny("running more cells after the notebook was tampered with")
        if untrusted_on_stack(frame):
            poisoned.append(filename)
            deny("running a cell from inside a cell")
        role, expected = cells.get(filename[_len(cell_dir) :], (None, None))
        if role is None:
            poisoned.append(filename)
            deny("running a cell the grader did not send")
        if role != "answer" and expected is not None and transformed_hash(source) != expected:
            poisoned.append(filename)
            deny("changing how later cells run (an input transformer)")
        if role == "answer":
            answer_files.add(filename)
        elif filename not in answer_files:
            instructor_files.add(filename)
            trusted_cache.pop(filename, None)
        snapshot()
        if role in ("check", "hidden"):
            restore()

    def on_compile(args, frame):
        """Cells are checked; other compilation is denied to submission code."""
        source, filename = args
        if _type(filename) is _str and filename.startswith(cell_dir):
            if _type(source) in (_str, _bytes):
                on_cell_compile(source, filename, frame)
            elif untrusted_frame(frame):
                deny("compiling code")
        elif untrusted_frame(frame):
            deny("exec, eval and compile")

    def on_exec(args, frame):
        """Submission code may run its own cells' code, not code objects from elsewhere."""
        filename = getattr(args[0], "co_filename", None)
        if untrusted_frame(frame) and filename not in answer_files:
            deny("exec of code objects")

    def on_setattr(args, frame):
        """Modules refuse attribute assignment from submission code."""
        caller = frame.f_back if frame is not None else None
        if untrusted_frame(caller):
            deny(f"changing attributes of module {args[0].__name__} ({args[1]})")

    def handle(event, args):
        """Dispatch one audit event."""
        frame = getframe(2)
        if event == "compile":
            on_compile(args, frame)
        elif event == "exec":
            on_exec(args, frame)
        elif event == setattr_event:
            on_setattr(args, frame)
        elif event in path_events:
            on_path(event, args)
        elif event in deny_on_stack or event.startswith("ctypes."):
            if untrusted_on_stack(frame):
                deny(event)
        elif event in deny_from_caller and untrusted_frame(frame):
            deny(event)

    on_path = guard_paths.make_path_rule(config, deny)
    watched = deny_on_stack | deny_from_caller | path_events | {"compile", "exec", setattr_event}

    def hook(event, args):
        """The audit hook: cheap for the events it ignores, re-entrant for its own calls."""
        if event not in watched and not event.startswith("ctypes."):
            return
        ident = get_ident()
        level = depth.get(ident, 0)
        if level >= 2:
            return
        depth[ident] = level + 1
        try:
            # Re-entered from the guard's own calls (frames, code objects): nothing to judge.
            if level == 1 and getframe(1).f_code.co_filename in guard_files:
                return
            handle(event, args)
        finally:
            depth[ident] = level

    return hook
