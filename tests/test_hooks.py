"""schema/hooks.py runs the extensions' hooks as Strawberry's own context managers do: the same
order in and out, the same exception seen by each hook, the same one (or none) coming out."""

from __future__ import annotations

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import ExecutingContextManager, OperationContextManager

from sessiongraph.schema.hooks import ExtensionsRunner


class Swallowed(Exception):
    pass


class Replaced(Exception):
    pass


def extensions(log: list[str], *, swallow: str | None = None, replace: str | None = None) -> list[SchemaExtension]:
    """One extension of each kind of hook Strawberry takes: a generator, an async generator, a
    coroutine, a plain function, and none."""

    def seen(name: str, error: BaseException) -> None:
        log.append(f"{name} saw {type(error).__name__}")
        if swallow == name:
            return
        if replace == name:
            raise Replaced(name) from error
        raise error

    class Generator(SchemaExtension):
        def on_execute(self):
            log.append("generator in")
            try:
                yield
            except Exception as error:
                seen("generator", error)
            log.append("generator out")

        def on_operation(self):
            log.append("generator operation in")
            yield
            log.append("generator operation out")

    class AsyncGenerator(SchemaExtension):
        async def on_execute(self):
            log.append("async generator in")
            try:
                yield
            except Exception as error:
                seen("async generator", error)
            log.append("async generator out")

    class Coroutine(SchemaExtension):
        async def on_execute(self):
            log.append("coroutine")

    class Call(SchemaExtension):
        def on_execute(self):
            log.append("call")

    class Nothing(SchemaExtension):
        pass

    return [Generator(), Coroutine(), AsyncGenerator(), Call(), Nothing(), Generator()]


async def run(step, log: list[str], raises: BaseException | None) -> str:
    try:
        async with step:
            log.append("body")
            if raises is not None:
                raise raises
    except Exception as error:
        return f"raised {type(error).__name__}"
    return "returned"


@pytest.mark.parametrize(("raises", "swallow", "replace"), [
    (None, None, None),
    (Swallowed(), None, None),
    (Swallowed(), "async generator", None),
    (Swallowed(), "generator", None),
    (Swallowed(), None, "async generator"),
    (Swallowed(), None, "generator"),
])
async def test_the_hooks_run_as_strawberry_runs_them(raises, swallow, replace):
    theirs: list[str] = []
    their_outcome = await run(ExecutingContextManager(extensions(theirs, swallow=swallow, replace=replace)),
                              theirs, raises)
    ours: list[str] = []
    runner = ExtensionsRunner(execution_context=None,  # type: ignore[arg-type]  # no hook here reads it
                              extensions=extensions(ours, swallow=swallow, replace=replace))
    our_outcome = await run(runner.executing(), ours, raises)

    assert (ours, our_outcome) == (theirs, their_outcome)
    assert "body" in ours


async def test_only_the_step_s_own_hooks_run():
    theirs: list[str] = []
    await run(OperationContextManager(extensions(theirs)), theirs, None)
    ours: list[str] = []
    await run(ExtensionsRunner(execution_context=None, extensions=extensions(ours)).operation(),  # type: ignore[arg-type]
              ours, None)

    assert ours == theirs == ["generator operation in", "generator operation in", "body",
                              "generator operation out", "generator operation out"]


async def test_a_hook_that_fails_on_the_way_in_ends_those_entered_before_it():
    log: list[str] = []

    class Refuses(SchemaExtension):
        def on_execute(self):
            raise Replaced("refused")
            yield  # a generator, as the schema's hooks are

    first = extensions(log)[0]
    step = ExtensionsRunner(execution_context=None, extensions=[first, Refuses()]).executing()  # type: ignore[arg-type]

    with pytest.raises(Replaced):
        async with step:
            log.append("body")

    assert log == ["generator in", "generator saw Replaced"]
