"""The schema's extensions, run through each step of a request without a context manager per hook.

Strawberry runs an extension's hook for a step (operation, parsing, validation, execution)
through a context manager it makes for every hook of every request: it looks the hook up
on the class, asks `inspect` what kind of function it is, decorates it with
`contextlib.contextmanager` (which copies the function's metadata) and enters it on an
exit stack. For a dashboard request (cProfile) that was 44 hook lookups (eleven
extensions, four steps) and 12 such context managers; measured under callgrind, seven
extensions that do nothing cost a dashboard request 0.39 M instructions.

`ExtensionsRunner` does the same steps with what is known per class kept per class, and
each hook's generator resumed directly. Hooks are entered in the extensions' order and
left in reverse, each seeing the exception the step raised, or the one a hook inside it
raised instead, or none once a hook inside it swallowed it; the step's caller sees it
whatever the hooks did, unless one raised another (tests/test_hooks.py holds these
equal to Strawberry's). The sync steps (`with`, Strawberry's execute_sync) are left to
Strawberry's own context managers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

# What kind of function a hook is, which decides how it is entered and left.
_GENERATOR, _ASYNC_GENERATOR, _COROUTINE, _CALL = "generator", "async generator", "coroutine", "call"


# Per extension class and hook name, (kind, function), or None for SchemaExtension's own hook.
_HOOKS: dict[tuple[Any, str], tuple[str, Callable[..., Any]] | None] = {}
# Per extension class, whether it has results of its own to add to a response's `extensions`.
_RESULTS: dict[Any, bool] = {}


def _hook(extension_class: type[SchemaExtension], name: str) -> tuple[str, Callable[..., Any]] | None:
    key = (extension_class, name)
    try:
        return _HOOKS[key]
    except KeyError:
        found = _HOOKS[key] = _hook_of(extension_class, name)
        return found


def _hook_of(extension_class: type[SchemaExtension], name: str) -> tuple[str, Callable[..., Any]] | None:
    function = getattr(extension_class, name)
    if function is getattr(SchemaExtension, name):
        return None  # SchemaExtension's own, which does nothing
    if inspect.isgeneratorfunction(function):
        return _GENERATOR, function
    if inspect.isasyncgenfunction(function):
        return _ASYNC_GENERATOR, function
    if inspect.iscoroutinefunction(function):
        return _COROUTINE, function
    if callable(function):
        return _CALL, function
    raise ValueError(f"Hook {name} on {extension_class} must be callable, received {function!r}")


def _results_hook(extension_class: type[SchemaExtension]) -> bool:
    found = _RESULTS.get(extension_class)
    if found is None:
        found = _RESULTS[extension_class] = extension_class.get_results is not SchemaExtension.get_results
    return found


class _Step:
    """One step's hooks, for `async with`; `with` is Strawberry's own context manager."""

    __slots__ = ("_entered", "_extensions", "_strawberry", "_sync")

    def __init__(self, extensions: list[SchemaExtension], strawberry: type[ExtensionContextManagerBase]) -> None:
        self._extensions = extensions
        self._strawberry = strawberry
        self._entered: list[tuple[Any, bool]] = []  # each hook's generator, and whether it is async
        self._sync: ExtensionContextManagerBase | None = None

    async def __aenter__(self) -> None:
        name = self._strawberry.HOOK_NAME
        try:
            for extension in self._extensions:
                hook = _hook(type(extension), name)
                if hook is None:
                    continue
                kind, function = hook
                if kind is _GENERATOR:
                    generator = function(extension)
                    next(generator)
                    self._entered.append((generator, False))
                elif kind is _ASYNC_GENERATOR:
                    generator = function(extension)
                    await generator.__anext__()
                    self._entered.append((generator, True))
                elif kind is _COROUTINE:
                    await function(extension)
                else:
                    function(extension)
        except BaseException as error:
            # The hooks entered so far end with it, as they would inside the step.
            await self._leave(error)
            raise

    async def __aexit__(self, exc_type: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> bool:
        return await self._leave(error)

    async def _leave(self, error: BaseException | None) -> bool:
        """Resumes the entered hooks in reverse with what is being raised; raises what a hook raised
        instead of `error`."""
        pending = error
        while self._entered:
            generator, is_async = self._entered.pop()
            try:
                if pending is None:
                    await generator.__anext__() if is_async else next(generator)
                else:
                    await generator.athrow(pending) if is_async else generator.throw(pending)
            except (StopIteration, StopAsyncIteration):
                pending = None  # ended: after a throw, it swallowed the exception
            except BaseException as raised:  # what it raised goes on to the hooks outside it
                pending = raised
            else:
                pending = RuntimeError(f"the hook {generator!r} yielded more than once")
        if pending is not None and pending is not error:
            raise pending
        # Strawberry's own step does not return its exit stack's answer: a hook that swallowed the
        # exception ended it for the hooks outside, not for the step's caller.
        return False

    def __enter__(self) -> None:
        self._sync = self._strawberry(self._extensions)
        self._sync.__enter__()

    def __exit__(self, exc_type: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        assert self._sync is not None
        self._sync.__exit__(exc_type, error, traceback)


class ExtensionsRunner(SchemaExtensionsRunner):
    """Strawberry's runner, with the steps above and results asked only of extensions that have some."""

    def operation(self) -> Any:
        return _Step(self.extensions, OperationContextManager)

    def validation(self) -> Any:
        return _Step(self.extensions, ValidationContextManager)

    def parsing(self) -> Any:
        return _Step(self.extensions, ParsingContextManager)

    def executing(self) -> Any:
        return _Step(self.extensions, ExecutingContextManager)

    async def get_extensions_results(self, ctx: Any) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for extension in self.extensions:
            if _results_hook(type(extension)):
                results = extension.get_results()
                data.update(await results if inspect.isawaitable(results) else results)
        data.update(ctx.extensions_results)
        return data
