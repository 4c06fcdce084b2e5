"""The guard's rules for paths: what no code in the kernel may open, and where it may write.

Split out of :mod:`course_tools.grading.guard`, whose audit hook calls the rule for every event
in :data:`PATH_EVENTS`, whoever makes the call. :func:`make_path_rule` builds the rule as a
closure, like every helper of the hook, so its state (the folders) lives in closure cells that
only the hook references. No path event may name a hidden path; nothing outside the writable
folders can be written; without the sandbox's namespaces (``readable`` set), nothing outside the
readable folders can be opened.
"""

import os

PATH_EVENTS = frozenset(
    {
        "open",
        "os.listdir",
        "os.scandir",
        "os.rename",
        "os.remove",
        "os.rmdir",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.truncate",
        "os.utime",
        "os.link",
        "os.symlink",
        "shutil.rmtree",
        "shutil.copyfile",
        "shutil.move",
        "sqlite3.connect",
    }
)
# Which path arguments an event writes (the others are only read, or only checked as hidden).
WRITTEN_ARGUMENTS = {
    "os.listdir": (),
    "os.scandir": (),
    "os.rename": (0, 1),
    "shutil.move": (0, 1),
    "shutil.copyfile": (1,),
    "os.link": (1,),
    "os.symlink": (1,),
}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def make_path_rule(config, deny):
    """The guard's rule for one path event, ``on_path(event, args)``; ``deny(what)`` refuses."""
    _type, _str, _bytes, _len = type, str, bytes, len
    type_dict, realpath = type.__getattribute__, os.path.realpath
    hidden = tuple(path.rstrip("/") + "/" for path in config["hidden"])
    readable = config.get("readable")
    readable = None if readable is None else tuple(p.rstrip("/") + "/" for p in readable)
    # Folders whose names may be listed though their files are not all readable (the import
    # system lists each folder of sys.path).
    listable = frozenset(path.rstrip("/") + "/" for path in config.get("listable", ()))
    writable = tuple(path.rstrip("/") + "/" for path in config["writable"])
    # The tables as closure cells: a module global can be rebound through the module's dict.
    written_arguments, write_flags = dict(WRITTEN_ARGUMENTS), WRITE_FLAGS

    def path_of(value):
        """A path argument as text, without running submission code to convert it."""
        kind = _type(value)
        if kind is _str:
            return value
        if kind is _bytes:
            return value.decode("utf-8", "replace")
        if kind is int or value is None:
            return None
        if type_dict(kind, "__dict__").get("__module__") == "pathlib":
            return _str(value)
        deny("a path given by a custom object")

    def on_path(event, args):
        """Hidden paths cannot be read; nothing outside the writable folders can be written."""
        arguments = args[:1] if event == "open" else args[:2]
        written = written_arguments.get(event, (0,))
        if event == "open" and not opens_for_writing(args):
            written = ()
        for position, argument in enumerate(arguments):
            path = path_of(argument)
            if path is None:
                continue
            full = realpath(path) + "/"
            listing = event in ("os.listdir", "os.scandir") and full in listable
            outside = readable is not None and not full.startswith(readable) and not listing
            if full.startswith(hidden) or outside:
                deny(f"access to {path}")
            if position in written and not full.startswith(writable):
                deny(f"writing to {path}")

    def opens_for_writing(args):
        """True when an ``open`` event asks for writing."""
        mode, flags = (args[1], args[2]) if _len(args) >= 3 else (None, 0)
        if _type(mode) is _str and any(letter in mode for letter in "wax+"):
            return True
        return _type(flags) is int and bool(flags & write_flags)

    return on_path
