"""ECHO: a no-cost check of an application's registration and parameter mapping.

Each received IN/INOUT value is returned in the declared OUT parameter ``<NAME>_OUT``
(converted to that parameter's type), and ``SESSION_INFO`` receives the session values as JSON.
Nothing is sent upstream, so an administrator can check a new registration before spending
tokens.
"""

from __future__ import annotations

from .call import Call
from .registry import COMMON, OUT, TEXT, App, Param, register


def run(call: Call) -> None:
    """Copy every input to its ``_OUT`` twin and describe the session."""
    for parameter in call.context:
        if parameter.is_input and parameter.name not in ("API_KEY",):
            call.set(f"{parameter.name}_OUT", parameter.value)
    call.set("SESSION_INFO", dict(call.context.session) | {"format": call.context.format.value})


ECHO = register(
    App(
        name="ECHO",
        description="Returns each received value in <NAME>_OUT and the session in SESSION_INFO; "
        "calls nothing upstream.",
        params=(
            *COMMON,
            Param("SESSION_INFO", TEXT, OUT, "The received session values, as JSON.", ext=True),
            Param(
                "<NAME>_OUT", TEXT, OUT,
                "Receives the value of the IN/INOUT parameter <NAME>, in this parameter's type.",
                pattern=True, ext=True,
            ),
        ),
        log_setting="EchoLogLevel",
        run=run,
        calls_upstream=False,
    )
)
