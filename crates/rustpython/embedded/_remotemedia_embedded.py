"""Set-up that only the `remotemedia` binary's embedded interpreter runs, once, before any node loads.

- `sys.path` becomes exactly the user's `--python-path` directories: the standard library and the
  SDK are frozen into the binary, and nothing from a CPython installation on the machine may
  shadow them or leak in.
- The binary freezes only part of the standard library; importing a module it leaves out says so.
"""

import sys


class LeftOutStdlibFinder:
    """Last on `sys.meta_path`: importing a standard-library module the binary leaves out fails
    with an error that says so, instead of a bare "No module named" that reads like a path problem.

    Last, so a package of the same name on the user's `--python-path` still wins.
    """

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        from _remotemedia_stdlib_left_out import LEFT_OUT

        if fullname in LEFT_OUT:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: the remotemedia binary includes only part of Python's standard "
                f"library, without {fullname!r}; run this node on CPython (runtime_hint \"cpython\") to use it",
                name=fullname,
            )
        return None


def install(python_path):
    """Make `python_path` the whole import path, and say so when a left-out stdlib module is imported.

    (Where `print` goes is the SDK's `remotemedia.engine_api.capture_output`, as in CPython.)
    """
    sys.path[:] = list(python_path)
    sys.meta_path.append(LeftOutStdlibFinder)


def private_method(node, name):
    """`getattr(node, name)`, with the function bound to a private copy of its code object.

    RustPython keeps its adaptive-specialization counters in the code object and writes one on
    every run of an op it cannot specialize (int `%`, say), and every load of a float constant
    updates that constant's reference count. Two nodes of one class on two stage threads would
    write the same cache lines on every loop step and slow each other down by up to half. A copy
    of the code with its own float constants (nested code included) carries its own counters and
    objects; behaviour is unchanged: same bytecode, globals, defaults, closure (so zero-argument
    `super()` still works) and attributes. Anything but a plain function defined for the node's
    class is returned as is.
    """
    import types

    bound = getattr(node, name)
    function = getattr(bound, "__func__", None)
    if type(bound) is not types.MethodType or bound.__self__ is not node or type(function) is not types.FunctionType:
        return bound
    copy = types.FunctionType(_private_code(function.__code__), function.__globals__, function.__name__,
                              function.__defaults__, function.__closure__)
    copy.__kwdefaults__ = function.__kwdefaults__
    copy.__qualname__ = function.__qualname__
    copy.__module__ = function.__module__
    copy.__doc__ = function.__doc__
    copy.__dict__.update(function.__dict__)
    return types.MethodType(copy, node)


def _private_code(code):
    """A copy of `code` with fresh counters and its own constant objects (nested code included)."""
    import types

    return code.replace(co_consts=tuple(_private_constant(constant, types.CodeType) for constant in code.co_consts))


def _private_constant(constant, code_type):
    """An equal constant that is another object, where it is one whose reference count is kept."""
    kind = type(constant)
    if kind is float:
        return float.fromhex(constant.hex())
    if kind is int:
        return constant + 0  # small ints stay the shared cached objects, which cost nothing
    if kind is str and constant:
        return constant.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
    if kind is bytes and constant:
        return bytes(bytearray(constant))
    if kind is tuple:
        return tuple(_private_constant(item, code_type) for item in constant)
    if kind is code_type:
        return _private_code(constant)
    return constant
